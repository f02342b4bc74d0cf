//! What several examples share: finding an interface, reading options,
//! and basic03's per-action counters (read, summed over CPUs, printed).
//! Each example includes this file with `mod common;`.

#![allow(dead_code)] // each example uses a part

use std::ffi::CString;

use anyhow::{bail, Context, Result};
use libbpf_rs::{MapCore, MapFlags};
// Every lesson object from basic03 on has the same xdp_stats_map value type;
// the skeletons each generate it, and they are all the same struct.
pub use xdp_tutorial::builtin::skel::xdp_stats1::types::datarec;

/// The keys of xdp_stats_map are the verdicts, in this order (enum xdp_action).
pub const ACTIONS: [&str; 5] = [
    "XDP_ABORTED",
    "XDP_DROP",
    "XDP_PASS",
    "XDP_TX",
    "XDP_REDIRECT",
];

/// The kernel names interfaces by index; `if_nametoindex` translates.
pub fn ifindex_of(ifname: &str) -> Result<i32> {
    let name = CString::new(ifname)?;
    // SAFETY: a valid NUL-terminated string.
    match unsafe { libc::if_nametoindex(name.as_ptr()) } {
        0 => bail!("no interface {ifname}"),
        index => Ok(index as i32),
    }
}

/// The value after `--name` in the arguments, parsed; None when absent.
pub fn option<T: std::str::FromStr>(args: &[String], name: &str) -> Result<Option<T>> {
    match args.iter().position(|a| a == name) {
        None => Ok(None),
        Some(i) => match args.get(i + 1).and_then(|v| v.parse().ok()) {
            Some(v) => Ok(Some(v)),
            None => bail!("{name} needs a value"),
        },
    }
}

/// All slots of xdp_stats_map, each summed over the CPUs. One slot of a
/// per-CPU map is one value per possible CPU: each CPU counts in its own
/// copy (no locks, no shared cache line), so the total is their sum.
pub fn read_stats(map: &impl MapCore) -> Result<Vec<datarec>> {
    let mut totals = Vec::new();
    for action in 0..ACTIONS.len() as u32 {
        let per_cpu = map
            .lookup_percpu(&action.to_ne_bytes(), MapFlags::ANY)?
            .context("every key of an array exists")?;
        let mut sum = datarec::default();
        for bytes in per_cpu {
            // The generated `datarec` has the C struct's layout (#[repr(C)]).
            assert_eq!(bytes.len(), std::mem::size_of::<datarec>());
            // SAFETY: the length matches and any bytes are valid u64s.
            let rec: datarec = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast()) };
            sum.rx_packets += rec.rx_packets;
            sum.rx_bytes += rec.rx_bytes;
        }
        totals.push(sum);
    }
    Ok(totals)
}

/// One sample: per action, the packets so far, the rate over `period`
/// seconds since `old`, and the bytes so far.
pub fn print_sample(new: &[datarec], old: &[datarec], period: f64) {
    println!("period {period:.3} s");
    for (action, (new, old)) in ACTIONS.iter().zip(new.iter().zip(old)) {
        let pps = new.rx_packets.saturating_sub(old.rx_packets) as f64 / period;
        println!(
            "{action:<13} {:>10} pkts ({pps:>10.0} pps) {:>12} bytes",
            new.rx_packets, new.rx_bytes
        );
    }
    println!();
}
