//! tracing03: xdp_printk_func prints each packet's source MAC, destination
//! MAC and ethertype with bpf_printk, as `src: %llu, dst: %llu, proto: %u`
//! (MACs packed by the tutorial's ether_addr_to_u64, the ethertype in host
//! byte order). `check` records the bpf_printk lines in a private tracefs
//! instance, sends frames from a source MAC no one else uses (made from
//! the pid), and grades the lines that name it: other programs printing
//! on the machine at the same time are not counted.

use super::frames::{ethernet, tag, ETH_P_LOCAL};
use super::lab::{Watch, MAC_XDP};
use super::trace_events::TraceEvents;
use super::{Lesson, Subject};
use crate::trace::{mac_from_u64, mac_to_u64, parse_xdp_printk, printk_message, XdpPrintk};

pub const TRACING03: Lesson = Lesson {
    name: "tracing03",
    builtin: Some("xdp_printk"),
    assignments: &["xdp_printk_func prints the source MAC, destination MAC and ethertype of each packet with bpf_printk"],
    check,
};

const PROGRAM: &str = "xdp_printk_func";
const FRAMES: u32 = 4;
const FORMAT: &str = "src: %llu, dst: %llu, proto: %u";

/// A locally administered MAC unique to this process.
fn source_mac() -> [u8; 6] {
    let pid = std::process::id().to_be_bytes();
    [0x02, 0x5c, pid[0], pid[1], pid[2], pid[3]]
}

fn check(subject: &Subject, _number: usize) -> Result<(), String> {
    let printk = TraceEvents::watch("bpf_trace/bpf_trace_printk", None)
        .map_err(|e| format!("the check could not record bpf_printk lines: {e}"))?;
    subject.attach(PROGRAM)?;
    let src = source_mac();
    let frames: Vec<(u32, Vec<u8>)> = (0..FRAMES)
        .map(|i| (i, ethernet(MAC_XDP, src, &[], ETH_P_LOCAL, &tag(i))))
        .collect();
    // bpf_printk writes as the program runs: once the frames (and the
    // batch's marker behind them) arrived, their lines are in the buffer.
    subject.expect_all(&frames, Watch::Xdp)?;
    let lines = printk
        .lines()
        .map_err(|e| format!("the check could not read the trace: {e}"))?;
    let messages: Vec<&str> = lines.iter().filter_map(|l| printk_message(l)).collect();
    grade(&messages, mac_to_u64(src))
}

/// The verdict on the bpf_printk messages recorded while FRAMES frames
/// from `src` to MAC_XDP with ethertype ETH_P_LOCAL passed.
fn grade(messages: &[&str], src: u64) -> Result<(), String> {
    let want = XdpPrintk {
        src,
        dst: mac_to_u64(MAC_XDP),
        proto: ETH_P_LOCAL,
    };
    let sent = format!(
        "{FRAMES} frames from {} to {} with ethertype {} ({:#06x})",
        mac_from_u64(want.src),
        mac_from_u64(want.dst),
        want.proto,
        want.proto
    );
    let printed: Vec<XdpPrintk> = messages
        .iter()
        .filter_map(|m| parse_xdp_printk(m))
        .collect();
    let ours: Vec<&XdpPrintk> = printed
        .iter()
        .filter(|p| p.src == want.src || p.dst == want.src)
        .collect();
    let right = ours.iter().filter(|p| **p == &want).count();
    if right == FRAMES as usize && ours.len() == right {
        return Ok(());
    }
    let Some(wrong) = ours.iter().find(|p| **p != &want) else {
        return Err(match right {
            0 => format!(
                "{sent}: no bpf_printk line \"{FORMAT}\" names that source MAC ({} as ether_addr_to_u64 packs it){}",
                want.src,
                match messages.iter().find(|m| parse_xdp_printk(m).is_none()) {
                    Some(other) => format!("; a line in another format: \"{other}\""),
                    None => String::new(),
                }
            ),
            n => format!("{sent}: {n} lines printed for them, one per packet expected"),
        });
    };
    let mut why = Vec::new();
    if wrong.src != want.src || wrong.dst != want.dst {
        why.push(format!(
            "src {} dst {} (expected src {} dst {}{})",
            mac_from_u64(wrong.src),
            mac_from_u64(wrong.dst),
            mac_from_u64(want.src),
            mac_from_u64(want.dst),
            match wrong.src == want.dst && wrong.dst == want.src {
                true => ": swapped",
                false => "",
            }
        ));
    }
    if wrong.proto != want.proto {
        why.push(format!(
            "proto {} ({:#06x}; expected {}, in host byte order: bpf_ntohs)",
            wrong.proto, wrong.proto, want.proto
        ));
    }
    Err(format!("{sent}: a line says {}", why.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: [u8; 6] = [2, 0x5c, 0, 0, 0x12, 0x34];

    fn line(src: [u8; 6], dst: [u8; 6], proto: u16) -> String {
        format!(
            "src: {}, dst: {}, proto: {proto}",
            mac_to_u64(src),
            mac_to_u64(dst)
        )
    }

    fn grade_lines(lines: &[String]) -> Result<(), String> {
        let messages: Vec<&str> = lines.iter().map(String::as_str).collect();
        grade(&messages, mac_to_u64(SRC))
    }

    #[test]
    fn one_right_line_per_frame_passes_among_other_programs_lines() {
        let mut lines = vec!["hello 1".to_string(), line([2; 6], MAC_XDP, 0x800)];
        lines.extend((0..FRAMES).map(|_| line(SRC, MAC_XDP, ETH_P_LOCAL)));
        assert_eq!(grade_lines(&lines), Ok(()));
        lines.pop();
        assert!(grade_lines(&lines).unwrap_err().contains("3 lines printed"));
    }

    #[test]
    fn wrong_fields_are_named() {
        let swapped = vec![line(MAC_XDP, SRC, ETH_P_LOCAL); FRAMES as usize];
        assert!(grade_lines(&swapped).unwrap_err().contains("swapped"));
        let network_order = vec![line(SRC, MAC_XDP, ETH_P_LOCAL.swap_bytes()); FRAMES as usize];
        assert!(grade_lines(&network_order)
            .unwrap_err()
            .contains("bpf_ntohs"));
        let other = vec!["src 1 dst 2".to_string()];
        assert!(grade_lines(&other).unwrap_err().contains("another format"));
    }
}
