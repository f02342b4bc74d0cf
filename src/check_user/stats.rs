//! The per-action counters of basic03/basic04 (xdp_stats_map: a per-CPU
//! array of struct datarec { u64 rx_packets; u64 rx_bytes; }, key = the
//! verdict), as the kernel has them and as a student's program prints them.

use libbpf_rs::{MapCore, MapFlags, MapHandle};

use crate::stats::reader::ACTIONS;

/// (packets, bytes) per action.
pub type Counts = [(u64, u64); 5];

/// The kernel's values, each slot summed over the CPUs.
pub fn kernel(map: &MapHandle) -> Result<Counts, String> {
    let mut totals = [(0, 0); 5];
    for (action, total) in totals.iter_mut().enumerate() {
        let key = (action as u32).to_ne_bytes();
        let per_cpu = map
            .lookup_percpu(&key, MapFlags::ANY)
            .map_err(|e| format!("read xdp_stats_map: {e}"))?
            .ok_or("xdp_stats_map has no key {action}")?;
        for value in per_cpu {
            total.0 += u64::from_ne_bytes(value[..8].try_into().unwrap());
            total.1 += u64::from_ne_bytes(value[8..16].try_into().unwrap());
        }
    }
    Ok(totals)
}

/// Writes a different value on every CPU of every slot (`seed` makes them
/// differ between maps), so that a sum over CPUs, every action and the
/// bytes each show in what a correct program prints.
pub fn fill(map: &MapHandle, seed: u64) -> Result<(), String> {
    let cpus = libbpf_rs::num_possible_cpus().map_err(|e| format!("possible CPUs: {e}"))?;
    for action in 0..ACTIONS.len() as u64 {
        let values: Vec<Vec<u8>> = (0..cpus as u64)
            .map(|cpu| {
                let packets = seed * 10_000 + (action + 1) * 100 + cpu + 1;
                let bytes = packets * 64 + cpu + 7;
                [packets.to_ne_bytes(), bytes.to_ne_bytes()].concat()
            })
            .collect();
        map.update_percpu(&(action as u32).to_ne_bytes(), &values, MapFlags::ANY)
            .map_err(|e| format!("write xdp_stats_map: {e}"))?;
    }
    Ok(())
}

/// What a block "NAME  PACKETS pkts (RATE pps) BYTES bytes" printed per
/// action (None: no line for it).
pub fn printed(block: &[String]) -> [Option<(u64, u64)>; 5] {
    ACTIONS.map(|action| {
        let line = block
            .iter()
            .find(|l| l.split_whitespace().next() == Some(action))?;
        let words: Vec<&str> = line.split_whitespace().collect();
        let packets = words.get(1)?.parse().ok()?;
        let bytes_at = words.iter().position(|w| *w == "bytes")?.checked_sub(1)?;
        Some((packets, words[bytes_at].parse().ok()?))
    })
}

/// The three basic03 assignments as checks of `printed` against `kernel`:
/// (1) bytes, (2) a line per action, (3) packets summed over the CPUs.
pub fn compare(printed: &[Option<(u64, u64)>; 5], kernel: &Counts) -> [Result<(), String>; 3] {
    let missing: Vec<&str> = (0..5)
        .filter(|&i| printed[i].is_none())
        .map(|i| ACTIONS[i])
        .collect();
    let wrong = |field: usize, what: &str| {
        let bad: Vec<String> = (0..5)
            .filter_map(|i| {
                let got = printed[i]?;
                let (got, want) = if field == 0 {
                    (got.0, kernel[i].0)
                } else {
                    (got.1, kernel[i].1)
                };
                (got != want)
                    .then(|| format!("{}: printed {got}, the kernel has {want}", ACTIONS[i]))
            })
            .collect();
        if bad.is_empty() {
            Ok(())
        } else {
            Err(format!("{what} differ: {}", bad.join("; ")))
        }
    };
    let all_actions = if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("no line for {}", missing.join(", ")))
    };
    [
        wrong(1, "bytes"),
        all_actions,
        wrong(0, "packets (summed over all CPUs)"),
    ]
}
