//! `xdp-loader capture IFNAME`: the packets arriving on an interface,
//! written as tcpdump-style lines and to a pcap file, with xdpdump's
//! options (`-i`, `-w -`, `-x`, `-P`, `-D`, `--rx-capture`, `-p`).
//!
//! - `own`: an interface without XDP gets capture's own program
//!   (xdp_capture, the C tutorial's tracing04 `xdp_sample_pkts`)
//! - `around`, `target`: an interface running XDP is captured around its
//!   program (or, with `-p`, one behind its dispatcher) with fentry/fexit
//! - `transport`: perf buffer or ring buffer
//! - `sink`: each packet's record, line and count; the poll loop
//! - `output`, `pcap`: the pcap file (or standard output)
//! - `summary`: the per-packet line and the hex dump
//! - `clock`: kernel time to wall time
//! - `promisc`: `-P`

mod around;
mod clock;
mod output;
mod own;
mod pcap;
mod promisc;
mod sink;
mod summary;
mod target;
mod transport;

use std::cell::RefCell;

use crate::cli::CaptureArgs;
use crate::commands::require_root;
use crate::error::{Exit, Failure};
use crate::iface::{self, Interface};
use crate::signals;
use output::Output;
use sink::Sink;

/// `--rx-capture`: where a packet is recorded around a running program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxCapture {
    pub entry: bool,
    pub exit: bool,
}

/// `entry`, `exit`, or both separated by a comma (either order).
pub fn parse_rx_capture(text: &str) -> Result<RxCapture, String> {
    let mut points = RxCapture {
        entry: false,
        exit: false,
    };
    for word in text.split(',') {
        match word.trim() {
            "entry" => points.entry = true,
            "exit" => points.exit = true,
            other => return Err(format!("`{other}` is not entry or exit")),
        }
    }
    Ok(points)
}

pub fn run(args: &CaptureArgs) -> anyhow::Result<()> {
    require_root("xdp-loader capture")?;
    if args.list_interfaces {
        print!("{}", list_interfaces()?);
        return Ok(());
    }
    let iface = iface::resolve(args.ifname())?;
    let running = iface::attached(iface.index)?;
    let target = match running.first() {
        Some(attached) => {
            let target = target::choose(&iface, attached, args.program.as_deref())?;
            around::require_trampolines(&iface, &target)?;
            Some(target)
        }
        None => {
            own_program_allowed(args, &iface)?;
            None
        }
    };
    let stop = signals::stop_requests()?;

    // The file comes first: a path that cannot be written changes nothing.
    let output = match &args.write {
        Some(path) => Some(Output::create(path, args.snaplen)?),
        None => None,
    };
    let into = output
        .as_ref()
        .map(|o| format!(" written to {}", o.name()))
        .unwrap_or_default();
    let _promiscuous = match args.promiscuous {
        true => Some(promisc::Promiscuous::enter(&iface)?),
        false => None,
    };
    let lines_to_stderr = args.write.as_deref().is_some_and(output::is_stdout);
    let sink = RefCell::new(Sink::new(
        args,
        output.as_ref().map(|o| &o.writer),
        lines_to_stderr,
    ));
    let to = output
        .as_ref()
        .map(|o| format!(" to {}", o.name()))
        .unwrap_or_default();
    let result = match &target {
        Some(target) => around::capture(args, &iface, target, &stop, &sink, &to),
        None => own::capture(args, &iface, &stop, &sink, &to),
    };
    match (&output, &result) {
        (Some(out), Ok(_)) => out.finish()?,
        // Nothing was captured into it, or it would be half a capture.
        (Some(out), Err(_)) => out.discard(),
        (None, _) => {}
    }
    result?;
    let tally = sink.into_inner().tally;
    if tally.interface_gone {
        return Err(Failure::new(
            Exit::Fail,
            format!(
                "interface {} is gone; {} packet(s) captured before that{into}",
                iface.name, tally.captured
            ),
        )
        .hint(format!("interfaces here: {}", interface_names()))
        .into());
    }
    if let Some(why) = tally.target_gone {
        return Err(Failure::new(
            Exit::Fail,
            format!(
                "{why}; {} packet(s) captured around it before that{into}",
                tally.captured
            ),
        )
        .hint(format!(
            "capture again to capture around what {} runs now (xdp-loader status {0})",
            iface.name
        ))
        .into());
    }
    let lost = match tally.lost {
        0 => String::new(),
        n => format!(
            "; {n} more arrived while the {} was full and were not captured",
            tally.buffer
        ),
    };
    eprintln!(
        "{} packet(s) captured on {}{into}{lost}",
        tally.captured, iface.name
    );
    Ok(())
}

fn interface_names() -> String {
    let names: Vec<String> = iface::all().into_iter().map(|i| i.name).collect();
    names.join(", ")
}

/// `-D`: every interface and the XDP programs on it (the `status` table,
/// as xdpdump -D shows xdp-loader's).
fn list_interfaces() -> Result<String, Failure> {
    let statuses = iface::all()
        .iter()
        .filter_map(|i| match crate::status::collect(i) {
            // Deleted between listing and querying: it is not there now.
            Err(_) if iface::resolve(&i.name).is_err() => None,
            result => Some(result),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(crate::status::render(&statuses))
}

/// What capture's own program cannot do: be chosen with -p, or report a
/// verdict (it passes everything).
fn own_program_allowed(args: &CaptureArgs, iface: &Interface) -> Result<(), Failure> {
    // The program must come off when capture ends, even by SIGKILL: only
    // a bpf_link owned by this process does that.
    crate::features::require(crate::features::Feature::XdpLink, "xdp-loader capture")?;
    let nothing_runs = |option: &str| {
        Failure::new(
            Exit::Usage,
            format!(
                "{option} needs a running XDP program on {} to capture around; it has none",
                iface.name
            ),
        )
    };
    if let Some(program) = &args.program {
        return Err(nothing_runs(&format!("-p {program}"))
            .hint("leave out -p: capture then attaches a program of its own"));
    }
    if args.rx_capture.exit {
        return Err(nothing_runs("--rx-capture exit")
            .hint("capture's own program passes every packet: leave out --rx-capture"));
    }
    Ok(())
}

/// (timestamp_ns, wire length, captured bytes) of one sample in the shape
/// of capture's own program (the tracing04 lesson's): `check tracing04`
/// reads a student's samples with it.
pub(crate) fn parse_sample(data: &[u8]) -> Option<(u64, u32, &[u8])> {
    own::parse_record(data).map(|p| (p.timestamp_ns, p.wire_len, p.bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rx_capture_points() {
        let both = RxCapture {
            entry: true,
            exit: true,
        };
        assert_eq!(parse_rx_capture("entry,exit"), Ok(both));
        assert_eq!(parse_rx_capture("exit,entry"), Ok(both));
        assert_eq!(
            parse_rx_capture("exit"),
            Ok(RxCapture {
                entry: false,
                exit: true
            })
        );
        assert!(parse_rx_capture("entry,exits").is_err());
        assert!(parse_rx_capture("").is_err());
    }
}
