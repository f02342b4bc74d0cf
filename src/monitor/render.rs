//! Monitor samples: totals per (event, device, target, action, error),
//! rates over the last period, printed as a table or one JSON line.

use std::collections::BTreeMap;

use serde::Serialize;

use super::events::{action_name, counts_cpus, error_name, event_name, has_target};
use crate::iface;

/// What one map entry identifies (the BPF program's `struct monitor_key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub event: u32,
    pub from: i32,
    pub to: i32,
    pub action: u32,
    pub err: i32,
}

/// Its counters, summed over CPUs (`struct monitor_value`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub events: u64,
    pub packets: u64,
    pub drops: u64,
    pub errors: u64,
}

/// One reading of the whole map.
pub type Reading = BTreeMap<Key, Totals>;

/// One row of a sample (one element of `--json`'s "rows"; schema in README).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Row {
    pub event: String,
    /// Interface name (or `ifindex N` when it has none here), or `cpu N`.
    pub device: String,
    /// The ifindex (or CPU) behind `device`, for scripts.
    pub from: i32,
    /// Where the frames went (redirects, devmap), if anywhere else.
    pub target: Option<String>,
    /// The ifindex (or CPU) behind `target`.
    pub to: Option<i32>,
    pub action: String,
    /// The errno of failed redirects and transmits.
    pub error: Option<String>,
    pub events: u64,
    pub packets: u64,
    pub drops: u64,
    pub errors: u64,
    /// Packets per second over the period.
    pub pps: f64,
    /// Dropped packets per second over the period.
    pub drop_pps: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// Seconds the rates are measured over.
    pub period: f64,
    pub rows: Vec<Row>,
}

impl Sample {
    /// Rows for every entry of `now`, rates against `prev`.
    pub fn between(prev: &Reading, now: &Reading, period: f64) -> Sample {
        let rate = |delta: u64| match period > 0.0 {
            true => delta as f64 / period,
            false => 0.0,
        };
        let rows = now
            .iter()
            .map(|(key, cur)| {
                let old = prev.get(key).copied().unwrap_or_default();
                Row {
                    event: event_name(key.event),
                    device: place(key.event, key.from),
                    target: has_target(key.event).then(|| place(key.event, key.to)),
                    from: key.from,
                    to: has_target(key.event).then_some(key.to),
                    action: action_name(key.action),
                    error: error_name(key.err),
                    events: cur.events,
                    packets: cur.packets,
                    drops: cur.drops,
                    errors: cur.errors,
                    pps: rate(cur.packets.saturating_sub(old.packets)),
                    drop_pps: rate(cur.drops.saturating_sub(old.drops)),
                }
            })
            .collect();
        Sample { period, rows }
    }

    pub fn text(&self) -> String {
        let mut out = format!(
            "{:<18} {:<15} {:<15} {:<12} {:>10} {:>10} {:>10} {:>10}  {}\n",
            "XDP-event",
            "device",
            "target",
            "action",
            "packets",
            "pps",
            "drops",
            "drop-pps",
            "error"
        );
        if self.rows.is_empty() {
            out.push_str("(no XDP events yet)\n");
        }
        for row in &self.rows {
            let line = format!(
                "{:<18} {:<15} {:<15} {:<12} {:>10} {:>10.1} {:>10} {:>10.1}  {}",
                row.event,
                row.device,
                row.target.as_deref().unwrap_or("-"),
                row.action,
                row.packets,
                row.pps,
                row.drops,
                row.drop_pps,
                row.error.as_deref().unwrap_or(""),
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    pub fn json(&self) -> String {
        serde_json::to_string(self).expect("a sample always serializes")
    }
}

/// An ifindex as this namespace names it, or a CPU for cpumap events.
fn place(event: u32, value: i32) -> String {
    if counts_cpus(event) {
        return format!("cpu {value}");
    }
    u32::try_from(value)
        .ok()
        .and_then(iface::name_of)
        .unwrap_or_else(|| format!("ifindex {value}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(event: u32, from: i32, to: i32, action: u32, err: i32) -> Key {
        Key {
            event,
            from,
            to,
            action,
            err,
        }
    }

    #[test]
    fn rates_come_from_the_difference() {
        let k = key(0, 1, 0, 0, 0);
        let prev = Reading::from([(
            k,
            Totals {
                events: 2,
                packets: 2,
                drops: 2,
                errors: 0,
            },
        )]);
        let now = Reading::from([(
            k,
            Totals {
                events: 6,
                packets: 6,
                drops: 6,
                errors: 0,
            },
        )]);
        let sample = Sample::between(&prev, &now, 2.0);
        let row = &sample.rows[0];
        assert_eq!(row.event, "xdp_exception");
        // ifindex 1 is always the loopback device.
        assert_eq!(row.device, "lo");
        assert_eq!(row.target, None);
        assert_eq!(row.action, "XDP_ABORTED");
        assert_eq!((row.packets, row.pps, row.drop_pps), (6, 2.0, 2.0));
    }

    #[test]
    fn cpumap_rows_name_cpus_and_redirects_name_targets_and_errors() {
        let now = Reading::from([
            (key(4, 0, 1, 4, 0), Totals::default()),
            (key(2, 1, 999_999, 4, -libc::ENETDOWN), Totals::default()),
        ]);
        let sample = Sample::between(&Reading::new(), &now, 1.0);
        let redirect = &sample.rows[0];
        assert_eq!(redirect.event, "xdp_redirect_err");
        assert_eq!(redirect.target.as_deref(), Some("ifindex 999999"));
        assert!(redirect.error.as_deref().unwrap().starts_with("ENETDOWN"));
        let cpumap = &sample.rows[1];
        assert_eq!(
            (cpumap.device.as_str(), cpumap.target.as_deref()),
            ("cpu 0", Some("cpu 1"))
        );
    }

    #[test]
    fn an_empty_sample_says_so() {
        let text = Sample::between(&Reading::new(), &Reading::new(), 1.0).text();
        assert!(text.contains("no XDP events yet"), "{text}");
    }
}
