//! AF_XDP receive rate on the live veth generator: the frames `live`
//! sends, received in user space by an AF_XDP socket (copy mode, the only
//! one veth has) on the inside end, next to XDP_DROP on the same pair.
//!
//! A thread in the namespace runs the socket (the built-in xdp_sock_all
//! redirects every frame to it) and busy-polls its rings while this
//! thread generates. Frames the socket had no room for are lost, and
//! counted as such (sent - received).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use super::frames::{self, Kind};
use super::live::{self, Received};
use super::programs::{self, LoadedSubject};
use super::veth::{VethPair, INSIDE};
use crate::afxdp::{self, Binding, Session, Setup};
use crate::builtin;
use crate::cli::Mode;
use crate::error::{Exit, Failure};
use crate::features::{self, Feature};
use crate::iface;
use crate::object::Source;

/// The row's name (Received.program).
pub const NAME: &str = "AF_XDP socket, copy mode, xdp_sock_all";

pub fn measure(size: usize, seconds: f64) -> Result<Received, Failure> {
    features::require(Feature::LiveFrames, "xdp-loader bench live")?;
    let pair = VethPair::create("a")?;
    let generator = LoadedSubject::load(&programs::GENERATOR)?;
    let frame = frames::build(Kind::Udp, size);
    let stop = AtomicBool::new(false);
    let (ready_tx, ready) = mpsc::channel();
    std::thread::scope(|scope| {
        let receiver = scope.spawn(|| receive(&pair, &stop, ready_tx));
        // The receiver says when its socket is in place (or why not).
        if ready.recv().is_err() {
            let outcome = receiver.join().unwrap_or_else(|_| Err(panicked()));
            return Err(outcome.err().unwrap_or_else(panicked));
        }
        let sent = live::send(&pair, &generator, &frame, seconds);
        // Frames still queued on the inside end get a moment to land.
        std::thread::sleep(Duration::from_millis(100));
        stop.store(true, Ordering::Relaxed);
        let counted = receiver.join().unwrap_or_else(|_| Err(panicked()))?;
        let (sent, seconds) = sent?;
        Ok(Received {
            program: NAME,
            sent,
            counted,
            seconds,
        })
    })
}

/// In the namespace: socket on the inside end, receive until `stop`.
/// Returns the frames user space received.
fn receive(pair: &VethPair, stop: &AtomicBool, ready: mpsc::Sender<()>) -> Result<u64, Failure> {
    pair.enter()?;
    let inside = iface::resolve(INSIDE)?;
    let builtin = builtin::find(afxdp::BUILTIN).expect("built-in xdp_afxdp");
    let mut session = Session::open(&Setup {
        iface: &inside,
        source: Source::Builtin(builtin),
        prog_name: Some("xdp_sock_all"),
        queue: 0,
        binding: Binding::Copy,
        mode: Mode::Native,
    })?;
    let _ = ready.send(());
    while !stop.load(Ordering::Relaxed) {
        session.port.service(|_| false);
    }
    Ok(session.port.rx.packets)
}

fn panicked() -> Failure {
    Failure::new(Exit::Fail, "the AF_XDP receiver thread panicked")
}
