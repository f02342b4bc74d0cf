//! `xdp-loader bench`: what an XDP tool is judged on, each measured side by
//! side with what users would otherwise use, printed as one table. Ratios
//! matter more than absolute numbers (shared, noisy machines).
//!
//! The measurements:
//! - `dataplane`: per-packet cost of the built-in programs (BPF_PROG_TEST_RUN)
//! - `dispatcher`: the same cost for several programs behind our dispatcher,
//!   against libxdp's and against the programs alone
//! - `live`: real frames through a veth pair (BPF_F_TEST_XDP_LIVE_FRAMES)
//! - `afxdp_rx`: the same frames received in user space by an AF_XDP socket
//! - `control`: load + attach + detach against `ip link` and `bpftool`
//! - `readout`: syscalls and CPU per `stats` sample against a per-key reader
//! - `student_loop`: edit -> build -> load of a lesson against `cargo build`
//! - `capture`: packets per second `capture` writes, against xdpdump
//!
//! and what they are built from: `frames` (test frames), `programs` (which
//! program on which frame), `test_run` (the syscall), `veth` (a private
//! veth pair), `reader` (the stats readers `readout` runs), `table` (output).

mod afxdp_rx;
mod capture;
mod control;
mod dataplane;
mod dispatcher;
pub mod frames;
mod live;
mod programs;
mod reader;
mod readout;
mod student_loop;
mod table;
pub mod test_run;
mod veth;

use std::sync::atomic::{AtomicBool, Ordering};

use crate::cli::{BenchArgs, BenchCommand};
use crate::commands::require_root;
use crate::error::{Exit, Failure};
use crate::features::{self, Feature};
use table::Row;

/// How much of each measurement a suite does.
struct Effort {
    repeat: u32,
    live_seconds: f64,
    control_runs: u32,
    samples: u32,
    loop_runs: u32,
}

const FULL: Effort = Effort {
    repeat: 1_000_000,
    live_seconds: 2.0,
    control_runs: 48,
    samples: 2000,
    loop_runs: 10,
};

/// Enough to see that every part works and gives sane numbers.
const QUICK: Effort = Effort {
    repeat: 10_000,
    live_seconds: 0.2,
    control_runs: 3,
    samples: 100,
    loop_runs: 2,
};

/// Frame size of the suite's data-plane and live rows.
const SUITE_FRAME: usize = 64;

pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    require_root("xdp-loader bench")?;
    if let Some(BenchCommand::Reader {
        pin,
        samples,
        per_key,
    }) = &args.command
    {
        return Ok(reader::run(pin, *samples, *per_key)?);
    }
    stop_on_interrupt()?;
    let (rows, json) = match &args.command {
        None => {
            let program = args.program.as_deref().unwrap_or("all");
            let subjects: Vec<_> = match program {
                "all" => programs::ALL.iter().collect(),
                name => vec![programs::find(name)?],
            };
            let costs = dataplane::measure(&subjects, args.data.size, args.data.repeat)?;
            (dataplane::rows(&costs, args.data.size), args.json)
        }
        Some(BenchCommand::Dispatcher { repeat, json }) => (dispatcher::measure(*repeat)?, *json),
        Some(BenchCommand::Live { seconds, json }) => {
            let mut received = live::measure(&live::subjects(), SUITE_FRAME, *seconds)?;
            received.push(afxdp_rx::measure(SUITE_FRAME, *seconds)?);
            (live::rows(&received, SUITE_FRAME), *json)
        }
        Some(BenchCommand::Control { runs, json }) => (control::measure(*runs)?, *json),
        Some(BenchCommand::Capture { seconds, json }) => (capture::measure(*seconds)?, *json),
        Some(BenchCommand::Stats { samples, json }) => (readout::measure(*samples)?, *json),
        Some(BenchCommand::Suite { quick, json }) => {
            (suite(if *quick { &QUICK } else { &FULL })?, *json)
        }
        Some(BenchCommand::Reader { .. }) => unreachable!("handled above"),
    };
    table::print(&rows, json);
    Ok(())
}

/// All the measurements, in one table.
fn suite(effort: &Effort) -> Result<Vec<Row>, Failure> {
    let subjects: Vec<_> = programs::ALL.iter().collect();
    let costs = dataplane::measure(&subjects, SUITE_FRAME, effort.repeat)?;
    let mut rows = dataplane::rows(&costs, SUITE_FRAME);
    // Dispatchers need freplace; without it, the rows go, with a note.
    match features::has(Feature::Freplace) {
        Some(false) => eprintln!(
            "Note: no dispatcher rows: this kernel has no {}",
            Feature::Freplace.title()
        ),
        _ => rows.extend(dispatcher::measure(effort.repeat)?),
    }
    // The one honest fallback for a kernel without live frames: leave
    // those rows out, and say so.
    match features::has(Feature::LiveFrames) {
        Some(false) => eprintln!(
            "Note: no live-veth rows: this kernel has no {} (Linux {}+)",
            Feature::LiveFrames.title(),
            Feature::LiveFrames.since()
        ),
        _ => {
            let mut received = live::measure(&live::subjects(), SUITE_FRAME, effort.live_seconds)?;
            received.push(afxdp_rx::measure(SUITE_FRAME, effort.live_seconds)?);
            rows.extend(live::rows(&received, SUITE_FRAME));
        }
    }
    if features::has(Feature::LiveFrames) != Some(false) {
        rows.extend(capture::measure(effort.live_seconds)?);
    }
    rows.extend(control::measure(effort.control_runs)?);
    rows.extend(readout::measure(effort.samples)?);
    rows.extend(student_loop::measure(effort.loop_runs)?);
    Ok(rows)
}

/// This very binary, so the benchmark measures the build that runs it.
fn loader_exe() -> Result<String, Failure> {
    std::env::current_exe()
        .map(|p| p.to_string_lossy().into_owned())
        .map_err(|e| {
            Failure::new(
                Exit::Fail,
                format!("cannot find xdp-loader's own path: {e}"),
            )
        })
}

/// The median (NaN for no values).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Ctrl-C ends the benchmark between two steps, so the veth pairs and
/// scratch files it made are removed (by their Drop) on the way out.
fn stop_on_interrupt() -> Result<(), Failure> {
    ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::Relaxed))
        .map_err(|e| Failure::new(Exit::Fail, format!("cannot catch Ctrl-C: {e}")))
}

fn check_interrupted() -> Result<(), Failure> {
    match INTERRUPTED.load(Ordering::Relaxed) {
        true => Err(Failure::new(Exit::Fail, "interrupted; cleaned up")),
        false => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}
