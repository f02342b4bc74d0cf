//! The headers a lesson program includes, embedded in the binary and
//! written once to a cache directory, so `xdp-loader build` works from an
//! installed binary without this source tree.
//!
//! Layout of the cache directory (one `-I` for clang):
//!   vmlinux.h, vmlinux_xdp.h, parsing_helpers.h, ...   this project's
//!   bpf/bpf_helpers.h, bpf/bpf_endian.h, ...           libbpf's
//!
//! Its name carries a hash of every header, so a binary with other headers
//! gets a directory of its own and never reads stale ones.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Exit, Failure};

include!(concat!(env!("OUT_DIR"), "/bpf_headers.rs"));

/// Marks a complete directory: written last, after every header.
const COMPLETE: &str = ".complete";

/// Where the headers go: `$XDG_CACHE_HOME/xdp-loader/`, else
/// `~/.cache/xdp-loader/`, else the system's temporary directory.
pub fn cache_root() -> PathBuf {
    let from_env = |var: &str| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(xdg) = from_env("XDG_CACHE_HOME") {
        return xdg.join("xdp-loader");
    }
    if let Some(home) = from_env("HOME") {
        return home.join(".cache").join("xdp-loader");
    }
    std::env::temp_dir().join(format!("xdp-loader-{}", unsafe { libc::getuid() }))
}

/// The include directory for this binary's headers, written if missing.
pub fn include_dir() -> Result<PathBuf, Failure> {
    let root = cache_root();
    let dir = root.join(format!("include-{HEADERS_HASH}"));
    if dir.join(COMPLETE).is_file() {
        return Ok(dir);
    }
    write_headers(&root, &dir).map_err(|err| {
        Failure::new(
            Exit::Fail,
            format!("cannot write the BPF headers to {}: {err}", dir.display()),
        )
        .hint("set XDG_CACHE_HOME to a writable directory")
    })?;
    Ok(dir)
}

/// Writes every header into a private directory, then renames it into
/// place: two builds starting at once never see a half-written one.
fn write_headers(root: &Path, dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(root)?;
    let tmp = root.join(format!(".include-{HEADERS_HASH}.{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(tmp.join("bpf"))?;
    for (name, contents) in PROJECT_HEADERS {
        fs::write(tmp.join(name), contents)?;
    }
    for (name, contents) in libbpf_sys::API_HEADERS {
        fs::write(tmp.join("bpf").join(name), contents)?;
    }
    fs::write(tmp.join(COMPLETE), HEADERS_HASH)?;
    match fs::rename(&tmp, dir) {
        Ok(()) => Ok(()),
        // Another build won the race (or an incomplete leftover is in the
        // way): theirs is as good as ours, unless it is incomplete.
        Err(_) if dir.join(COMPLETE).is_file() => {
            fs::remove_dir_all(&tmp)?;
            Ok(())
        }
        Err(_) => {
            fs::remove_dir_all(dir)?;
            fs::rename(&tmp, dir)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_header_a_lesson_includes_is_embedded() {
        let names: Vec<&str> = PROJECT_HEADERS.iter().map(|(n, _)| *n).collect();
        for needed in [
            "vmlinux.h",
            "vmlinux_xdp.h",
            "xdp_stats_kern.h",
            "parsing_helpers.h",
        ] {
            assert!(names.contains(&needed), "{needed} missing from {names:?}");
        }
        assert!(libbpf_sys::API_HEADERS
            .iter()
            .any(|(n, _)| *n == "bpf_helpers.h"));
    }

    #[test]
    fn headers_are_written_once_and_completely() {
        let root = std::env::temp_dir().join(format!("xdp-headers-test-{}", std::process::id()));
        let dir = root.join("include-x");
        write_headers(&root, &dir).unwrap();
        assert!(dir.join("bpf/bpf_helpers.h").is_file());
        assert!(dir.join("vmlinux.h").is_file());
        assert!(dir.join(COMPLETE).is_file());
        // A second writer finds the directory complete and leaves it.
        write_headers(&root, &dir).unwrap();
        assert!(dir.join("parsing_helpers.h").is_file());
        fs::remove_dir_all(&root).unwrap();
    }
}
