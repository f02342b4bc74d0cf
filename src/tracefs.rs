//! tracefs: where the kernel's tracing files are (the trace pipe that
//! bpf_printk writes to, the tracepoints' descriptions), mounting it when
//! it is not, and reading an event's record layout.

use std::path::{Path, PathBuf};

use crate::error::{errno_text, Exit, Failure};
use crate::fsmount;

/// Where tracefs is mounted on current systems.
const TRACEFS: &str = "/sys/kernel/tracing";
/// Where it appears on older ones, inside debugfs (an automount of tracefs).
const DEBUGFS_TRACING: &str = "/sys/kernel/debug/tracing";
/// `statfs.f_type` of tracefs (linux/magic.h TRACEFS_MAGIC).
const TRACEFS_MAGIC: i64 = 0x74726163;

/// The tracefs directory: /sys/kernel/tracing, else debugfs's tracing/,
/// else tracefs newly mounted at /sys/kernel/tracing (and said so).
///
/// libbpf finds tracepoints in debugfs's tracing/ when that exists, else
/// in /sys/kernel/tracing: this order keeps both in agreement.
pub fn root() -> Result<PathBuf, Failure> {
    let tracefs = Path::new(TRACEFS);
    if fsmount::is_mounted(tracefs, TRACEFS_MAGIC) {
        return Ok(tracefs.to_path_buf());
    }
    let debugfs = Path::new(DEBUGFS_TRACING);
    if debugfs.join("trace_pipe").exists() {
        return Ok(debugfs.to_path_buf());
    }
    if let Err(errno) = fsmount::mount("tracefs", tracefs, "") {
        return Err(Failure::new(
            Exit::Fail,
            format!(
                "tracefs is not mounted at {TRACEFS} and mounting it failed: {}",
                errno_text(errno)
            ),
        )
        .hint(match errno {
            libc::EPERM | libc::EACCES => crate::error::ROOT_HINT,
            // ENODEV: the kernel has no tracefs at all.
            _ => "mount it yourself (mount -t tracefs tracefs /sys/kernel/tracing); the kernel needs CONFIG_TRACING",
        }));
    }
    eprintln!("Note: mounted tracefs at {TRACEFS} (it was not mounted)");
    Ok(tracefs.to_path_buf())
}

/// One field of a tracepoint's record, from its `format` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub offset: usize,
    pub size: usize,
}

/// The fields of `events/GROUP/EVENT/format`, or None when this kernel
/// has no such tracepoint.
pub fn event_fields(root: &Path, group: &str, event: &str) -> Option<Vec<Field>> {
    let text =
        std::fs::read_to_string(root.join("events").join(group).join(event).join("format")).ok()?;
    Some(parse_format(&text))
}

/// Parses lines like `\tfield:int ifindex;\toffset:16;\tsize:4;\tsigned:1;`.
pub fn parse_format(text: &str) -> Vec<Field> {
    text.lines()
        .filter_map(|line| {
            let mut name = None;
            let (mut offset, mut size) = (None, None);
            for part in line.split(';').map(str::trim) {
                if let Some(decl) = part.strip_prefix("field:") {
                    // "unsigned int drops" or "char name[16]": the last word.
                    let last = decl.split_whitespace().last()?;
                    name = Some(last.split('[').next()?.to_string());
                } else if let Some(n) = part.strip_prefix("offset:") {
                    offset = n.parse().ok();
                } else if let Some(n) = part.strip_prefix("size:") {
                    size = n.parse().ok();
                }
            }
            Some(Field {
                name: name?,
                offset: offset?,
                size: size?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXCEPTION: &str = "name: xdp_exception
ID: 1234
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:int prog_id;\toffset:8;\tsize:4;\tsigned:1;
\tfield:u32 act;\toffset:12;\tsize:4;\tsigned:0;
\tfield:unsigned int drops;\toffset:20;\tsize:4;\tsigned:0;
\tfield:char comm[16];\toffset:24;\tsize:16;\tsigned:0;

print fmt: \"prog_id=%d action=%s ifindex=%d\", REC->prog_id";

    #[test]
    fn reads_names_offsets_and_sizes() {
        let fields = parse_format(EXCEPTION);
        let find = |name: &str| fields.iter().find(|f| f.name == name).cloned();
        assert_eq!(fields.len(), 6);
        assert_eq!(
            find("prog_id"),
            Some(Field {
                name: "prog_id".into(),
                offset: 8,
                size: 4
            })
        );
        assert_eq!(find("drops").map(|f| f.offset), Some(20));
        assert_eq!(find("comm").map(|f| f.size), Some(16));
    }

    #[test]
    fn lines_that_are_not_fields_are_skipped() {
        assert!(parse_format("name: x\nprint fmt: \"%d\"\n").is_empty());
    }
}
