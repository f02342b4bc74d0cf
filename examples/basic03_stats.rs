//! basic03: count packets in a map, read the map from user space.
//!
//! ```text
//! cargo run --example basic03_stats -- IFNAME [--interval SECONDS] [--count SAMPLES]
//! ```
//! Loads xdp_stats1 (it counts every packet under its verdict in
//! xdp_stats_map, a per-CPU array), attaches it by a bpf_link, and every
//! 2 s prints packets, packets per second and bytes per action, as the C
//! tutorial's xdp_load_and_stats does. The program comes off when we exit.

mod common;

use std::mem::MaybeUninit;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use libbpf_rs::MapCore;
// build.rs made this module from src/bpf/xdp_stats1.bpf.c: XdpStats1SkelBuilder
// opens the object embedded in our binary; its `maps` and `progs` fields
// are named after the C definitions.
use xdp_tutorial::builtin::skel::xdp_stats1::XdpStats1SkelBuilder;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ifname = args
        .first()
        .context("usage: basic03_stats IFNAME [--interval S] [--count N]")?;
    let interval: f64 = common::option(&args, "--interval")?.unwrap_or(2.0);
    let count: Option<u64> = common::option(&args, "--count")?;
    let ifindex = common::ifindex_of(ifname)?;

    // Open (parse the ELF), load (verify the program, create the map),
    // attach (a bpf_link: it lives as long as the skeleton holds it).
    let mut storage = MaybeUninit::uninit();
    let mut skel = XdpStats1SkelBuilder::default().open(&mut storage)?.load()?;
    skel.links.xdp_stats1_func = Some(skel.progs.xdp_stats1_func.attach_xdp(ifindex)?);

    // The map is ours through the skeleton: no pin, no lookup by name.
    let map = &skel.maps.xdp_stats_map;
    println!("xdp_stats_map id {} on {ifname}", map.info()?.info.id);

    let mut previous = (common::read_stats(map)?, Instant::now());
    let mut samples = 0;
    while count.is_none_or(|n| samples < n) {
        std::thread::sleep(Duration::from_secs_f64(interval));
        let now = (common::read_stats(map)?, Instant::now());
        let period = now.1.duration_since(previous.1).as_secs_f64();
        common::print_sample(&now.0, &previous.0, period);
        previous = now;
        samples += 1;
    }
    // Dropping the skeleton closes the link: the program comes off.
    Ok(())
}
