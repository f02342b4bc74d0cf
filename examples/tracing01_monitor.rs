//! tracing01 and tracing02: attach BPF programs to the kernel's xdp:*
//! tracepoints and print what they count.
//!
//! ```text
//! cargo run --example tracing01_monitor -- [--interval SECONDS] [--count SAMPLES]
//! ```
//! tracing01: an XDP program returning XDP_ABORTED fires xdp:xdp_exception.
//! tracing02: redirects fire xdp:xdp_redirect(_err) and xdp:xdp_devmap_xmit.
//! Every `--interval` seconds (default 2) one line per (event, interface,
//! action, error) seen so far. The tracepoints are system-wide: all
//! interfaces show up.

mod common;

use std::mem::MaybeUninit;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Result};
use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{MapCore, MapFlags};
use xdp_tutorial::builtin::skel::xdp_monitor::types::{monitor_key, monitor_value};
use xdp_tutorial::builtin::skel::xdp_monitor::XdpMonitorSkelBuilder;

/// enum monitor_event in src/bpf/xdp_monitor.bpf.c, in order.
const EVENTS: [&str; 7] = [
    "xdp_exception",
    "xdp_redirect",
    "xdp_redirect_err",
    "xdp_devmap_xmit",
    "xdp_cpumap_enqueue",
    "xdp_cpumap_kthread",
    "xdp_bulk_tx",
];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let interval: f64 = common::option(&args, "--interval")?.unwrap_or(2.0);
    let count: Option<u64> = common::option(&args, "--count")?;

    // Which xdp tracepoints does this kernel have? tracefs lists them.
    let Some(events) = [
        "/sys/kernel/tracing/events/xdp",
        "/sys/kernel/debug/tracing/events/xdp",
    ]
    .into_iter()
    .map(Path::new)
    .find(|p| p.is_dir()) else {
        bail!("no tracefs with xdp events: mount it (mount -t tracefs none /sys/kernel/tracing)");
    };

    // Each program's section is "tracepoint/xdp/<event>". Programs for
    // events this kernel lacks (xdp_redirect_map went in 5.x) are not loaded.
    let mut storage = MaybeUninit::uninit();
    let mut open = XdpMonitorSkelBuilder::default().open(&mut storage)?;
    for mut prog in open.open_object_mut().progs_mut() {
        let section = prog.section().to_string_lossy().into_owned();
        let event = section.rsplit('/').next().unwrap_or_default();
        prog.set_autoload(events.join(event).is_dir());
    }
    let mut skel = open.load()?;
    // Unlike XDP, a tracepoint program knows where it goes (its section
    // names the event), so the skeleton attaches them all in one call.
    // The links live in skel.links: they go when the skeleton does.
    skel.attach()?;
    println!("attached to xdp:* tracepoints");

    let mut samples = 0;
    while count.is_none_or(|n| samples < n) {
        std::thread::sleep(Duration::from_secs_f64(interval));
        println!("sample {}", samples + 1);
        print_counters(&skel.maps.xdp_monitor_map)?;
        samples += 1;
    }
    Ok(())
}

/// A hash map: walk its keys, then sum each entry over the CPUs.
fn print_counters(map: &libbpf_rs::MapMut) -> Result<()> {
    let mut rows = Vec::new();
    for key_bytes in map.keys() {
        // SAFETY (both reads): the sizes are the map's own key and value
        // sizes, which are the generated #[repr(C)] structs'; any bytes are valid.
        let key: monitor_key = unsafe { std::ptr::read_unaligned(key_bytes.as_ptr().cast()) };
        let Some(per_cpu) = map.lookup_percpu(&key_bytes, MapFlags::ANY)? else {
            continue; // deleted meanwhile
        };
        let mut sum = monitor_value::default();
        for bytes in per_cpu {
            let v: monitor_value = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast()) };
            (sum.events, sum.packets) = (sum.events + v.events, sum.packets + v.packets);
            (sum.drops, sum.errors) = (sum.drops + v.drops, sum.errors + v.errors);
        }
        let event = EVENTS.get(key.event as usize).unwrap_or(&"?");
        rows.push(format!(
            "{event:<18} from {:>5} to {:>5} action {} err {:>4}: events {} packets {} drops {} errors {}",
            key.from, key.to, key.action, key.err, sum.events, sum.packets, sum.drops, sum.errors
        ));
    }
    rows.sort();
    for row in rows {
        println!("{row}");
    }
    println!();
    Ok(())
}
