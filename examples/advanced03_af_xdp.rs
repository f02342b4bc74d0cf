//! Lesson advanced03's user-space program (the C tutorial's af_xdp_user)
//! around the student's `process_packet` (lessons/advanced03-afxdp/
//! process_packet.rs): an AF_XDP socket on IFNAME, the lesson's XDP object
//! (or the built-in xdp_afxdp) feeding it, each received frame handed to
//! process_packet, replies sent back out.
//!
//!     sudo cargo run --example advanced03_af_xdp -- IFNAME [FILE.o]
//!     cargo run --example advanced03_af_xdp -- --check     (assignment 3)

#[path = "../lessons/advanced03-afxdp/process_packet.rs"]
mod process_packet;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use process_packet::process_packet;
use xdp_tutorial::afxdp::{check, Binding, Session, Setup, BUILTIN, DEFAULT_PROGRAM};
use xdp_tutorial::builtin;
use xdp_tutorial::cli::Mode;
use xdp_tutorial::iface;
use xdp_tutorial::object::Source;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--check") {
        let findings = check::echo_responder(&mut process_packet);
        for f in &findings {
            let mark = if f.passed { "PASS" } else { "FAIL" };
            println!("{mark}  {}  {}", f.what, f.detail);
        }
        std::process::exit(if findings.iter().all(|f| f.passed) {
            0
        } else {
            1
        });
    }
    let Some(ifname) = args.first() else {
        eprintln!("usage: advanced03_af_xdp IFNAME [FILE.o] | --check");
        std::process::exit(2);
    };
    let iface = iface::resolve(ifname)?;
    let (source, prog_name) = match args.get(1) {
        Some(file) => (Source::resolve(file)?, None),
        None => (
            Source::Builtin(builtin::find(BUILTIN).expect("built-in")),
            Some(DEFAULT_PROGRAM),
        ),
    };
    // Setting up: load, UMEM + socket + rings, XSKMAP entry, attach.
    let mut session = Session::open(&Setup {
        iface: &iface,
        source,
        prog_name,
        queue: 0,
        binding: Binding::Copy,
        mode: Mode::Native,
    })?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed))?;
    println!("AF_XDP socket on {ifname} queue 0; Ctrl-C to stop");

    let mut last = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if session.port.service(process_packet) == 0 {
            // Nothing arrived: give the CPU back for a moment.
            std::thread::sleep(Duration::from_micros(200));
        }
        if last.elapsed() >= Duration::from_secs(2) {
            println!(
                "RX {} packets, TX {} packets",
                session.port.rx.packets, session.port.tx.packets
            );
            last = Instant::now();
        }
    }
    // Dropping the session detaches the program, then closes the socket.
    drop(session);
    println!("detached from {ifname}");
    Ok(())
}
