//! What happens to each captured packet, whichever program captured it:
//! a pcap record, a tcpdump-style line (with `-x`, its bytes in hex),
//! and the counts the final message gives.

use std::io::Write;
use std::sync::mpsc::Receiver;
use std::time::Duration;

use super::clock::{time_of_day, Clock};
use super::output::Pcap;
use super::summary;
use crate::cli::CaptureArgs;
use crate::error::{Exit, Failure};
use crate::iface::{self, Interface};

/// Where a packet was recorded, when capture runs around a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    /// Capture's own program (nothing else runs).
    Own,
    /// As the program was entered.
    Entry,
    /// As the program returned this verdict.
    Exit(u32),
}

impl Point {
    /// The line's tag (xdpdump writes `@entry` and `@exit[PASS]`).
    pub fn tag(self) -> String {
        match self {
            Point::Own => String::new(),
            Point::Entry => "@entry ".into(),
            Point::Exit(verdict) => format!("@exit[{}] ", verdict_name(verdict)),
        }
    }
}

pub fn verdict_name(verdict: u32) -> String {
    match verdict {
        0 => "ABORTED".into(),
        1 => "DROP".into(),
        2 => "PASS".into(),
        3 => "TX".into(),
        4 => "REDIRECT".into(),
        other => format!("UNKNOWN({other})"),
    }
}

/// One packet as a capture program handed it over.
pub struct Packet<'d> {
    pub timestamp_ns: u64,
    pub wire_len: u32,
    pub bytes: &'d [u8],
    pub point: Point,
}

#[derive(Default)]
pub struct Tally {
    pub captured: u64,
    pub lost: u64,
    /// "perf buffer" or "ring buffer", for the message about losses.
    pub buffer: &'static str,
    /// The first error writing the file, which ends the capture.
    pub write_error: Option<std::io::Error>,
    /// The interface was deleted while capturing (its program with it).
    pub interface_gone: bool,
    /// Why the program captured around is no longer there to capture
    /// (detached, or replaced as a dispatcher is when programs change).
    pub target_gone: Option<String>,
}

pub struct Sink<'a> {
    pcap: Option<&'a Pcap>,
    clock: Clock,
    limit: u64,
    quiet: bool,
    hex: bool,
    /// Standard error when the pcap goes to standard output.
    lines: Box<dyn Write>,
    pub tally: Tally,
}

impl<'a> Sink<'a> {
    pub fn new(args: &CaptureArgs, pcap: Option<&'a Pcap>, lines_to_stderr: bool) -> Sink<'a> {
        let lines: Box<dyn Write> = match lines_to_stderr {
            true => Box::new(std::io::stderr()),
            false => Box::new(std::io::stdout()),
        };
        Sink {
            pcap,
            clock: Clock::now(),
            limit: args.count.unwrap_or(u64::MAX),
            quiet: args.quiet,
            hex: args.hex,
            lines,
            tally: Tally::default(),
        }
    }

    pub fn full(&self) -> bool {
        self.tally.captured >= self.limit || self.tally.write_error.is_some()
    }

    pub fn record(&mut self, packet: Packet) {
        if self.full() {
            return;
        }
        let at = self.clock.wall_time(packet.timestamp_ns);
        if let Some(pcap) = self.pcap {
            if let Err(e) = pcap.borrow_mut().write(at, packet.wire_len, packet.bytes) {
                self.tally.write_error = Some(e);
                return;
            }
        }
        self.tally.captured += 1;
        if self.quiet {
            return;
        }
        let mut text = format!(
            "{:>5} {} {}{}\n",
            self.tally.captured,
            time_of_day(at),
            packet.point.tag(),
            summary::summarize(packet.bytes, packet.wire_len)
        );
        if self.hex {
            text.push_str(&summary::hex_dump(packet.bytes));
        }
        // A closed pipe (`| head`) ends nothing here: Ctrl-C or --count does.
        let _ = self.lines.write_all(text.as_bytes());
    }

    pub fn lost(&mut self, count: u64) {
        self.tally.lost += count;
    }

    /// Pushes the records out: each round's records reach the file at
    /// once, so a capture killed (SIGKILL, a crash) leaves a pcap file
    /// that tcpdump reads to the end.
    pub fn flush(&mut self) -> Result<(), Failure> {
        let _ = self.lines.flush();
        if let Some(pcap) = self.pcap {
            if let Err(e) = pcap.borrow_mut().flush() {
                self.tally.write_error.get_or_insert(e);
            }
        }
        match &self.tally.write_error {
            Some(e) => Err(Failure::new(
                Exit::Fail,
                format!("writing the capture file failed: {e}"),
            )),
            None => Ok(()),
        }
    }
}

/// How long one poll waits before looking at Ctrl-C and --count again.
pub const POLL: Duration = Duration::from_millis(100);

/// What ends a capture besides --count and write errors.
pub struct Ending<'a> {
    /// Its deletion (the program goes with it).
    pub iface: &'a Interface,
    /// Ctrl-C / SIGTERM.
    pub stop: &'a Receiver<()>,
    /// Why the program captured around is no longer there, if so.
    pub target_gone: &'a dyn Fn() -> Option<String>,
}

/// Polls until --count packets, a write error, or an `ending`. `poll`
/// waits up to POLL for records and hands them to the sink.
pub fn pump(
    sink: &std::cell::RefCell<Sink>,
    ending: &Ending,
    mut poll: impl FnMut(),
) -> Result<(), Failure> {
    let Ending {
        iface,
        stop,
        target_gone,
    } = ending;
    for round in 1u64.. {
        // EINTR (a signal arrived) is not an error: the loop looks at why.
        poll();
        let mut sink = sink.borrow_mut();
        sink.flush()?;
        if sink.full() || stop.try_recv().is_ok() {
            break;
        }
        // Once a second: a deleted interface sends nothing any more.
        if round % 10 == 0 && iface::name_of(iface.index).as_deref() != Some(iface.name.as_str()) {
            sink.tally.interface_gone = true;
            break;
        }
        if round % 10 == 0 {
            if let Some(why) = target_gone() {
                sink.tally.target_gone = Some(why);
                break;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_name_the_point_and_verdict() {
        assert_eq!(Point::Own.tag(), "");
        assert_eq!(Point::Entry.tag(), "@entry ");
        assert_eq!(Point::Exit(1).tag(), "@exit[DROP] ");
        assert_eq!(Point::Exit(9).tag(), "@exit[UNKNOWN(9)] ");
    }
}
