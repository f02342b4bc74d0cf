//! Control plane: whole-process time to attach and detach a program with
//! xdp-loader, with `ip link` and with `bpftool`, on the same object and
//! the same interface, in alternating runs; and how soon `stats` prints.
//!
//! Part of every attach and detach is the kernel's own wait: swapping the
//! XDP dispatcher waits for an RCU grace period (synchronize_rcu in
//! bpf_dispatcher_change_prog), which no tool can avoid. The "kernel
//! attach + detach alone" row times just those two calls, in-process, so
//! what each tool adds on top can be told apart.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use super::programs::{self, LoadedSubject};
use super::table::Row;
use super::veth::VethPair;
use super::{check_interrupted, loader_exe, median};
use crate::builtin;
use crate::error::{Exit, Failure};
use crate::iface;

/// The commands of one attach + detach cycle, each as argv.
type Steps = Vec<Vec<String>>;

/// What is timed: a tool's commands, or the kernel's two calls alone.
enum Contender {
    Tool(Steps),
    KernelOnly,
}

/// Timed runs of each tool and of the kernel calls alone, in rotation, so
/// all see the machine in the same moods.
pub fn measure(runs: u32) -> Result<Vec<Row>, Failure> {
    let pair = VethPair::create("c")?;
    let scratch = Scratch::create()?;
    let [ours, ip, bpftool] = tools(&pair.name, &scratch)?;
    let contenders = [
        Contender::Tool(ours),
        Contender::Tool(ip),
        Contender::Tool(bpftool),
        Contender::KernelOnly,
    ];
    let kernel = KernelCalls::new(&pair)?;
    let mut times = vec![Vec::new(); contenders.len()];
    // Run 0 warms the page cache and is not counted.
    for run in 0..=runs as usize {
        for i in order(run, contenders.len()) {
            check_interrupted()?;
            let ms = match &contenders[i] {
                Contender::Tool(steps) => time(steps)?,
                Contender::KernelOnly => kernel.attach_detach()?,
            };
            if run > 0 {
                times[i].push(ms);
            }
        }
    }
    let [ours, ip, bpftool, floor] = [0, 1, 2, 3].map(|i| median(&times[i]));
    let mut rows = vec![
        Row::new("control", "ip link set xdpgeneric obj .. / off".into(), ip, "ms"),
        Row::new(
            "control",
            "bpftool prog load; net attach; net detach; rm".into(),
            bpftool,
            "ms",
        ),
        Row::new("control", "xdp-loader load -m skb / unload".into(), ours, "ms")
            .versus("ip link", ours / ip)
            .note(format!(
                "{:.2}x bpftool; target <= 0.70x ip link: {}",
                ours / bpftool,
                if ours / ip <= 0.7 { "met" } else { "NOT met" }
            )),
        Row::new(
            "control",
            "kernel attach + detach alone (in-process)".into(),
            floor,
            "ms",
        )
        .note(format!(
            "RCU grace periods every tool waits for; above them: ip link {:.1} ms, xdp-loader {:.1} ms",
            ip - floor,
            ours - floor
        )),
    ];
    rows.push(process_start(runs)?);
    rows.extend(first_stats_lines(&pair, runs)?);
    Ok(rows)
}

/// The `run`-th of all orders of `n` contenders, so that each follows
/// each other equally often: an attach right after another contender's
/// detach waits longer for its grace period, and that must not always hit
/// the same one.
fn order(run: usize, n: usize) -> Vec<usize> {
    let mut left: Vec<usize> = (0..n).collect();
    let mut rank = run % (1..=n).product::<usize>();
    let mut order = Vec::with_capacity(n);
    while !left.is_empty() {
        let ways = (1..left.len()).product::<usize>();
        order.push(left.remove(rank / ways));
        rank %= ways;
    }
    order
}

