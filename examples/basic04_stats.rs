//! basic04, the reader: a separate program that reads the pinned stats
//! map, and follows it when a reload replaces the map.
//!
//! ```text
//! cargo run --example basic04_stats -- IFNAME [--interval SECONDS] [--count SAMPLES]
//! ```
//! It loads nothing: it opens /sys/fs/bpf/IFNAME/xdp_stats_map, the pin
//! basic04_load (or xdp-loader) made. Run it as root.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use libbpf_rs::{MapCore, MapHandle};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ifname = args
        .first()
        .context("usage: basic04_stats IFNAME [--interval S] [--count N]")?;
    let interval: f64 = common::option(&args, "--interval")?.unwrap_or(2.0);
    let count: Option<u64> = common::option(&args, "--count")?;
    let pin = PathBuf::from("/sys/fs/bpf")
        .join(ifname)
        .join("xdp_stats_map");

    // A MapHandle owns an fd to a map we did not create: here, the pinned one.
    let open =
        || MapHandle::from_pinned_path(&pin).with_context(|| format!("open {}", pin.display()));
    let mut map = open()?;
    let mut id = map.info()?.info.id;
    println!("xdp_stats_map id {id} at {}", pin.display());
    let mut previous = (common::read_stats(&map)?, Instant::now());

    let mut samples = 0;
    while count.is_none_or(|n| samples < n) {
        std::thread::sleep(Duration::from_secs_f64(interval));
        // Our fd keeps the old map alive even after a reload has pinned a
        // new one at the same path: we would read frozen numbers forever.
        // So look at the pin each time, and reopen when its id changed
        // (the C tutorial's assignment 1).
        let pinned = open()?;
        let pinned_id = pinned.info()?.info.id;
        if pinned_id != id {
            println!("map id changed: {id} -> {pinned_id}, reopened");
            (map, id) = (pinned, pinned_id);
            // Start over: the new map's counters are not the old one's.
            previous = (common::read_stats(&map)?, Instant::now());
            continue;
        }
        let now = (common::read_stats(&map)?, Instant::now());
        let period = now.1.duration_since(previous.1).as_secs_f64();
        common::print_sample(&now.0, &previous.0, period);
        previous = now;
        samples += 1;
    }
    Ok(())
}
