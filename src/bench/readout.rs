//! Stats readout: syscalls and CPU time per sample, for the batch reader
//! that `stats` uses, the C tutorial's one-lookup-per-key reader, and the
//! `stats` command itself.
//!
//! Each runs as its own process, once with 1 sample and once with 1 + N:
//! the difference divided by N is the cost of a sample, without startup.
//! Syscalls are counted by `strace -f -c`. CPU time: the readers time their
//! own loop (CLOCK_PROCESS_CPUTIME_ID); the `stats` command is timed from
//! outside, by the children's user + system time from getrusage.

use std::path::Path;
use std::process::{Command, Stdio};

use super::table::Row;
use super::veth::VethPair;
use super::{check_interrupted, loader_exe, median};
use crate::error::{Exit, Failure};

/// What one sample costs a reader.
#[derive(Debug, Clone, Copy)]
struct PerSample {
    /// None when strace is not installed.
    bpf_calls: Option<f64>,
    syscalls: Option<f64>,
    cpu_us: f64,
}

pub fn measure(samples: u32) -> Result<Vec<Row>, Failure> {
    use crate::features::{self, Feature};
    if features::has(Feature::MapBatch) == Some(false) {
        eprintln!(
            "Note: this kernel has no {} (Linux {}+): the batch reader rows read key by key too",
            Feature::MapBatch.title(),
            Feature::MapBatch.since()
        );
    }
    let pair = VethPair::create("s")?;
    let exe = loader_exe()?;
    let ifname = pair.name.as_str();
    run(&[&exe, "load", "-m", "skb", ifname, "xdp_pass"])?;
    let pin = format!("/sys/fs/bpf/{ifname}/xdp_stats_map");

    let batch = per_sample(samples, Cpu::ReportedByReader, |n| {
        reader_argv(&exe, &pin, n, false)
    })?;
    let per_key = per_sample(samples, Cpu::ReportedByReader, |n| {
        reader_argv(&exe, &pin, n, true)
    })?;
    // The command as users run it, one sample per millisecond: by
    // interface (each sample also asks netlink whether the program is still
    // attached), and by pin directory (no such check).
    let pin_dir = format!("/sys/fs/bpf/{ifname}");
    let stats_samples = samples.min(500);
    let by_iface = per_sample(stats_samples, Cpu::FastestRunDifference, |n| {
        stats_argv(&exe, &[ifname], n)
    })?;
    let by_pin = per_sample(stats_samples, Cpu::FastestRunDifference, |n| {
        stats_argv(&exe, &["--pin-path", &pin_dir], n)
    })?;
    run(&[&exe, "unload", ifname])?;
    Ok(rows(batch, per_key, by_iface, by_pin))
}

/// `xdp-loader bench reader PIN --samples N [--per-key]` (see reader.rs).
fn reader_argv(exe: &str, pin: &str, samples: u32, per_key: bool) -> Vec<String> {
    let mut argv: Vec<String> = [
        exe,
        "bench",
        "reader",
        pin,
        "--samples",
        &samples.to_string(),
    ]
    .map(String::from)
    .to_vec();
    if per_key {
        argv.push("--per-key".into());
    }
    argv
}

/// `xdp-loader stats TARGET... --interval 0.001 --count N --json`.
fn stats_argv(exe: &str, target: &[&str], samples: u32) -> Vec<String> {
    let mut argv = vec![exe.to_string(), "stats".into()];
    argv.extend(target.iter().map(|word| word.to_string()));
    let count = samples.to_string();
    argv.extend(["--interval", "0.001", "--count", &count, "--json"].map(String::from));
    argv
}

fn rows(batch: PerSample, per_key: PerSample, by_iface: PerSample, by_pin: PerSample) -> Vec<Row> {
    let vs = "per-key reader";
    let mut rows = Vec::new();
    if let (Some(ours), Some(theirs)) = (batch.bpf_calls, per_key.bpf_calls) {
        rows.push(
            Row::new(
                "stats",
                "bpf() calls per sample, batch reader".into(),
                ours,
                "calls",
            )
            .versus(vs, ours / theirs)
            .note(format!("per-key reader: {theirs:.2}")),
        );
    }
    if let (Some(ours), Some(theirs)) = (batch.syscalls, per_key.syscalls) {
        rows.push(
            Row::new(
                "stats",
                "syscalls per sample, batch reader".into(),
                ours,
                "calls",
            )
            .versus(vs, ours / theirs)
            .note(format!("per-key reader: {theirs:.2}")),
        );
    }
    rows.push(
        Row::new(
            "stats",
            "CPU per sample, batch reader".into(),
            batch.cpu_us,
            "us",
        )
        .versus(vs, batch.cpu_us / per_key.cpu_us)
        .note(format!("per-key reader: {:.2} us", per_key.cpu_us)),
    );
    match (by_iface.bpf_calls, by_iface.syscalls) {
        (Some(bpf), Some(all)) => rows.push(
            Row::new(
                "stats",
                "xdp-loader stats IF: bpf() calls per sample".into(),
                bpf,
                "calls",
            )
            .note(format!(
                "target 1; all syscalls: {all:.1} (netlink check, pin stat, clock, output)"
            )),
        ),
        _ => rows.push(
            Row::new(
                "stats",
                "xdp-loader stats IF: syscalls".into(),
                f64::NAN,
                "calls",
            )
            .note("not counted: strace is not installed (apt-get install strace)"),
        ),
    }
    rows.push(
        Row::new(
            "stats",
            "xdp-loader stats IF: CPU per sample".into(),
            by_iface.cpu_us,
            "us",
        )
        .note("most of it netlink: is the program still attached? (a dump of every interface)"),
    );
    rows.push(
        Row::new(
            "stats",
            "xdp-loader stats --pin-path: CPU per sample".into(),
            by_pin.cpu_us,
            "us",
        )
        .versus("stats IF", by_pin.cpu_us / by_iface.cpu_us)
        .note(match by_pin.syscalls {
            Some(all) => format!("no interface check; all syscalls: {all:.1}"),
            None => "no interface check".into(),
        }),
    );
    rows
}

