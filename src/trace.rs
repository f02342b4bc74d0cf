//! `xdp-loader trace`: the bpf_printk() lines of the kernel's trace pipe
//! (the C tutorial's tracing03 `trace_read`).
//!
//! bpf_printk() writes into the one trace buffer of the whole machine;
//! /sys/kernel/tracing/trace_pipe hands each line out once, to one reader,
//! blocking until there is one. A line looks like
//!
//! ```text
//!     ping-4242    [001] ..s21  8123.456789: bpf_trace_printk: src: 2199023255554, dst: ...
//! ```
//!
//! The xdp_printk lesson program prints MAC addresses packed into numbers
//! (the tutorial's encoding); this reader unpacks them.
//!
//! Lines nobody read stay in the buffer, so a reader would first see old
//! ones (from yesterday's session, or from another interface). `trace`
//! writes a marker line into the buffer (through `trace_marker`) when it
//! starts and shows only what comes after it; `--old` shows everything.

use std::io::{BufRead, BufReader, Write};

use crate::cli::TraceArgs;
use crate::error::{Exit, Failure};
use crate::privilege;
use crate::tracefs;

/// What separates the line's prefix from the program's own text.
const PRINTK_MARK: &str = ": bpf_trace_printk: ";

pub fn run(args: &TraceArgs) -> anyhow::Result<()> {
    privilege::require("xdp-loader trace", privilege::BPF)?;
    let root = tracefs::root()?;
    let pipe = root.join("trace_pipe");
    let file = std::fs::File::open(&pipe)
        .map_err(|e| Failure::new(Exit::Fail, format!("cannot open {}: {e}", pipe.display())))?;
    let tracing_off =
        std::fs::read_to_string(root.join("tracing_on")).is_ok_and(|on| on.trim() == "0");
    if tracing_off {
        eprintln!(
            "Note: tracing is switched off, so bpf_printk lines are not recorded; \
             switch it on with: echo 1 > {}",
            root.join("tracing_on").display()
        );
    }
    // Without a marker in the buffer there is no telling old from new.
    let mut marker = match args.old || tracing_off {
        true => None,
        false => write_marker(&root),
    };
    eprintln!(
        "Reading bpf_printk lines from {} (Ctrl-C to stop)",
        pipe.display()
    );

    let mut printed = 0u64;
    let stdout = std::io::stdout();
    for line in BufReader::new(file).lines() {
        let line =
            line.map_err(|e| Failure::new(Exit::Fail, format!("reading {}: {e}", pipe.display())))?;
        if let Some(mark) = &marker {
            // Everything up to our marker was written before we started.
            if line.ends_with(mark.as_str()) {
                marker = None;
            }
            continue;
        }
        let shown = match args.raw {
            true => Some(line),
            false => decode_line(&line),
        };
        let Some(shown) = shown else {
            continue;
        };
        let mut out = stdout.lock();
        // A closed pipe (`xdp-loader trace | head`) ends the command quietly.
        if writeln!(out, "{shown}").and_then(|()| out.flush()).is_err() {
            return Ok(());
        }
        printed += 1;
        if args.count.is_some_and(|count| printed >= count) {
            return Ok(());
        }
    }
    Ok(())
}

/// Writes a line unique to this process into the trace buffer; returns
/// its text (None if the buffer takes no markers).
fn write_marker(root: &std::path::Path) -> Option<String> {
    let text = format!("xdp-loader trace: start of pid {}", std::process::id());
    std::fs::OpenOptions::new()
        .write(true)
        .open(root.join("trace_marker"))
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .ok()?;
    Some(text)
}

/// A bpf_printk line made readable: the task, CPU and time, then the
/// program's message with xdp_printk's numbers decoded. None for lines
/// that other tracers wrote.
pub fn decode_line(line: &str) -> Option<String> {
    let (prefix, message) = line.split_once(PRINTK_MARK)?;
    // "comm-pid [cpu] flags time": drop the flags, which few readers need.
    let words: Vec<&str> = prefix.split_whitespace().collect();
    let prefix = match words.as_slice() {
        [task @ .., cpu, _flags, time] if cpu.starts_with('[') => {
            format!("{} {cpu} {time}", task.join(" "))
        }
        _ => prefix.trim().to_string(),
    };
    Some(format!("{prefix}: {}", decode_message(message.trim_end())))
}

