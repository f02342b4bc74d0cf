//! basic03, user space: your copy of examples/basic03_stats.rs, with the C
//! tutorial's user-space assignments left to do. Build and run it:
//!
//! ```text
//! cargo build --example basic03_user_stats
//! sudo target/debug/examples/basic03_user_stats IFNAME [--interval SECONDS] [--count SAMPLES]
//! ```
//! Check your work (it runs this program on a test network of its own and
//! compares what it prints with the kernel's counters):
//! `sudo xdp-loader check basic03 --user target/debug/examples/basic03_user_stats`
//!
//! Keep the output format: one "period" line, one line per action
//! "NAME  PACKETS pkts (RATE pps) BYTES bytes", then an empty line.

use std::ffi::CString;
use std::mem::MaybeUninit;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use libbpf_rs::{MapCore, MapFlags};
use xdp_tutorial::builtin::skel::xdp_stats1::types::datarec;
use xdp_tutorial::builtin::skel::xdp_stats1::XdpStats1SkelBuilder;

/// The map's keys are the verdicts, in this order (enum xdp_action).
const ACTIONS: [&str; 5] = [
    "XDP_ABORTED",
    "XDP_DROP",
    "XDP_PASS",
    "XDP_TX",
    "XDP_REDIRECT",
];
const XDP_PASS: u32 = 2;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ifname = args
        .first()
        .context("usage: stats IFNAME [--interval S] [--count N]")?;
    let interval: f64 = option(&args, "--interval")?.unwrap_or(2.0);
    let count: Option<u64> = option(&args, "--count")?;
    let name = CString::new(ifname.as_str())?;
    // SAFETY: a valid NUL-terminated string.
    let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) } as i32;
    if ifindex == 0 {
        bail!("no interface {ifname}");
    }

    let mut storage = MaybeUninit::uninit();
    let mut skel = XdpStats1SkelBuilder::default().open(&mut storage)?.load()?;
    skel.links.xdp_stats1_func = Some(skel.progs.xdp_stats1_func.attach_xdp(ifindex)?);
    let map = &skel.maps.xdp_stats_map;
    println!("xdp_stats_map id {} on {ifname}", map.info()?.info.id);

    // TODO (assignment 2, all actions): this reads and prints XDP_PASS
    // only. Read every key 0..ACTIONS.len() and print a line for each.
    let actions = [XDP_PASS];

    let mut previous = (read(map, &actions)?, Instant::now());
    let mut samples = 0;
    while count.is_none_or(|n| samples < n) {
        std::thread::sleep(Duration::from_secs_f64(interval));
        let now = (read(map, &actions)?, Instant::now());
        let period = now.1.duration_since(previous.1).as_secs_f64();
        println!("period {period:.3} s");
        for (i, &action) in actions.iter().enumerate() {
            let (new, old) = (&now.0[i], &previous.0[i]);
            let pps = new.rx_packets.saturating_sub(old.rx_packets) as f64 / period;
            // TODO (assignment 1, byte counter): print new.rx_bytes here.
            let bytes = 0;
            println!(
                "{:<13} {:>10} pkts ({pps:>10.0} pps) {bytes:>12} bytes",
                ACTIONS[action as usize], new.rx_packets
            );
        }
        println!();
        previous = now;
        samples += 1;
    }
    Ok(())
}

/// The counters of `actions`, in that order.
fn read(map: &libbpf_rs::MapMut, actions: &[u32]) -> Result<Vec<datarec>> {
    let mut out = Vec::new();
    for action in actions {
        let per_cpu = map
            .lookup_percpu(&action.to_ne_bytes(), MapFlags::ANY)?
            .context("every key of an array exists")?;
        // TODO (assignment 3, per-CPU sums): xdp_stats_map is a PERCPU_ARRAY:
        // each CPU has its own copy of the slot. This reads CPU 0's only;
        // add up the values of all CPUs (libbpf_rs::num_possible_cpus()).
        let bytes = &per_cpu[0];
        assert_eq!(bytes.len(), std::mem::size_of::<datarec>());
        // SAFETY: the length matches and any bytes are valid u64s.
        let rec: datarec = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast()) };
        out.push(rec);
    }
    Ok(out)
}

/// The value after `name` in the arguments, parsed; None when absent.
fn option<T: std::str::FromStr>(args: &[String], name: &str) -> Result<Option<T>> {
    match args.iter().position(|a| a == name) {
        None => Ok(None),
        Some(i) => match args.get(i + 1).and_then(|v| v.parse().ok()) {
            Some(v) => Ok(Some(v)),
            None => bail!("{name} needs a value"),
        },
    }
}
