//! Capture throughput (`bench capture`): how many packets per second
//! `capture` writes while every packet it does not write is counted as
//! lost, next to xdpdump (xdp-tools) where it runs.
//!
//! Frames come from the live-frames generator (see `live`) into the inside
//! end of a private veth pair, as fast as it sends them. Each contender
//! runs as its own process in the namespace and writes to /dev/null:
//! - capture's own program, with each buffer this kernel has;
//! - capture around a running program (xdp_pass_func, fentry), and
//!   xdpdump around the same program, where the kernel has trampolines.
//!
//! The rate is the packets written over the time the frames took to send.
//! The oracle for what arrived is the inside end's receive counter (from
//! netlink, not from the contender): written + lost must equal it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use super::frames;
use super::live::attach_inside;
use super::programs::{self, LoadedSubject};
use super::table::Row;
use super::test_run;
use super::veth::{VethPair, INSIDE};
use super::{check_interrupted, loader_exe};
use crate::error::{Exit, Failure};
use crate::features::{self, Feature};
use crate::iface;

const XDPDUMP: &str = "/usr/sbin/xdpdump";
/// Frames per BPF_PROG_TEST_RUN call.
const CHUNK: u32 = 100_000;
const SIZE: usize = 64;

/// What one contender did with the frames that arrived.
struct Outcome {
    arrived: u64,
    written: u64,
    lost: u64,
    seconds: f64,
}

impl Outcome {
    fn mpps(&self) -> f64 {
        self.written as f64 / self.seconds / 1e6
    }

    fn note(&self) -> String {
        let accounted = match self.written + self.lost == self.arrived {
            true => "every packet written or counted lost".to_string(),
            false => format!(
                "NOT accounted for: {}",
                self.arrived as i64 - (self.written + self.lost) as i64
            ),
        };
        format!(
            "arrived {} written {} lost {}: {accounted}",
            self.arrived, self.written, self.lost
        )
    }
}

pub fn measure(seconds: f64) -> Result<Vec<Row>, Failure> {
    features::require(Feature::LiveFrames, "xdp-loader bench capture")?;
    let pair = VethPair::create("c")?;
    let generator = LoadedSubject::load(&programs::GENERATOR)?;
    let frame = frames::build(programs::GENERATOR.frame, SIZE);
    let exe = loader_exe()?;
    let ours = |buffer: &str| -> Vec<String> {
        [
            &exe,
            "capture",
            INSIDE,
            "-w",
            "/dev/null",
            "-q",
            "--buffer",
            buffer,
        ]
        .map(str::to_string)
        .to_vec()
    };
    let run = |command: Vec<String>| run_one(&pair, &generator, &frame, seconds, command);

    let mut rows = Vec::new();
    let (auto, buffer) = run(ours("auto"))?;
    let label = |what: &str| format!("{what} ({SIZE} B)");
    rows.push(
        Row::new(
            "capture",
            label(&format!("capture, own program, {buffer}")),
            auto.mpps(),
            "Mpps",
        )
        .note(auto.note()),
    );
    if buffer == "ring buffer" {
        let (perf, _) = run(ours("perf"))?;
        rows.push(
            Row::new(
                "capture",
                label("capture, own program, perf buffer"),
                perf.mpps(),
                "Mpps",
            )
            .versus("ring buffer", perf.mpps() / auto.mpps())
            .note(perf.note()),
        );
    }

    if features::has(Feature::Fentry) != Some(true) {
        eprintln!(
            "Note: no rows for capture around a running program (and xdpdump): this kernel has no {}",
            Feature::Fentry.title()
        );
        return Ok(rows);
    }
    let receiver = LoadedSubject::load(programs::find("xdp_pass_func")?)?;
    attach_inside(&pair, &receiver)?;
    let (around, buffer) = run(ours("auto"))?;
    let mut row = Row::new(
        "capture",
        label(&format!("capture around xdp_pass_func, {buffer}")),
        around.mpps(),
        "Mpps",
    )
    .note(around.note());
    if std::path::Path::new(XDPDUMP).exists() {
        let (xdpdump, _) = run([XDPDUMP, "-i", INSIDE, "-w", "/dev/null"]
            .map(str::to_string)
            .to_vec())?;
        row = row.versus("xdpdump", around.mpps() / xdpdump.mpps());
        rows.push(row);
        rows.push(
            Row::new(
                "capture",
                label("xdpdump around xdp_pass_func"),
                xdpdump.mpps(),
                "Mpps",
            )
            .note(xdpdump.note()),
        );
    } else {
        rows.push(row.note(format!("{}; no {XDPDUMP} to compare with", around.note())));
    }
    Ok(rows)
}

