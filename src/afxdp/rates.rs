//! The lines `afxdp` prints every 2 seconds, in the C tutorial's layout:
//!
//! ```text
//! AF_XDP RX:           12 pkts (         6 pps)           1 Kbytes (     0 Mbits/s) period:2.000061
//!        TX:           12 pkts (         6 pps)           1 Kbytes (     0 Mbits/s) period:2.000061
//! XDP:                 12 to socket, 12 to stack
//! ```

use super::port::Totals;

/// One RX or TX line: totals so far, and rates since `before`.
pub fn line(label: &str, now: Totals, before: Totals, period: f64) -> String {
    let packets = now.packets - before.packets;
    let bits = (now.bytes - before.bytes) * 8;
    let (pps, mbps) = match period > 0.0 {
        true => (packets as f64 / period, bits as f64 / period / 1e6),
        false => (0.0, 0.0),
    };
    format!(
        "{label:<12} {:>11} pkts ({pps:>10.0} pps) {:>11} Kbytes ({mbps:>6.0} Mbits/s) period:{period:.6}",
        now.packets,
        now.bytes / 1000
    )
}

/// Where the XDP program sent packets (its afxdp_counters map).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Verdicts {
    pub to_socket: u64,
    pub to_stack: u64,
}

pub fn verdict_line(v: Verdicts) -> String {
    format!(
        "{:<12} {:>11} to socket, {} to stack",
        "XDP:", v.to_socket, v.to_stack
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_per_second_over_the_period() {
        let before = Totals {
            packets: 10,
            bytes: 1000,
        };
        let now = Totals {
            packets: 30,
            bytes: 501_000,
        };
        let text = line("AF_XDP RX:", now, before, 2.0);
        assert!(text.starts_with("AF_XDP RX:   "), "{text}");
        assert!(
            text.contains("          30 pkts (        10 pps)"),
            "{text}"
        );
        assert!(
            text.contains("         501 Kbytes (     2 Mbits/s)"),
            "{text}"
        );
        assert!(text.ends_with("period:2.000000"), "{text}");
        // No period, no rate (and no division by zero).
        assert!(line("TX:", now, now, 0.0).contains("(         0 pps)"));
    }
}
