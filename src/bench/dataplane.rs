//! Per-packet cost of the built-in programs with BPF_PROG_TEST_RUN, as a
//! ratio to the bare pass program measured in the same run.
//!
//! Each measurement is the median of ROUNDS calls, and every round times
//! the bare pass program and each subject back to back, so a busy moment
//! of a shared machine hits both sides of a ratio alike.

use super::frames;
use super::programs::{self, LoadedSubject, Subject};
use super::table::Row;
use super::{check_interrupted, median};
use crate::error::{Exit, Failure};

const ROUNDS: usize = 9;
/// One-shot programs run once per call: this many calls per round at most.
const ONE_SHOT_CALLS: u32 = 1000;

/// What one program costs per packet.
#[derive(Debug, Clone)]
pub struct Cost {
    pub program: &'static str,
    pub ns: f64,
    /// ns / the bare pass program's ns.
    pub ratio: f64,
}

/// Measures `subjects` on frames of `size` bytes, `repeat` runs per call.
pub fn measure(
    subjects: &[&'static Subject],
    size: usize,
    repeat: u32,
) -> Result<Vec<Cost>, Failure> {
    let bare = Timer::new(&programs::BARE_PASS, size)?;
    // None: the subject is the baseline itself, whose row shows its numbers.
    let timers: Vec<Option<Timer>> = subjects
        .iter()
        .map(|s| match s.program == programs::BARE_PASS.program {
            true => Ok(None),
            false => Timer::new(s, size).map(Some),
        })
        .collect::<Result<_, _>>()?;
    let calls = repeat.min(ONE_SHOT_CALLS);

    let mut bare_ns = Vec::new();
    let mut samples = vec![Vec::new(); timers.len()];
    for _ in 0..ROUNDS {
        check_interrupted()?;
        bare_ns.push(bare.per_run(repeat)?);
        for (timer, samples) in timers.iter().zip(&mut samples) {
            let ns = match timer {
                None => *bare_ns.last().expect("measured above"),
                Some(timer) if !timer.prog.subject.one_shot => timer.per_run(repeat)?,
                // A single run's time includes the kernel's timer reads and
                // loop overhead, which a long repeat spreads thin: take off
                // what the same single run costs the bare pass program.
                Some(timer) => {
                    let net = timer.single_run(calls)? - bare.single_run(calls)?;
                    median(&bare_ns) + net.max(0.0)
                }
            };
            samples.push(ns);
        }
    }
    let bare_ns = median(&bare_ns);
    Ok(subjects
        .iter()
        .zip(samples)
        .map(|(subject, samples)| {
            let ns = median(&samples);
            Cost {
                program: subject.program,
                ns,
                ratio: ns / bare_ns,
            }
        })
        .collect())
}

/// The table rows for `costs`.
pub fn rows(costs: &[Cost], size: usize) -> Vec<Row> {
    costs
        .iter()
        .map(|cost| {
            let subject = programs::find(cost.program).expect("measured subjects exist");
            let how = match subject.one_shot {
                true => ", fresh frame each run",
                false => "",
            };
            Row::new(
                "data plane",
                format!("{} ({size} B {})", cost.program, subject.frame.describe()),
                cost.ns,
                "ns/pkt",
            )
            .shown(format!("{:.1} ns/pkt  {:.1} Mpps", cost.ns, 1e3 / cost.ns))
            .versus("xdp_bare_pass", cost.ratio)
            .note(match subject.target {
                Some(target) => format!(
                    "BPF_PROG_TEST_RUN{how}; target <= {target:.2}x: {}",
                    if cost.ratio <= target {
                        "met"
                    } else {
                        "NOT met"
                    }
                ),
                None => format!("BPF_PROG_TEST_RUN{how}"),
            })
        })
        .collect()
}

/// A loaded subject and its frame.
struct Timer {
    prog: LoadedSubject,
    frame: Vec<u8>,
}

impl Timer {
    fn new(subject: &'static Subject, size: usize) -> Result<Timer, Failure> {
        Ok(Timer {
            prog: LoadedSubject::load(subject)?,
            frame: frames::build(subject.frame, size),
        })
    }

    /// The kernel's mean ns per run over `repeat` runs of one call.
    fn per_run(&self, repeat: u32) -> Result<f64, Failure> {
        let run = super::test_run::repeat(self.prog.fd(), &self.frame, repeat)
            .map_err(|e| self.failure(e))?;
        self.check_verdict(run.verdict)?;
        Ok(f64::from(run.ns_per_run))
    }

    /// The median ns of `calls` calls that each run the program once.
    fn single_run(&self, calls: u32) -> Result<f64, Failure> {
        let mut ns = Vec::with_capacity(calls as usize);
        for _ in 0..calls {
            let run = super::test_run::repeat(self.prog.fd(), &self.frame, 1)
                .map_err(|e| self.failure(e))?;
            self.check_verdict(run.verdict)?;
            ns.push(f64::from(run.ns_per_run));
        }
        Ok(median(&ns))
    }

    fn check_verdict(&self, verdict: u32) -> Result<(), Failure> {
        let subject = self.prog.subject;
        if verdict == subject.verdict {
            return Ok(());
        }
        Err(Failure::new(
            Exit::Fail,
            format!(
                "{} returned verdict {verdict} on its {} frame, expected {}: the benchmark would time the wrong path",
                subject.program,
                subject.frame.describe(),
                subject.verdict
            ),
        ))
    }

    fn failure(&self, err: std::io::Error) -> Failure {
        Failure::new(
            Exit::Fail,
            format!(
                "BPF_PROG_TEST_RUN of {} failed: {err}",
                self.prog.subject.program
            ),
        )
    }
}