/// Starts `command` in the namespace, sends frames for `seconds`, stops it
/// with SIGINT and reads what it says it wrote and lost. Also returns the
/// buffer it named ("ring buffer", "perf buffer").
fn run_one(
    pair: &VethPair,
    generator: &LoadedSubject,
    frame: &[u8],
    seconds: f64,
    command: Vec<String>,
) -> Result<(Outcome, String), Failure> {
    check_interrupted()?;
    let mut child = Contender::start(&pair.name, &command)?;
    let ready = child.wait_for(&["Capturing on", "listening on"], Duration::from_secs(120))?;
    let buffer = ["ring buffer", "perf buffer"]
        .into_iter()
        .find(|b| ready.contains(b))
        .unwrap_or("perf buffer")
        .to_string();
    let before = inside_rx_packets(pair)?;
    let outside = iface::resolve(&pair.name)?;
    let started = Instant::now();
    while started.elapsed().as_secs_f64() < seconds {
        check_interrupted()?;
        test_run::live(generator.fd(), frame, outside.index, CHUNK).map_err(|e| {
            Failure::new(
                Exit::Fail,
                format!("live BPF_PROG_TEST_RUN on {}: {e}", pair.name),
            )
        })?;
    }
    let sent_for = started.elapsed().as_secs_f64();
    // What is in flight lands, and the contender reads what is queued.
    std::thread::sleep(Duration::from_millis(500));
    let arrived = inside_rx_packets(pair)? - before;
    let lines = child.stop()?;
    let (written, lost) = counts(&lines).ok_or_else(|| {
        Failure::new(Exit::Fail, format!("{} gave no counts", command[0]))
            .details(lines.iter().rev().take(5).rev().cloned())
    })?;
    Ok((
        Outcome {
            arrived,
            written,
            lost,
            seconds: sent_for,
        },
        buffer,
    ))
}

/// (written, lost) from the last lines of capture or xdpdump.
fn counts(lines: &[String]) -> Option<(u64, u64)> {
    let number_before = |line: &str, words: &str| -> Option<u64> {
        let (head, _) = line.split_once(words)?;
        head.rsplit([' ', '\n']).next()?.trim().parse().ok()
    };
    // capture: "N packet(s) captured on IF ...; M more arrived while the ... was full"
    if let Some(line) = lines
        .iter()
        .rev()
        .find(|l| l.contains(" packet(s) captured on "))
    {
        let written = number_before(line, " packet(s) captured")?;
        let lost = line
            .split_once("; ")
            .and_then(|(_, rest)| number_before(rest, " more arrived"))
            .unwrap_or(0);
        return Some((written, lost));
    }
    // xdpdump: "N packets captured", "M packets dropped by perf ring"
    let find = |words: &str| lines.iter().find_map(|l| number_before(l, words));
    Some((
        find(" packets captured")?,
        find(" packets dropped by perf ring")?,
    ))
}

/// Packets the inside end has received, by netlink (`ip -s -j link`).
fn inside_rx_packets(pair: &VethPair) -> Result<u64, Failure> {
    let out = Command::new("ip")
        .args(["-n", &pair.name, "-s", "-j", "link", "show", "dev", INSIDE])
        .output()
        .map_err(|e| Failure::new(Exit::Fail, format!("cannot run ip: {e}")))?;
    let link: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| Failure::new(Exit::Fail, format!("ip -s -j link: {e}")))?;
    link[0]["stats64"]["rx"]["packets"]
        .as_u64()
        .ok_or_else(|| Failure::new(Exit::Fail, "ip -s -j link gave no rx packet count"))
}

/// A capture process in the namespace, its standard error read line by line.
struct Contender {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Contender {
    fn start(netns: &str, command: &[String]) -> Result<Contender, Failure> {
        let mut child = Command::new("ip")
            .args(["netns", "exec", netns])
            .args(command)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Failure::new(Exit::Fail, format!("cannot start {}: {e}", command[0])))?;
        let (tx, lines) = mpsc::channel();
        let stderr = child.stderr.take().expect("piped");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Contender {
            child,
            lines,
            seen: Vec::new(),
        })
    }

    /// The first line containing one of `texts`.
    fn wait_for(&mut self, texts: &[&str], timeout: Duration) -> Result<String, Failure> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if texts.iter().any(|t| line.contains(t)) => return Ok(line),
                Ok(line) => self.seen.push(line),
                Err(_) => {
                    return Err(
                        Failure::new(Exit::Fail, "a capture contender did not start")
                            .details(self.seen.iter().rev().take(5).rev().cloned()),
                    )
                }
            }
        }
    }

    /// SIGINT, then every line it wrote until it exits.
    fn stop(mut self) -> Result<Vec<String>, Failure> {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return Err(Failure::new(
                    Exit::Fail,
                    "a capture contender did not stop on SIGINT",
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.wait();
        self.seen.extend(self.lines.try_iter());
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(500)) {
            self.seen.push(line);
        }
        Ok(std::mem::take(&mut self.seen))
    }
}

impl Drop for Contender {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[&str]) -> Vec<String> {
        text.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn counts_of_capture_and_xdpdump() {
        let ours = lines(&["Capturing on veth0 ...", "1200 packet(s) captured on veth0 written to /dev/null; 34 more arrived while the ring buffer was full and were not captured"]);
        assert_eq!(counts(&ours), Some((1200, 34)));
        let none_lost = lines(&["7 packet(s) captured on veth0 written to /dev/null"]);
        assert_eq!(counts(&none_lost), Some((7, 0)));
        let xdpdump = lines(&[
            "listening on veth0, ingress XDP program ...",
            "",
            "5000 packets captured",
            "12 packets dropped by perf ring",
        ]);
        assert_eq!(counts(&xdpdump), Some((5000, 12)));
        assert_eq!(counts(&lines(&["Error: no"])), None);
        assert_eq!(
            counts(&lines(&["5000 packets captured"])),
            None,
            "xdpdump's loss line is needed"
        );
    }
}
