//! The Go walkthrough's example in Rust: packets per source address, from
//! a hash map, printed as a table every second.
//!
//! ```text
//! cargo run --example basic03_per_source -- IFNAME [--interval SECONDS] [--count SAMPLES]
//! ```
//! xdp_src_count (src/bpf/xdp_src_count.bpf.c) counts each IPv4/IPv6
//! packet under its source address in the hash map src_counts, and
//! passes it. Attached by a bpf_link: it comes off when we exit.

mod common;

use std::mem::MaybeUninit;
use std::net::Ipv6Addr;
use std::time::Duration;

use anyhow::{Context, Result};
use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use libbpf_rs::{MapCore, MapFlags};
use xdp_tutorial::builtin::skel::xdp_src_count::XdpSrcCountSkelBuilder;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ifname = args
        .first()
        .context("usage: basic03_per_source IFNAME [--interval S] [--count N]")?;
    let interval: f64 = common::option(&args, "--interval")?.unwrap_or(1.0);
    let count: Option<u64> = common::option(&args, "--count")?;
    let ifindex = common::ifindex_of(ifname)?;

    let mut storage = MaybeUninit::uninit();
    let mut skel = XdpSrcCountSkelBuilder::default()
        .open(&mut storage)?
        .load()?;
    skel.links.xdp_src_count_func = Some(skel.progs.xdp_src_count_func.attach_xdp(ifindex)?);
    let map = &skel.maps.src_counts;
    println!("src_counts id {} on {ifname}", map.info()?.info.id);

    let mut samples = 0;
    while count.is_none_or(|n| samples < n) {
        std::thread::sleep(Duration::from_secs_f64(interval));
        // A hash map has only the keys the program inserted: walk them.
        // (Entries may come and go meanwhile; a vanished key is skipped.)
        let mut rows = Vec::new();
        for key in map.keys() {
            let Some(value) = map.lookup(&key, MapFlags::ANY)? else {
                continue;
            };
            // Key: 16 address bytes; value: a u64 packet count (native endian).
            let addr = Ipv6Addr::from(<[u8; 16]>::try_from(key.as_slice())?);
            let packets = u64::from_ne_bytes(value.as_slice().try_into()?);
            // ::ffff:a.b.c.d is how the program stores IPv4: show it as IPv4.
            rows.push((addr.to_canonical().to_string(), packets));
        }
        rows.sort();
        println!("sample {}: {} source addresses", samples + 1, rows.len());
        for (addr, packets) in rows {
            println!("{addr:<40} {packets:>10}");
        }
        println!();
        samples += 1;
    }
    Ok(())
}
