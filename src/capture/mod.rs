//! `xdp-loader capture IFNAME`: the packets arriving on an interface,
//! copied to user space by the xdp_capture program through a perf buffer
//! and written to a pcap file (the C tutorial's tracing04
//! `xdp_sample_pkts_user`).
//!
//! The program is attached through a bpf_link that is not pinned, so it
//! comes off when the command ends, however it ends (Ctrl-C, --count,
//! an error, even SIGKILL): a capture never leaves a program behind.

mod pcap;
mod summary;

use std::cell::RefCell;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use libbpf_rs::{MapCore, MapFlags, PerfBufferBuilder};

use crate::attach::{self, Request};
use crate::builtin;
use crate::cli::{AttachKind, CaptureArgs};
use crate::commands::require_root;
use crate::error::{errno_text, Exit, Failure};
use crate::iface::{self, mode_name, Interface};
use crate::object::{self, Selection, Source};
use crate::signals;
use pcap::PcapWriter;

/// `struct capture_meta` of xdp_capture.bpf.c: what precedes the bytes.
const META_LEN: usize = 16;
/// How long one poll waits before looking at Ctrl-C and --count again.
const POLL: Duration = Duration::from_millis(100);

pub fn run(args: &CaptureArgs) -> anyhow::Result<()> {
    require_root("xdp-loader capture")?;
    let iface = iface::resolve(args.iface.name())?;
    // The program must come off when capture ends, even by SIGKILL: only
    // a bpf_link owned by this process does that.
    crate::features::require(crate::features::Feature::XdpLink, "xdp-loader capture")?;
    attach::refuse_if_busy(
        &iface,
        "capture",
        &format!("or watch what it passes with tcpdump -i {}", iface.name),
    )?;
    let stop = signals::stop_requests()?;

    // The file comes first: a path that cannot be written changes nothing.
    let output = match &args.write {
        Some(path) => Some(Output::create(path, args.snaplen)?),
        None => None,
    };
    let result = capture(args, &iface, &stop, output.as_ref().map(|o| &o.writer));
    match (&output, &result) {
        (Some(out), Ok(_)) => out.finish()?,
        // Nothing was captured into it, or it would be half a capture.
        (Some(out), Err(_)) => out.discard(),
        (None, _) => {}
    }
    let tally = result?;
    let into = args
        .write
        .as_ref()
        .map(|p| format!(" written to {}", p.display()))
        .unwrap_or_default();
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
    let lost = match tally.lost {
        0 => String::new(),
        n => format!("; {n} more arrived while the perf buffer was full and were not captured"),
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

#[derive(Default)]
struct Tally {
    captured: u64,
    lost: u64,
    /// The first error writing the file, which ends the capture.
    write_error: Option<std::io::Error>,
    /// The interface was deleted while capturing (its program with it).
    interface_gone: bool,
}

/// Loads and attaches the capture program, and turns perf samples into
/// pcap records and summary lines until stopped.
fn capture(
    args: &CaptureArgs,
    iface: &Interface,
    stop: &std::sync::mpsc::Receiver<()>,
    writer: Option<&RefCell<PcapWriter<BufWriter<File>>>>,
) -> Result<Tally, Failure> {
    let source = Source::Builtin(builtin::find("xdp_capture").expect("built-in xdp_capture"));
    let loaded = object::load(&source, Selection::default(), None, None)?;
    let map = |name: &str| {
        loaded
            .object
            .maps()
            .find(|m| m.name() == name)
            .expect("a map of xdp_capture")
    };
    map("capture_config")
        .update(
            &0u32.to_ne_bytes(),
            &args.snaplen.to_ne_bytes(),
            MapFlags::ANY,
        )
        .map_err(|e| Failure::new(Exit::Bpf, format!("cannot set the snap length: {e}")))?;

    let clock = Clock::now();
    let tally = RefCell::new(Tally::default());
    let limit = args.count.unwrap_or(u64::MAX);
    let events = map("capture_events");
    let perf = PerfBufferBuilder::new(&events)
        .sample_cb(|_cpu, data: &[u8]| {
            let mut tally = tally.borrow_mut();
            if tally.captured >= limit || tally.write_error.is_some() {
                return;
            }
            let Some((timestamp, wire_len, bytes)) = parse_sample(data) else {
                return;
            };
            let at = clock.wall_time(timestamp);
            if let Some(writer) = writer {
                if let Err(e) = writer.borrow_mut().write(at, wire_len, bytes) {
                    tally.write_error = Some(e);
                    return;
                }
            }
            tally.captured += 1;
            if !args.quiet {
                println!(
                    "{:>5} {} {}",
                    tally.captured,
                    time_of_day(at),
                    summary::summarize(bytes, wire_len)
                );
            }
        })
        .lost_cb(|_cpu, count| tally.borrow_mut().lost += count)
        .build()
        .map_err(|e| Failure::new(Exit::Bpf, format!("cannot open the perf buffer: {e}")))?;

    let _link = attach::attach_while_running(&Request {
        iface,
        prog_fd: loaded.program_fd(),
        mode: args.mode,
        kind: AttachKind::Link,
        force: false,
    })?;
    eprintln!(
        "Capturing on {} ({} mode, snaplen {}){} (Ctrl-C to stop)",
        iface.name,
        mode_name(args.mode),
        args.snaplen,
        args.write
            .as_ref()
            .map(|p| format!(" to {}", p.display()))
            .unwrap_or_default()
    );

    for round in 1u64.. {
        // EINTR (a signal arrived) is not an error: the loop looks at why.
        let _ = perf.poll(POLL);
        let mut tally = tally.borrow_mut();
        // Each round's records reach the file at once: a capture killed
        // (SIGKILL, a crash) leaves a pcap file that tcpdump reads to the end.
        if let Some(writer) = writer {
            if let Err(e) = writer.borrow_mut().flush() {
                tally.write_error.get_or_insert(e);
            }
        }
        if let Some(e) = &tally.write_error {
            return Err(Failure::new(
                Exit::Fail,
                format!("writing the capture file failed: {e}"),
            ));
        }
        if tally.captured >= limit || stop.try_recv().is_ok() {
            break;
        }
        // Once a second: a deleted interface sends nothing any more.
        if round % 10 == 0 && iface::name_of(iface.index).as_deref() != Some(iface.name.as_str()) {
            tally.interface_gone = true;
            break;
        }
    }
    drop(perf);
    Ok(tally.into_inner())
}

/// (timestamp_ns, wire length, captured bytes) of one perf sample.
pub(crate) fn parse_sample(data: &[u8]) -> Option<(u64, u32, &[u8])> {
    let timestamp = u64::from_ne_bytes(data.get(0..8)?.try_into().ok()?);
    let wire_len = u32::from_ne_bytes(data.get(8..12)?.try_into().ok()?);
    let cap_len = u32::from_ne_bytes(data.get(12..16)?.try_into().ok()?) as usize;
    // The kernel pads samples to 8 bytes: take only what was captured.
    let bytes = data.get(META_LEN..)?;
    Some((timestamp, wire_len, &bytes[..cap_len.min(bytes.len())]))
}

/// Turns bpf_ktime_get_ns() (CLOCK_MONOTONIC) into wall-clock time.
struct Clock {
    wall_at_start: SystemTime,
    monotonic_at_start: Duration,
}

impl Clock {
    fn now() -> Clock {
        Clock {
            monotonic_at_start: monotonic(),
            wall_at_start: SystemTime::now(),
        }
    }

    fn wall_time(&self, monotonic_ns: u64) -> SystemTime {
        let at = Duration::from_nanos(monotonic_ns);
        match at.checked_sub(self.monotonic_at_start) {
            Some(after) => self.wall_at_start + after,
            None => self.wall_at_start - (self.monotonic_at_start - at),
        }
    }
}

fn monotonic() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// `HH:MM:SS.micros` (UTC), as tcpdump prints a packet's time.
fn time_of_day(at: SystemTime) -> String {
    let since = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        since.subsec_micros()
    )
}

/// The pcap file being written.
struct Output {
    path: PathBuf,
    writer: RefCell<PcapWriter<BufWriter<File>>>,
}

impl Output {
    fn create(path: &Path, snaplen: u32) -> Result<Output, Failure> {
        let cannot = |e: std::io::Error| {
            let why = e.raw_os_error().map_or(e.to_string(), errno_text);
            Failure::new(
                Exit::Fail,
                format!("cannot create capture file {}: {why}", path.display()),
            )
            .hint("give a path in a directory that exists and that you can write to")
        };
        let file = File::create(path).map_err(cannot)?;
        let mut writer = PcapWriter::new(BufWriter::new(file), snaplen).map_err(cannot)?;
        // The header on disk now: an empty capture is a valid pcap file too.
        writer.flush().map_err(cannot)?;
        Ok(Output {
            path: path.to_path_buf(),
            writer: RefCell::new(writer),
        })
    }

    fn finish(&self) -> Result<(), Failure> {
        self.writer.borrow_mut().flush().map_err(|e| {
            Failure::new(
                Exit::Fail,
                format!("writing {} failed: {e}", self.path.display()),
            )
        })
    }

    fn discard(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_cut_to_the_captured_length() {
        let mut data = Vec::new();
        data.extend_from_slice(&5u64.to_ne_bytes());
        data.extend_from_slice(&1500u32.to_ne_bytes());
        data.extend_from_slice(&3u32.to_ne_bytes());
        data.extend_from_slice(&[1, 2, 3, 0, 0, 0, 0, 0]); // 5 bytes of padding
        let (ts, wire, bytes) = parse_sample(&data).unwrap();
        assert_eq!((ts, wire, bytes), (5, 1500, &[1u8, 2, 3][..]));
        assert!(parse_sample(&data[..10]).is_none());
    }

    #[test]
    fn monotonic_time_maps_to_wall_time() {
        let clock = Clock {
            wall_at_start: SystemTime::UNIX_EPOCH + Duration::from_secs(1000),
            monotonic_at_start: Duration::from_secs(50),
        };
        let at = clock.wall_time(Duration::from_millis(51_500).as_nanos() as u64);
        assert_eq!(
            at,
            SystemTime::UNIX_EPOCH + Duration::from_millis(1_001_500)
        );
        let before = clock.wall_time(Duration::from_secs(49).as_nanos() as u64);
        assert_eq!(before, SystemTime::UNIX_EPOCH + Duration::from_secs(999));
        assert_eq!(time_of_day(at), "00:16:41.500000");
    }
}
