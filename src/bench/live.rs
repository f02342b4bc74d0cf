//! Live traffic: real frames through a veth pair, no external generator.
//!
//! The program under test is attached in native mode to the inside end.
//! The generator, xdp_bench_tx, runs with BPF_PROG_TEST_RUN and
//! BPF_F_TEST_XDP_LIVE_FRAMES as if each frame had arrived on the outside
//! end; its XDP_TX sends the frame back out of that end, so it crosses the
//! pair and meets the program under test in the peer's NAPI poll, exactly
//! as traffic from a wire would. (This is how xdp-tools' xdp-trafficgen
//! works.) The program counts what it sees in its xdp_stats_map.
//!
//! The generator and the receiver share a CPU: after each batch of 64
//! frames the kernel runs the receiving NAPI poll before the next batch,
//! so the rate is that of one CPU doing both halves. It is the frames
//! counted over the kernel's own time for the batches (the duration
//! BPF_PROG_TEST_RUN reports); each call's setup, which waits for RCU
//! grace periods, says nothing about the data path and is left out.

use std::time::{Duration, Instant};

use super::check_interrupted;
use super::frames;
use super::programs::{self, LoadedSubject, Subject};
use super::table::Row;
use super::test_run;
use super::veth::{VethPair, INSIDE};
use crate::attach::{self, Request};
use crate::cli::{AttachKind, Mode};
use crate::error::{Exit, Failure};
use crate::features::{self, Feature};
use crate::iface;
use crate::stats::reader::{Location, StatsMap};

/// Frames per BPF_PROG_TEST_RUN call: small enough to stop on time.
const CHUNK: u32 = 100_000;

/// What one program received.
#[derive(Debug, Clone)]
pub struct Received {
    pub program: &'static str,
    pub sent: u64,
    pub counted: u64,
    pub seconds: f64,
}

impl Received {
    pub fn mpps(&self) -> f64 {
        self.counted as f64 / self.seconds / 1e6
    }

    pub fn lost(&self) -> i64 {
        self.sent as i64 - self.counted as i64
    }
}

/// The programs the live mode runs: pass, drop and the parser.
pub fn subjects() -> [&'static Subject; 3] {
    ["xdp_pass_func", "xdp_drop_func", "xdp_parser_func"]
        .map(|name| programs::find(name).expect("live subjects exist"))
}

/// Sends `size`-byte frames for `seconds` to each subject in turn.
pub fn measure(
    subjects: &[&'static Subject],
    size: usize,
    seconds: f64,
) -> Result<Vec<Received>, Failure> {
    features::require(Feature::LiveFrames, "xdp-loader bench live")?;
    let pair = VethPair::create("l")?;
    let generator = LoadedSubject::load(&programs::GENERATOR)?;
    subjects
        .iter()
        .map(|subject| {
            let receiver = LoadedSubject::load(subject)?;
            attach_inside(&pair, &receiver)?;
            let frame = frames::build(subject.frame, size);
            let (sent, seconds) = send(&pair, &generator, &frame, seconds)?;
            // Frames still queued on the inside end get a moment to land.
            std::thread::sleep(Duration::from_millis(100));
            Ok(Received {
                program: subject.program,
                sent,
                counted: count(&receiver)?,
                seconds,
            })
        })
        .collect()
}

/// Sends `frame` out of the outside end for about `seconds`. Returns the
/// frames sent and the kernel's time spent sending them (and, on the same
/// CPU, receiving them), without each call's setup.
pub(super) fn send(
    pair: &VethPair,
    generator: &LoadedSubject,
    frame: &[u8],
    seconds: f64,
) -> Result<(u64, f64), Failure> {
    let outside = iface::resolve(&pair.name)?;
    let started = Instant::now();
    let (mut sent, mut busy_ns) = (0u64, 0f64);
    while started.elapsed().as_secs_f64() < seconds {
        check_interrupted()?;
        let ns_per_frame =
            test_run::live(generator.fd(), frame, outside.index, CHUNK).map_err(|e| {
                Failure::new(
                    Exit::Fail,
                    format!("live BPF_PROG_TEST_RUN on {}: {e}", pair.name),
                )
            })?;
        sent += u64::from(CHUNK);
        busy_ns += f64::from(ns_per_frame) * f64::from(CHUNK);
    }
    Ok((sent, busy_ns / 1e9))
}

/// The table rows, each rate also as a fraction of the drop program's.
pub fn rows(received: &[Received], size: usize) -> Vec<Row> {
    // The rate relative to the cheapest receiver: 1.0 is as fast as dropping.
    let drop = received
        .iter()
        .find(|r| r.program == "xdp_drop_func")
        .map(Received::mpps);
    received
        .iter()
        .map(|r| {
            let row = Row::new(
                "live veth",
                format!("{} ({size} B, native, inside end)", r.program),
                r.mpps(),
                "Mpps",
            )
            .note(format!(
                "sent {} counted {} lost {}",
                r.sent,
                r.counted,
                r.lost()
            ));
            match drop {
                Some(drop) => row.versus("xdp_drop_func", r.mpps() / drop),
                None => row,
            }
        })
        .collect()
}

/// Attaches in native mode to the inside end, replacing the last subject.
pub(super) fn attach_inside(pair: &VethPair, receiver: &LoadedSubject) -> Result<(), Failure> {
    // The fd alone goes to the thread (the loaded object is not Sync).
    let prog_fd = receiver.fd();
    pair.inside(|| {
        let inside = iface::resolve(INSIDE)?;
        attach::attach(&Request {
            iface: &inside,
            prog_fd,
            mode: Mode::Native,
            kind: AttachKind::Netlink,
            force: true,
        })
        .map(|_| ())
    })
}

/// Packets the receiver counted, all verdicts together.
fn count(receiver: &LoadedSubject) -> Result<u64, Failure> {
    let id = receiver.stats_map_id().ok_or_else(|| {
        Failure::new(
            Exit::Fail,
            format!("{} has no xdp_stats_map", receiver.subject.program),
        )
    })?;
    let counters = StatsMap::open(&Location::Id(id))?.read()?;
    Ok(counters.actions.iter().map(|a| a.rx_packets).sum())
}
