//! `xdp-loader bench reader PIN --samples N [--per-key]`: reads a pinned
//! xdp_stats_map N times in a row and prints the packet total and the CPU
//! time the reading loop took (in ns), so that `bench stats` can measure
//! each way of reading in a process of its own, startup left out.
//!
//! The default is the reader `stats` uses (one BPF_MAP_LOOKUP_BATCH for
//! every action and CPU). `--per-key` is the C tutorial's way: one
//! BPF_MAP_LOOKUP_ELEM per action, each returning that action's per-CPU
//! values.

use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;

use libbpf_rs::{MapCore, MapHandle};

use crate::error::{Exit, Failure};
use crate::stats::reader::{Datarec, Location, StatsMap, ACTIONS};

pub fn run(pin: &Path, samples: u64, per_key: bool) -> Result<(), Failure> {
    let (total, loop_cpu_ns) = match per_key {
        false => batch(pin, samples)?,
        true => one_key_at_a_time(pin, samples)?,
    };
    println!("{total} {loop_cpu_ns}");
    Ok(())
}

/// CPU time this process has used so far, in ns: exact, unlike the
/// difference of two whole-process runs, which startup noise can swamp.
pub fn process_cpu_ns() -> u64 {
    // SAFETY: clock_gettime writes into the zeroed struct we pass.
    let now = unsafe {
        let mut now: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now);
        now
    };
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// Returns the last total and the CPU time of the loop.
fn batch(pin: &Path, samples: u64) -> Result<(u64, u64), Failure> {
    let mut map = StatsMap::open(&Location::Pin(pin.to_path_buf()))?;
    let mut total = 0;
    let start = process_cpu_ns();
    for _ in 0..samples {
        total = map.read()?.actions.iter().map(|a| a.rx_packets).sum();
    }
    Ok((total, process_cpu_ns() - start))
}

/// The C tutorial's `map_collect` + `map_get_value_percpu_array`.
fn one_key_at_a_time(pin: &Path, samples: u64) -> Result<(u64, u64), Failure> {
    let failure = |what: String| Failure::new(Exit::Fail, what);
    let map = MapHandle::from_pinned_path(pin)
        .map_err(|e| failure(format!("cannot open {}: {e}", pin.display())))?;
    let cpus = libbpf_rs::num_possible_cpus().map_err(|e| failure(e.to_string()))?;
    let mut values = vec![Datarec::default(); cpus];
    let fd = map.as_fd().as_raw_fd();
    let mut total = 0;
    let start = process_cpu_ns();
    for _ in 0..samples {
        total = 0;
        for key in 0..map.max_entries().min(ACTIONS.len() as u32) {
            // SAFETY: `values` has room for one 16-byte Datarec per
            // possible CPU, which is what a PERCPU_ARRAY lookup writes.
            let ret = unsafe {
                libbpf_sys::bpf_map_lookup_elem(
                    fd,
                    (&key as *const u32).cast(),
                    values.as_mut_ptr().cast(),
                )
            };
            if ret != 0 {
                return Err(failure(format!("lookup of key {key} failed: {ret}")));
            }
            total += values.iter().map(|v| v.rx_packets).sum::<u64>();
        }
    }
    Ok((total, process_cpu_ns() - start))
}
