//! `xdp-loader monitor`: counts the kernel's xdp:* tracepoint events (the C
//! tutorial's tracing01/02 `trace_load_and_stats`, xdp-tools' xdp-monitor).
//!
//! The monitor object is loaded through its libbpf-rs skeleton. Only the
//! programs whose tracepoint exists on this kernel, with the record layout
//! the program expects, are loaded; each is attached, and the links close
//! (detaching everything) when the command ends, however it ends.

mod events;
mod object;
mod render;

use std::mem::MaybeUninit;
use std::time::Instant;

use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{Link, MapCore, MapFlags, TracepointCategory};

use crate::builtin::skel::xdp_monitor::types::{monitor_key, monitor_value};
use crate::builtin::skel::xdp_monitor::{XdpMonitorSkel, XdpMonitorSkelBuilder};
use crate::cli::MonitorArgs;
use crate::error::{errno_of, errno_text, Exit, Failure};
use crate::libbpf_log;
use crate::object::tail;
use crate::privilege;
use crate::{signals, tracefs};
use events::TRACEPOINTS;
use render::{Key, Reading, Sample, Totals};

// SAFETY: plain C structs of integers (generated from the BPF program's BTF).
unsafe impl plain::Plain for monitor_key {}
// SAFETY: as above.
unsafe impl plain::Plain for monitor_value {}

pub fn run(args: &MonitorArgs) -> anyhow::Result<()> {
    privilege::require("xdp-loader monitor", privilege::BPF)?;
    if let Some(file) = &args.object {
        return object::run(file, args);
    }
    let interval = args.sampling.interval;
    let stop = signals::stop_requests()?;

    let mut storage = MaybeUninit::uninit();
    let (skel, links) = load_and_attach(&mut storage)?;
    let names: Vec<&str> = links.iter().map(|(event, _)| *event).collect();
    eprintln!(
        "Monitoring {} XDP tracepoint(s): {} (Ctrl-C to stop)",
        names.len(),
        names.join(", ")
    );

    let mut prev = Reading::new();
    let mut prev_at = Instant::now();
    let mut printed = 0u64;
    loop {
        let stopped = stop.recv_timeout(interval).is_ok();
        let now = read(&skel);
        let at = Instant::now();
        let sample = Sample::between(&prev, &now, at.duration_since(prev_at).as_secs_f64());
        if args.sampling.json {
            println!("{}", sample.json());
        } else {
            println!("{}", sample.text());
        }
        (prev, prev_at) = (now, at);
        printed += 1;
        if stopped || args.sampling.count.is_some_and(|count| printed >= count) {
            return Ok(());
        }
    }
}

/// The attached tracepoint programs, by event name; dropping one detaches it.
type Attachments = Vec<(&'static str, Link)>;

/// Opens the skeleton, keeps the programs this kernel can run, loads and
/// attaches them. Returns the links with their event names.
fn load_and_attach(
    storage: &mut MaybeUninit<libbpf_rs::OpenObject>,
) -> Result<(XdpMonitorSkel<'_>, Attachments), Failure> {
    let root = tracefs::root()?;
    libbpf_log::take();
    let mut open = XdpMonitorSkelBuilder::default()
        .open(storage)
        .map_err(|e| Failure::new(Exit::Bpf, format!("cannot open the monitor object: {e}")))?;

    let mut wanted = Vec::new();
    for mut prog in open.open_object_mut().progs_mut() {
        let name = prog.name().to_string_lossy().into_owned();
        let Some(tp) = TRACEPOINTS.iter().find(|t| t.program == name) else {
            prog.set_autoload(false);
            continue;
        };
        let skip = match tracefs::event_fields(&root, "xdp", tp.event) {
            None => Some("this kernel has no such tracepoint".to_string()),
            Some(fields) => tp.mismatch(&fields),
        };
        match skip {
            Some(why) => {
                eprintln!("Note: skipping xdp:{}: {why}", tp.event);
                prog.set_autoload(false);
            }
            None => wanted.push(tp),
        }
    }
    if wanted.is_empty() {
        return Err(Failure::new(
            Exit::Fail,
            format!(
                "this kernel ({}) has none of the xdp tracepoints the monitor knows",
                crate::object::kernel_release()
            ),
        )
        .hint(format!(
            "see which it has: ls {}/events/xdp",
            root.display()
        )));
    }

    let skel = open.load().map_err(|err| {
        let errno = errno_of(&err);
        let failure = Failure::new(
            Exit::Bpf,
            format!(
                "cannot load the monitor's tracepoint programs: {}",
                errno_text(errno)
            ),
        )
        .details(tail(&libbpf_log::take(), 5));
        match errno {
            libc::EPERM | libc::EACCES => failure.hint(crate::error::ROOT_HINT),
            _ => failure,
        }
    })?;

    let mut links = Vec::new();
    for tp in wanted {
        let prog = skel
            .object()
            .progs_mut()
            .find(|p| p.name() == tp.program)
            .expect("a loaded program of the monitor object");
        let link = prog
            .attach_tracepoint(TracepointCategory::Xdp, tp.event)
            .map_err(|e| {
                Failure::new(
                    Exit::Fail,
                    format!(
                        "cannot attach to tracepoint xdp:{}: {}",
                        tp.event,
                        errno_text(errno_of(&e))
                    ),
                )
                .details(tail(&libbpf_log::take(), 3))
            })?;
        links.push((tp.event, link));
    }
    Ok((skel, links))
}

/// Every entry of the monitor map, summed over CPUs.
fn read(skel: &XdpMonitorSkel) -> Reading {
    let map = &skel.maps.xdp_monitor_map;
    let mut reading = Reading::new();
    for raw_key in map.keys() {
        // An entry can vanish between listing and lookup only if someone
        // deletes it; the programs never do, so skip rather than fail.
        let Ok(Some(per_cpu)) = map.lookup_percpu(&raw_key, MapFlags::ANY) else {
            continue;
        };
        let mut key = monitor_key::default();
        if plain::copy_from_bytes(&mut key, &raw_key).is_err() {
            continue;
        }
        let mut totals = Totals::default();
        for bytes in &per_cpu {
            let mut value = monitor_value::default();
            if plain::copy_from_bytes(&mut value, bytes).is_ok() {
                totals.events += value.events;
                totals.packets += value.packets;
                totals.drops += value.drops;
                totals.errors += value.errors;
            }
        }
        let key = Key {
            event: key.event,
            from: key.from,
            to: key.to,
            action: key.action,
            err: key.err,
        };
        reading.insert(key, totals);
    }
    reading
}