/// xdp-loader, ip and bpftool, in this order.
fn tools(ifname: &str, scratch: &Scratch) -> Result<[Steps; 3], Failure> {
    let exe = loader_exe()?;
    let obj = scratch.object.to_string_lossy().into_owned();
    let pin = scratch.prog_pin.to_string_lossy().into_owned();
    let cmd = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
    Ok([
        vec![
            cmd(&[&exe, "load", "-m", "skb", ifname, "xdp_pass"]),
            cmd(&[&exe, "unload", ifname]),
        ],
        vec![
            cmd(&[
                "ip",
                "link",
                "set",
                "dev",
                ifname,
                "xdpgeneric",
                "obj",
                &obj,
                "sec",
                "xdp",
            ]),
            cmd(&["ip", "link", "set", "dev", ifname, "xdpgeneric", "off"]),
        ],
        vec![
            cmd(&["bpftool", "prog", "load", &obj, &pin, "type", "xdp"]),
            cmd(&[
                "bpftool",
                "net",
                "attach",
                "xdpgeneric",
                "pinned",
                &pin,
                "dev",
                ifname,
            ]),
            cmd(&["bpftool", "net", "detach", "xdpgeneric", "dev", ifname]),
            cmd(&["rm", &pin]),
        ],
    ])
}

/// Wall-clock milliseconds to run `steps` one after the other.
pub(super) fn time(steps: &[Vec<String>]) -> Result<f64, Failure> {
    let started = Instant::now();
    for step in steps {
        let out = Command::new(&step[0])
            .args(&step[1..])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| Failure::new(Exit::Fail, format!("cannot run {}: {e}", step[0])))?;
        if !out.status.success() {
            return Err(Failure::new(
                Exit::Fail,
                format!(
                    "`{}` failed: {}",
                    step.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            ));
        }
    }
    Ok(started.elapsed().as_secs_f64() * 1e3)
}

/// The kernel's part alone: bpf_xdp_attach + bpf_xdp_detach of a program
/// this process has loaded, with no process to start or object to load.
struct KernelCalls {
    prog: LoadedSubject,
    ifindex: i32,
}

impl KernelCalls {
    fn new(pair: &VethPair) -> Result<KernelCalls, Failure> {
        Ok(KernelCalls {
            prog: LoadedSubject::load(programs::find("xdp_prog_simple")?)?,
            ifindex: iface::resolve(&pair.name)?.index as i32,
        })
    }

    /// Milliseconds inside the two calls.
    fn attach_detach(&self) -> Result<f64, Failure> {
        let fd = std::os::fd::AsRawFd::as_raw_fd(&self.prog.fd());
        let skb = libbpf_sys::XDP_FLAGS_SKB_MODE;
        // SAFETY (both calls): plain syscall wrappers; null opts are allowed.
        let attach = timed(|| unsafe {
            libbpf_sys::bpf_xdp_attach(self.ifindex, fd, skb, std::ptr::null())
        });
        // A pause, as between two processes of a tool: back to back, the
        // second call would start its grace period right after the first's.
        std::thread::sleep(std::time::Duration::from_millis(2));
        let detach =
            timed(|| unsafe { libbpf_sys::bpf_xdp_detach(self.ifindex, skb, std::ptr::null()) });
        match (attach, detach) {
            ((0, a), (0, d)) => Ok(a + d),
            ((a, _), (d, _)) => Err(Failure::new(
                Exit::Fail,
                format!("in-process attach/detach failed ({a}, {d})"),
            )),
        }
    }
}

/// A call's return value and its milliseconds.
fn timed(call: impl FnOnce() -> i32) -> (i32, f64) {
    let started = Instant::now();
    let ret = call();
    (ret, started.elapsed().as_secs_f64() * 1e3)
}

/// Starting a process that does nothing: ours (clap, libbpf, a large
/// binary) against ip.
fn process_start(runs: u32) -> Result<Row, Failure> {
    let exe = loader_exe()?;
    let mut ours = Vec::new();
    let mut ip = Vec::new();
    for _ in 0..runs {
        ours.push(time(&[vec![exe.clone(), "--version".into()]])?);
        ip.push(time(&[vec!["ip".into(), "-V".into()]])?);
    }
    let (ours, ip) = (median(&ours), median(&ip));
    Ok(Row::new(
        "control",
        "process start (xdp-loader --version)".into(),
        ours,
        "ms",
    )
    .versus("ip -V", ours / ip))
}