/// How the CPU time of one sample is found.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cpu {
    /// `bench reader` times its own loop and prints it: exact.
    ReportedByReader,
    /// A command that cannot time itself: the fastest of several whole
    /// runs, long minus short (the fastest run is the one least disturbed
    /// by anything else on the machine).
    FastestRunDifference,
}

/// The cost of one sample: runs `argv(1)` and `argv(1 + n)` and divides
/// the difference by n.
fn per_sample(n: u32, cpu: Cpu, argv: impl Fn(u32) -> Vec<String>) -> Result<PerSample, Failure> {
    let (short, long) = (argv(1), argv(1 + n));
    let n = f64::from(n);
    let counts = match strace_available() {
        true => Some((strace_counts(&short)?, strace_counts(&long)?)),
        false => None,
    };
    let cpu_us = match cpu {
        Cpu::ReportedByReader => {
            let mut loops = Vec::new();
            for _ in 0..3 {
                check_interrupted()?;
                loops.push(reader_loop_ns(&long)? / 1e3);
            }
            median(&loops) / (n + 1.0)
        }
        Cpu::FastestRunDifference => {
            let (mut fastest_short, mut fastest_long) = (f64::INFINITY, f64::INFINITY);
            for _ in 0..5 {
                check_interrupted()?;
                fastest_short = fastest_short.min(cpu_us(&short)?);
                fastest_long = fastest_long.min(cpu_us(&long)?);
            }
            (fastest_long - fastest_short) / n
        }
    };
    Ok(PerSample {
        bpf_calls: counts.map(|(s, l)| (l.bpf - s.bpf) / n),
        syscalls: counts.map(|(s, l)| (l.total - s.total) / n),
        cpu_us,
    })
}

/// The loop time `bench reader` prints after its total, in ns.
fn reader_loop_ns(argv: &[String]) -> Result<f64, Failure> {
    let out = Command::new(&argv[0])
        .args(&argv[1..])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| Failure::new(Exit::Fail, format!("cannot run {}: {e}", argv[0])))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .nth(1)
        .and_then(|ns| ns.parse().ok())
        .filter(|_| out.status.success())
        .ok_or_else(|| {
            Failure::new(
                Exit::Fail,
                format!("`{}` printed no loop time: {text:?}", argv.join(" ")),
            )
        })
}

#[derive(Debug, Clone, Copy)]
struct Counts {
    bpf: f64,
    total: f64,
}

fn strace_available() -> bool {
    Command::new("strace")
        .arg("-V")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// bpf() calls and all syscalls of `argv`, its threads included.
fn strace_counts(argv: &[String]) -> Result<Counts, Failure> {
    let out_file = std::env::temp_dir().join(format!("xdp-bench-strace-{}", std::process::id()));
    let mut full = vec!["-f", "-c", "-U", "calls,name", "-o", path(&out_file)];
    full.extend(argv.iter().map(String::as_str));
    run_program("strace", &full)?;
    let summary = std::fs::read_to_string(&out_file).unwrap_or_default();
    let _ = std::fs::remove_file(&out_file);
    // Lines are "<calls> <syscall>", the last one "<calls> total".
    let calls = |name: &str| {
        summary.lines().find_map(|line| {
            let mut words = line.split_whitespace();
            let calls = words.next()?.parse::<f64>().ok()?;
            (words.next()? == name).then_some(calls)
        })
    };
    Ok(Counts {
        bpf: calls("bpf").unwrap_or(0.0),
        total: calls("total").ok_or_else(|| {
            Failure::new(
                Exit::Fail,
                format!("no strace summary for `{}`", argv.join(" ")),
            )
        })?,
    })
}

/// User + system CPU time of `argv`, in microseconds.
fn cpu_us(argv: &[String]) -> Result<f64, Failure> {
    let before = children_cpu_us();
    let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
    run_program(&argv[0], &args)?;
    Ok(children_cpu_us() - before)
}

/// CPU time of every child this process has waited for.
fn children_cpu_us() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we pass.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let us = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    us(usage.ru_utime) + us(usage.ru_stime)
}

fn run(argv: &[&str]) -> Result<(), Failure> {
    run_program(argv[0], &argv[1..])
}

fn run_program(program: &str, args: &[&str]) -> Result<(), Failure> {
    let out = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| Failure::new(Exit::Fail, format!("cannot run {program}: {e}")))?;
    if !out.status.success() {
        return Err(Failure::new(
            Exit::Fail,
            format!(
                "`{program} {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    Ok(())
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}