/// `src: N, dst: N, proto: P` (xdp_printk, the tutorial's tracing03) →
/// `src: aa:bb:cc:dd:ee:ff dst: ... proto: 0x86dd (IPv6)`. Anything
/// else is returned as it is.
pub fn decode_message(message: &str) -> String {
    match parse_xdp_printk(message) {
        Some(XdpPrintk { src, dst, proto }) => format!(
            "src: {} dst: {} proto: {proto:#06x} ({})",
            mac_from_u64(src),
            mac_from_u64(dst),
            ethertype_name(proto)
        ),
        None => message.to_string(),
    }
}

/// The numbers of one xdp_printk line, as printed (MACs still packed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XdpPrintk {
    pub src: u64,
    pub dst: u64,
    pub proto: u16,
}

/// `src: N, dst: N, proto: P`, or None for any other text.
pub fn parse_xdp_printk(message: &str) -> Option<XdpPrintk> {
    let rest = message.strip_prefix("src: ")?;
    let (src, rest) = rest.split_once(", dst: ")?;
    let (dst, proto) = rest.split_once(", proto: ")?;
    Some(XdpPrintk {
        src: src.parse().ok()?,
        dst: dst.parse().ok()?,
        proto: proto.trim().parse().ok()?,
    })
}

/// The program's own text of a bpf_printk line (None for other tracers').
pub fn printk_message(line: &str) -> Option<&str> {
    line.split_once(PRINTK_MARK).map(|(_, m)| m.trim_end())
}

/// The tutorial's `ether_addr_to_u64`: byte 0 of the MAC in the lowest byte.
pub fn mac_to_u64(mac: [u8; 6]) -> u64 {
    let mut bytes = [0; 8];
    bytes[..6].copy_from_slice(&mac);
    u64::from_le_bytes(bytes)
}

/// The tutorial's `ether_addr_to_u64` backwards: byte 0 of the MAC is the
/// number's lowest byte.
pub fn mac_from_u64(packed: u64) -> String {
    let bytes = packed.to_le_bytes();
    bytes[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

pub fn ethertype_name(proto: u16) -> &'static str {
    match proto {
        0x0800 => "IPv4",
        0x0806 => "ARP",
        0x86dd => "IPv6",
        0x8100 => "802.1Q VLAN",
        0x88a8 => "802.1ad VLAN",
        0x88cc => "LLDP",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 02:00:00:00:00:01 and aa:bb:cc:dd:ee:ff packed as xdp_printk does.
    const SRC: u64 = 0x0100_0000_0002;
    const DST: u64 = 0xffee_ddcc_bbaa;

    #[test]
    fn macs_unpack_in_the_tutorials_byte_order() {
        assert_eq!(mac_from_u64(SRC), "02:00:00:00:00:01");
        assert_eq!(mac_from_u64(DST), "aa:bb:cc:dd:ee:ff");
        assert_eq!(mac_to_u64([2, 0, 0, 0, 0, 1]), SRC);
    }

    #[test]
    fn the_lesson_line_is_decoded() {
        let line = format!(
            "            ping-4242    [001] ..s21  8123.456789: bpf_trace_printk: src: {SRC}, dst: {DST}, proto: 34525"
        );
        assert_eq!(
            decode_line(&line).unwrap(),
            "ping-4242 [001] 8123.456789: src: 02:00:00:00:00:01 dst: aa:bb:cc:dd:ee:ff proto: 0x86dd (IPv6)"
        );
    }

    #[test]
    fn other_printk_text_is_kept_and_other_tracers_are_skipped() {
        let line = "  <idle>-0  [000] d.s.1  1.5: bpf_trace_printk: hello 42";
        assert_eq!(decode_line(line).unwrap(), "<idle>-0 [000] 1.5: hello 42");
        assert_eq!(
            decode_line("  sshd-1 [000] .... 1.0: sched_switch: x"),
            None
        );
        assert_eq!(
            decode_message("src: nope, dst: 1, proto: 2"),
            "src: nope, dst: 1, proto: 2"
        );
    }
}