/// How soon `stats` shows something: its header (startup + opening the
/// map) against a one-shot `bpftool map dump`, and its first sample.
fn first_stats_lines(pair: &VethPair, runs: u32) -> Result<Vec<Row>, Failure> {
    let exe = loader_exe()?;
    let ifname = pair.name.as_str();
    time(&[vec![
        exe.clone(),
        "load".into(),
        "-m".into(),
        "skb".into(),
        ifname.into(),
        "xdp_pass".into(),
    ]])?;
    let pin = format!("/sys/fs/bpf/{ifname}/xdp_stats_map");
    let runs = runs.min(10);
    let (mut header, mut sample, mut dump) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        check_interrupted()?;
        header.push(first_line(&exe, &["stats", ifname, "--count", "1"])?);
        sample.push(first_line(
            &exe,
            &["stats", ifname, "--count", "1", "--json"],
        )?);
        dump.push(time(&[["bpftool", "map", "dump", "pinned", &pin]
            .map(String::from)
            .to_vec()])?);
    }
    time(&[vec![exe, "unload".into(), ifname.into()]])?;
    let (header, sample, dump) = (median(&header), median(&sample), median(&dump));
    Ok(vec![
        Row::new("control", "stats: first line (header)".into(), header, "ms")
            .versus("bpftool map dump", header / dump),
        Row::new("control", "stats: first sample".into(), sample, "ms")
            .note("the first sample period is 0.25 s, as in the C tutorial's xdp_stats"),
    ])
}

/// Milliseconds from starting `exe args` to its first non-empty line.
fn first_line(exe: &str, args: &[&str]) -> Result<f64, Failure> {
    let started = Instant::now();
    let mut child = Command::new(exe)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| Failure::new(Exit::Fail, format!("cannot run {exe}: {e}")))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let line = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find(|l| !l.trim().is_empty());
    let ms = started.elapsed().as_secs_f64() * 1e3;
    // stats only reads: stopping it early is harmless.
    let _ = child.kill();
    let _ = child.wait();
    match line {
        Some(_) => Ok(ms),
        None => Err(Failure::new(
            Exit::Fail,
            format!("`{exe} {}` printed nothing", args.join(" ")),
        )),
    }
}

/// The object file for `ip` and `bpftool` (our built-in xdp_pass, byte
/// for byte) and bpftool's program pin; both removed on drop.
struct Scratch {
    dir: PathBuf,
    object: PathBuf,
    prog_pin: PathBuf,
}

impl Scratch {
    fn create() -> Result<Scratch, Failure> {
        let pid = std::process::id();
        let dir = std::env::temp_dir().join(format!("xdp-bench-{pid}"));
        let scratch = Scratch {
            object: dir.join("xdp_pass.bpf.o"),
            prog_pin: PathBuf::from(format!("/sys/fs/bpf/xdp-bench-{pid}")),
            dir,
        };
        let io = |e: std::io::Error| {
            Failure::new(
                Exit::Fail,
                format!("cannot write {}: {e}", scratch.object.display()),
            )
        };
        std::fs::create_dir_all(&scratch.dir).map_err(io)?;
        let xdp_pass = builtin::find("xdp_pass").expect("xdp_pass is built in");
        std::fs::write(&scratch.object, xdp_pass.object).map_err(io)?;
        Ok(scratch)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.prog_pin);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_order_in_turn() {
        let orders: Vec<Vec<usize>> = (0..6).map(|run| order(run, 3)).collect();
        assert_eq!(orders[0], [0, 1, 2]);
        assert_eq!(orders[5], [2, 1, 0]);
        let mut sorted = orders.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 6, "{orders:?}");
        assert_eq!(order(6, 3), orders[0]);
    }
}
