//! basic04, user space, the reader: your copy of examples/basic04_stats.rs,
//! with the C tutorial's assignment 1 left to do.
//!
//! ```text
//! cargo build --example basic04_user_stats
//! sudo target/debug/examples/basic04_user_stats IFNAME [--interval SECONDS] [--count SAMPLES]
//! ```
//! It opens the pinned /sys/fs/bpf/IFNAME/xdp_stats_map and prints, per
//! sample, a "period" line, one line per action
//! "NAME  PACKETS pkts (RATE pps) BYTES bytes", then an empty line.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use libbpf_rs::{MapCore, MapFlags, MapHandle};

const ACTIONS: [&str; 5] = [
    "XDP_ABORTED",
    "XDP_DROP",
    "XDP_PASS",
    "XDP_TX",
    "XDP_REDIRECT",
];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ifname = args
        .first()
        .context("usage: stats IFNAME [--interval S] [--count N]")?;
    let interval: f64 = option(&args, "--interval")?.unwrap_or(2.0);
    let count: Option<u64> = option(&args, "--count")?;
    let pin = PathBuf::from("/sys/fs/bpf")
        .join(ifname)
        .join("xdp_stats_map");

    let map =
        MapHandle::from_pinned_path(&pin).with_context(|| format!("open {}", pin.display()))?;
    let id = map.info()?.info.id;
    println!("xdp_stats_map id {id} at {}", pin.display());
    let mut previous = (read(&map)?, Instant::now());

    let mut samples = 0;
    while count.is_none_or(|n| samples < n) {
        std::thread::sleep(Duration::from_secs_f64(interval));
        // TODO (assignment 1, follow the map id): a reload may pin a new map
        // at the same path; our fd keeps the old one alive, so we would go
        // on reading its frozen counters. Open the pin again each time,
        // compare its map id (info()?.info.id) with `id`, and when it
        // differs, switch to the new map (print "map id changed: OLD -> NEW").
        let now = (read(&map)?, Instant::now());
        let period = now.1.duration_since(previous.1).as_secs_f64();
        println!("period {period:.3} s");
        for (action, ((packets, bytes), (old, _))) in
            ACTIONS.iter().zip(now.0.iter().zip(&previous.0))
        {
            let pps = packets.saturating_sub(*old) as f64 / period;
            println!("{action:<13} {packets:>10} pkts ({pps:>10.0} pps) {bytes:>12} bytes");
        }
        println!();
        previous = now;
        samples += 1;
    }
    Ok(())
}

/// (packets, bytes) of every action, summed over the CPUs.
fn read(map: &MapHandle) -> Result<Vec<(u64, u64)>> {
    let mut out = Vec::new();
    for action in 0..ACTIONS.len() as u32 {
        let per_cpu = map
            .lookup_percpu(&action.to_ne_bytes(), MapFlags::ANY)?
            .context("every key of an array exists")?;
        let mut sum = (0, 0);
        for value in per_cpu {
            // struct datarec { __u64 rx_packets; __u64 rx_bytes; }
            sum.0 += u64::from_ne_bytes(value[..8].try_into()?);
            sum.1 += u64::from_ne_bytes(value[8..16].try_into()?);
        }
        out.push(sum);
    }
    Ok(out)
}

fn option<T: std::str::FromStr>(args: &[String], name: &str) -> Result<Option<T>> {
    match args.iter().position(|a| a == name) {
        None => Ok(None),
        Some(i) => match args.get(i + 1).and_then(|v| v.parse().ok()) {
            Some(v) => Ok(Some(v)),
            None => bail!("{name} needs a value"),
        },
    }
}
