//! Turning two readings of the counters into rates, and printing them as
//! the C tutorial's text rows or as one JSON object per sample.

use std::collections::BTreeMap;

use serde::Serialize;

use super::reader::{Counters, ACTIONS};

/// One action's totals and its rates over the last period.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ActionRates {
    pub packets: u64,
    pub bytes: u64,
    /// Packets per second over the period.
    pub pps: f64,
    /// Bits per second over the period.
    pub bps: f64,
}

/// One sample: what `--json` prints (schema in README).
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub map_id: u32,
    pub map_pin: Option<String>,
    /// Seconds between the two readings the rates come from.
    pub period: f64,
    pub actions: BTreeMap<&'static str, ActionRates>,
}

impl Sample {
    /// Rates from `prev` to `now`. A counter that went down (the map was
    /// replaced) counts from zero rather than going negative.
    pub fn between(
        prev: &Counters,
        now: &Counters,
        map_id: u32,
        map_pin: Option<String>,
    ) -> Sample {
        let period = now.at.duration_since(prev.at).as_secs_f64();
        let per_second = |delta: u64| match period > 0.0 {
            true => delta as f64 / period,
            false => 0.0,
        };
        let actions = ACTIONS
            .iter()
            .zip(&now.actions)
            .enumerate()
            .map(|(i, (&name, cur))| {
                let old = prev.actions.get(i).copied().unwrap_or_default();
                let delta = |now: u64, before: u64| now.checked_sub(before).unwrap_or(now);
                let rates = ActionRates {
                    packets: cur.rx_packets,
                    bytes: cur.rx_bytes,
                    pps: per_second(delta(cur.rx_packets, old.rx_packets)),
                    bps: per_second(delta(cur.rx_bytes, old.rx_bytes)) * 8.0,
                };
                (name, rates)
            })
            .collect();
        Sample {
            map_id,
            map_pin,
            period,
            actions,
        }
    }

    /// The C tutorial's rows, in action order:
    /// `XDP_PASS               5 pkts (         2 pps)           0 Kbytes (     0 Mbits/s) period:2.000123`
    pub fn text_rows(&self) -> Vec<String> {
        ACTIONS
            .iter()
            .filter_map(|name| Some((name, self.actions.get(name)?)))
            .map(|(name, a)| {
                format!(
                    "{name:<12} {:>11} pkts ({:>10} pps) {:>11} Kbytes ({:>6} Mbits/s) period:{:.6}",
                    grouped(a.packets),
                    grouped(a.pps.round() as u64),
                    grouped(a.bytes / 1000),
                    grouped((a.bps / 1e6).round() as u64),
                    self.period
                )
            })
            .collect()
    }

    pub fn json(&self) -> String {
        serde_json::to_string(self).expect("a sample always serializes")
    }
}

/// `1234567` → `1,234,567`: the C tutorial's `%'` with LC_NUMERIC=en_US.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::super::reader::Datarec;
    use super::*;

    fn counters(at: Instant, pass: (u64, u64)) -> Counters {
        let mut c = Counters::zero(at, ACTIONS.len());
        c.actions[2] = Datarec {
            rx_packets: pass.0,
            rx_bytes: pass.1,
        };
        c
    }

    #[test]
    fn groups_thousands_like_the_c_tutorial() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1234567), "1,234,567");
        assert_eq!(grouped(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn rates_come_from_the_difference_over_the_period() {
        let t0 = Instant::now();
        let prev = counters(t0, (1_000, 1_000_000));
        let now = counters(t0 + Duration::from_secs(2), (5_000, 3_000_000));
        let s = Sample::between(&prev, &now, 7, None);
        let pass = &s.actions["XDP_PASS"];
        assert_eq!((pass.packets, pass.bytes), (5_000, 3_000_000));
        assert_eq!(pass.pps, 2_000.0);
        assert_eq!(pass.bps, 8_000_000.0);
        assert_eq!(s.actions["XDP_DROP"].pps, 0.0);
        assert_eq!(
            s.text_rows()[2],
            "XDP_PASS           5,000 pkts (     2,000 pps)       3,000 Kbytes (     8 Mbits/s) period:2.000000"
        );
    }

    #[test]
    fn a_counter_that_went_down_counts_from_zero() {
        let t0 = Instant::now();
        let prev = counters(t0, (900, 0));
        let now = counters(t0 + Duration::from_secs(1), (10, 0));
        assert_eq!(
            Sample::between(&prev, &now, 1, None).actions["XDP_PASS"].pps,
            10.0
        );
    }

    #[test]
    fn json_has_the_documented_fields() {
        let t0 = Instant::now();
        let s = Sample::between(
            &counters(t0, (0, 0)),
            &counters(t0 + Duration::from_secs(1), (3, 354)),
            12,
            Some("/sys/fs/bpf/eth0/xdp_stats_map".into()),
        );
        let v: serde_json::Value = serde_json::from_str(&s.json()).unwrap();
        assert_eq!(v["map_id"], 12);
        assert_eq!(v["map_pin"], "/sys/fs/bpf/eth0/xdp_stats_map");
        assert_eq!(v["actions"]["XDP_PASS"]["packets"], 3);
        assert_eq!(v["actions"]["XDP_PASS"]["bytes"], 354);
        assert_eq!(v["actions"].as_object().unwrap().len(), 5);
    }
}
