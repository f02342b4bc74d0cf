//! The guest suite: a compact run of every command on whatever kernel runs
//! it. `make test-kernels` runs this test binary inside QEMU guests with
//! Debian's 5.10, 6.1 and 6.12 kernels (tests/kernels/); `cargo test` runs
//! it on the host's kernel. Each test is one row of the kernel table.
//!
//! Oracles, as everywhere: `ip -j link`, `bpftool -j`, ping's replies, the
//! host end's rx counter, `tcpdump -r`. Where a kernel lacks a feature, the
//! test checks the tool's refusal (naming the feature) and reports
//! "refused" to the lane through XDP_GUEST_REPORT (see report()).

mod common;

use std::time::{Duration, Instant};

use common::background::Background;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use common::features::*;
use common::*;
use serde_json::Value;

/// The running kernel's (major, minor), from uname: the oracle for what a
/// kernel lacks, independent of the tool's own probes.
fn kernel_version() -> (u32, u32) {
    let release = sh("uname", &["-r"]);
    let mut parts = release
        .trim()
        .split(['.', '-'])
        .map(|p| p.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// Tells the lane (tests/kernels/lane) how `check` passed, when not simply:
/// "refused" (the kernel lacks what it needs, and the tool said so) or
/// "absent" (what it tests is not in this build).
fn report(check: &str, status: &str, why: &str) {
    eprintln!("{check}: {status}: {why}");
    if let Ok(report) = std::env::var("XDP_GUEST_REPORT") {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(report)
            .expect("open XDP_GUEST_REPORT");
        writeln!(file, "{check}\t{status}\t{why}").unwrap();
    }
}

/// Live frames (BPF_F_TEST_XDP_LIVE_FRAMES) run through the kernel's XDP
/// dispatcher, which every native attach or detach rewrites in place. On
/// Debian's 6.12 under QEMU's TCG emulation the two at once ended in
/// "Oops: int3" in bpf_dispatcher_xdp_func (a patch site seen half-made by
/// the other vCPU), twice in a row. So the tests that run live frames run
/// alone; the others share.
static DISPATCHER: RwLock<()> = RwLock::new(());

fn shares_the_dispatcher() -> RwLockReadGuard<'static, ()> {
    DISPATCHER.read().unwrap_or_else(|e| e.into_inner())
}

fn runs_live_frames() -> RwLockWriteGuard<'static, ()> {
    DISPATCHER.write().unwrap_or_else(|e| e.into_inner())
}

/// Pings the host end `count` times from inside; the number of replies.
fn replies(net: &TestNet, count: u32) -> u32 {
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", &net.name, "ping", "-6", "-q", "-n"])
        .args([
            "-c",
            &count.to_string(),
            "-i",
            "0.2",
            "-W",
            "1",
            &net.host_ip,
        ])
        .output()
        .expect("run ping");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split(", ")
        .find_map(|part| part.strip_suffix(" received"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no ping summary: {text}"))
}

/// The attached program's id and `ip link` mode number on the host end.
fn attached(net: &TestNet) -> Option<(u64, u64)> {
    let xdp = net.ip_link_xdp()?;
    Some((xdp["prog"]["id"].as_u64()?, xdp["mode"].as_u64()?))
}

/// The name of program `id`, by bpftool.
fn prog_name(id: u64) -> String {
    json("bpftool", &["-j", "prog", "show", "id", &id.to_string()])["name"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Every XDP program built in, with the replies to 2 pings from inside it
/// lets through when attached to the host end (nothing configured).
const BUILTINS: &[(&str, &str, u32)] = &[
    ("xdp_pass", "xdp_prog_simple", 2),
    ("xdp_prog", "xdp_pass_func", 2),
    ("xdp_prog", "xdp_drop_func", 0),
    ("xdp_prog", "xdp_abort_func", 0),
    ("xdp_stats1", "xdp_stats1_func", 2),
    // Drops echo requests with an even sequence number: the 2nd.
    ("xdp_parser", "xdp_parser_func", 1),
    ("xdp_rewrite", "xdp_port_rewrite_func", 2),
    // Pushes a VLAN tag the host end has no device for.
    ("xdp_rewrite", "xdp_vlan_swap_func", 0),
    // No target configured, for this host, no redirect map entry: pass.
    ("xdp_redirect", "xdp_redirect_func", 2),
    ("xdp_redirect", "xdp_redirect_map_func", 2),
    ("xdp_redirect", "xdp_router_func", 2),
    ("xdp_redirect", "xdp_pass_func", 2),
    ("xdp_printk", "xdp_printk_func", 2),
    ("xdp_capture", "xdp_capture_func", 2),
    ("xdp_map_in_map", "xdp_proto_count_func", 2),
    ("xdp_src_count", "xdp_src_count_func", 2),
    ("xdp_bench", "xdp_bare_pass", 2),
    // Bounces each request back unchanged: the namespace ignores it.
    ("xdp_bench", "xdp_bench_tx", 0),
];

/// Attaches every built-in program in `mode` with --force, one after the
/// other, each checked by ip link, bpftool and ping.
fn every_builtin_in(mode: &str) {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    for &(object, program, want) in BUILTINS {
        let run = loader(&[
            "load",
            "-F",
            "-m",
            mode,
            net.host_if(),
            object,
            "-n",
            program,
        ]);
        assert_eq!(run.code, 0, "{object} {program} in {mode} mode: {run:#?}");
        let (id, mode_number) = attached(&net).expect("ip link shows a program");
        assert_eq!(mode_number, ip_mode_number(mode), "{program}");
        // The kernel keeps the first 15 characters of a program's name.
        assert!(program.starts_with(&prog_name(id)), "{program}: {id}");
        assert_eq!(replies(&net, 2), want, "{program} in {mode} mode");
    }
    loader(&["unload", net.host_if(), "--all"]).ok();
    assert_eq!(attached(&net), None, "unload --all left a program");
}

#[test]
fn builtins_native() {
    let _dispatcher = shares_the_dispatcher();
    every_builtin_in("native");
}

#[test]
fn builtins_skb() {
    let _dispatcher = shares_the_dispatcher();
    every_builtin_in("skb");
}

/// XDP_TX answers pings on veth0 inside, whose kernel ignores them.
#[test]
fn xdp_tx_echo() {
    let _dispatcher = shares_the_dispatcher();
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let quiet = ["sysctl", "-qw", "net.ipv6.icmp.echo_ignore_all=1"];
    let mut args = vec!["netns", "exec", &net.name];
    args.extend_from_slice(&quiet);
    sh("ip", &args);
    let ping_inside = || {
        std::process::Command::new("ping")
            .args(["-6", "-q", "-c", "1", "-W", "1", &net.peer_ip])
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(
        !ping_inside(),
        "the namespace's kernel ignores echo requests"
    );
    // A veth delivers XDP_TX frames to a peer that runs XDP.
    loader(&["load", net.host_if(), "xdp_pass"]).ok();
    net.loader_inside(&["load", "veth0", "xdp_redirect", "-n", "xdp_icmp_echo_func"])
        .ok();
    assert!(ping_inside(), "XDP answers instead");
}

#[test]
fn force_replace() {
    let _dispatcher = shares_the_dispatcher();
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    loader(&["load", net.host_if(), "xdp_pass"]).ok();
    let (first, _) = attached(&net).unwrap();
    let run = loader(&["load", net.host_if(), "xdp_prog", "-n", "xdp_drop_func"]).fails_with(30);
    assert!(run.hint().contains("--force"), "{run:#?}");
    assert_eq!(
        attached(&net).unwrap().0,
        first,
        "a refused load changes nothing"
    );
    loader(&[
        "load",
        "--force",
        net.host_if(),
        "xdp_prog",
        "-n",
        "xdp_drop_func",
    ])
    .ok();
    let (second, _) = attached(&net).unwrap();
    assert_ne!(second, first);
    assert_eq!(prog_name(second), "xdp_drop_func");
    assert_eq!(replies(&net, 1), 0);
}

#[test]
fn attach_link() {
    let _dispatcher = shares_the_dispatcher();
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    loader(&["load", "--attach", "link", net.host_if(), "xdp_pass"]).ok();
    let (id, _) = attached(&net).expect("attached");
    let links = json("bpftool", &["-j", "link", "show"]);
    let link = links
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["prog_id"] == id)
        .unwrap_or_else(|| panic!("no bpf_link for program {id}: {links}"));
    assert_eq!(link["type"], "xdp", "{link}");
    assert_eq!(replies(&net, 1), 1);
    loader(&["unload", net.host_if(), "--all"]).ok();
    assert_eq!(attached(&net), None);
}

#[test]
fn stats() {
    let _dispatcher = shares_the_dispatcher();
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    loader(&["load", net.host_if(), "xdp_stats1"]).ok();
    net.settle();
    let before = (net.host_rx_packets(), net.pinned_pass_count());
    assert_eq!(replies(&net, 3), 3);
    let arrived = net.host_rx_packets() - before.0;
    // The program counts what arrived (the host end's counter) as XDP_PASS...
    let passed = net.pinned_pass_count();
    assert_eq!(passed - before.1, arrived);
    // ...and stats shows the count bpftool reads.
    let run = loader(&["stats", net.host_if(), "--count", "1", "--json"]).ok();
    let sample: Value = serde_json::from_str(run.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(sample["actions"]["XDP_PASS"]["packets"], passed, "{sample}");
}

#[test]
fn map_dump_update() {
    let _dispatcher = shares_the_dispatcher();
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    loader(&["load", net.host_if(), "xdp_stats1"]).ok();
    let spec = format!("{}:xdp_stats_map", net.host_if());
    let pin = format!("/sys/fs/bpf/{}/xdp_stats_map", net.name);
    let update = [
        "map",
        "update",
        &spec,
        "4",
        "{rx_packets: 7, rx_bytes: 700}",
    ];
    loader(&update).ok();
    // Per-CPU: the value goes to every CPU; bpftool sums them.
    let cpus = json("bpftool", &["-j", "map", "dump", "pinned", &pin])[0]["values"]
        .as_array()
        .unwrap()
        .len() as u64;
    assert_eq!(bpftool_counts(&pin)[4], (7 * cpus, 700 * cpus));
    let run = loader(&["map", "dump", &spec, "--json"]).ok();
    let dump: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(dump["entries"][4]["sum"]["rx_packets"], 7 * cpus, "{dump}");
}

/// Waits for `trace`/`monitor`/`capture` in the background to say `ready`.
fn started(args: &[&str], ready: &str) -> Background {
    let mut process = Background::spawn(args);
    process.wait_stderr(ready, Duration::from_secs(60));
    process
}

#[test]
fn monitor() {
    let _dispatcher = shares_the_dispatcher();
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    loader(&["load", net.host_if(), "xdp_prog", "-n", "xdp_abort_func"]).ok();
    net.settle();
    let mut monitor = started(&["monitor", "--json", "--interval", "0.5"], "Monitoring");
    let before = net.host_rx_packets();
    assert_eq!(replies(&net, 3), 0);
    let arrived = net.host_rx_packets() - before;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut counted = 0;
    while counted < arrived && Instant::now() < deadline {
        let sample = monitor.next_json(Duration::from_secs(30));
        counted = sample["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["event"] == "xdp_exception" && r["device"] == net.host_if())
            .map(|r| r["packets"].as_u64().unwrap())
            .sum();
    }
    assert_eq!(counted, arrived, "one xdp_exception per aborted packet");
}

#[test]
fn trace() {
    let _dispatcher = shares_the_dispatcher();
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    loader(&["load", net.host_if(), "xdp_printk"]).ok();
    let trace = started(&["trace"], "Reading bpf_printk lines");
    assert_eq!(replies(&net, 2), 2);
    let ours = format!("src: {} dst: {}", net.peer_mac(), net.host_mac());
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = 0;
    while seen < 2 && Instant::now() < deadline {
        if let Ok(line) = trace.stdout.recv_timeout(Duration::from_secs(1)) {
            seen += line.contains(&ours) as u32;
        }
    }
    assert!(seen >= 2, "a line per echo request from {ours}");
}

#[test]
fn capture() {
    let _dispatcher = shares_the_dispatcher();
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    net.settle();
    let file = format!("/tmp/xdp-guest-{}.pcap", net.name);
    let _remove = RemoveOnDrop(file.clone());
    let mut capture = started(
        &["capture", net.host_if(), "-w", &file, "--count", "2", "-q"],
        "Capturing on",
    );
    assert_eq!(replies(&net, 2), 2);
    assert_eq!(capture.wait_exit(Duration::from_secs(60)), Some(0));
    let read = sh("tcpdump", &["-r", &file, "-nn"]);
    let requests = read.lines().filter(|l| l.contains("echo request")).count();
    assert_eq!(requests, 2, "{read}");
    assert_eq!(attached(&net), None, "capture leaves nothing attached");
}

/// `capture` around a running program (fentry/fexit, xdpdump's way):
/// xdp_parser passes echo request 1 and drops 2; each is recorded at
/// entry and at exit with that verdict (ping's reply count is the
/// oracle). Then `-p` picks one program behind libxdp's dispatcher
/// (Debian's xdp-tools): xdp_prog_simple runs after the parser, so it
/// never sees request 2; a capture whose program is unloaded ends.
/// Without trampolines: the refusal and its hint.
#[test]
fn capture_around() {
    let _dispatcher = shares_the_dispatcher();
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    loader(&["load", "-m", "skb", net.host_if(), "xdp_parser"]).ok();
    let before = attached(&net);
    net.settle();
    let args = [
        "capture",
        net.host_if(),
        "--rx-capture",
        "entry,exit",
        "-c",
        "4",
    ];
    if feature_result(&features_json(&[]), "fentry") != "yes" {
        let run = loader(&args).fails_with(1);
        assert!(run.stderr.contains("needs BPF trampolines"), "{run:#?}");
        assert!(run.hint().contains("xdp-loader unload"), "{run:#?}");
        assert_eq!(attached(&net), before, "the refusal changes nothing");
        report("capture_around", "refused", "no BPF trampolines (fentry)");
        return;
    }
    let mut capture = started(&args, "Capturing on");
    assert_eq!(replies(&net, 2), 1, "xdp_parser drops the 2nd request");
    assert_eq!(capture.wait_exit(Duration::from_secs(60)), Some(0));
    let lines: Vec<String> = std::iter::from_fn(|| capture.stdout.try_recv().ok()).collect();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    for (seq, exit) in [(1, "@exit[PASS]"), (2, "@exit[DROP]")] {
        let of_seq: Vec<&String> = lines
            .iter()
            .filter(|l| l.contains(&format!("seq {seq},")))
            .collect();
        assert_eq!(of_seq.len(), 2, "{lines:#?}");
        assert!(of_seq.iter().any(|l| l.contains("@entry")), "{lines:#?}");
        assert!(of_seq.iter().any(|l| l.contains(exit)), "{lines:#?}");
    }
    assert_eq!(attached(&net), before, "the program is untouched");

    let libxdp = "/usr/sbin/xdp-loader";
    if !std::path::Path::new(libxdp).exists() {
        report(
            "capture_around",
            "pass",
            "single program only: no libxdp xdp-loader here",
        );
        return;
    }
    loader(&["unload", net.host_if(), "--all"]).ok();
    // The objects build.rs made (next to its include directory): clang
    // under emulation would take minutes.
    let built = std::path::Path::new(env!("XDP_TUTORIAL_BPF_INCLUDE"))
        .parent()
        .unwrap();
    let objects: Vec<String> = ["xdp_parser", "xdp_pass"]
        .iter()
        .map(|name| path(&built.join(format!("{name}.bpf.o"))).to_string())
        .collect();
    sh(
        libxdp,
        &["load", "-m", "skb", net.host_if(), &objects[0], &objects[1]],
    );
    let _unload = UnloadWithLibxdp(net.host_if().to_string());
    let mut capture = started(
        &[
            "capture",
            net.host_if(),
            "-p",
            "xdp_prog_simple",
            "--rx-capture",
            "exit",
            "-c",
            "2",
        ],
        "behind xdp_dispatcher",
    );
    assert_eq!(replies(&net, 3), 2);
    assert_eq!(capture.wait_exit(Duration::from_secs(60)), Some(0));
    let lines: Vec<String> = std::iter::from_fn(|| capture.stdout.try_recv().ok()).collect();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    for seq in [1, 3] {
        assert!(
            lines
                .iter()
                .any(|l| l.contains(&format!("seq {seq},")) && l.contains("@exit[PASS]")),
            "{lines:#?}"
        );
    }
    // A capture around a program that goes away ends and says so.
    let mut capture = started(&["capture", net.host_if(), "-q"], "around xdp_dispatcher");
    sh(libxdp, &["unload", net.host_if(), "--all"]);
    assert_eq!(capture.wait_exit(Duration::from_secs(60)), Some(1));
    assert!(
        capture
            .stderr_seen
            .iter()
            .any(|l| l.contains("no longer runs program id")),
        "{:#?}",
        capture.stderr_seen
    );
}

/// Removes libxdp's dispatcher (and its pins) from an interface.
struct UnloadWithLibxdp(String);

impl Drop for UnloadWithLibxdp {
    fn drop(&mut self) {
        let _ = std::process::Command::new("/usr/sbin/xdp-loader")
            .args(["unload", &self.0, "--all"])
            .output();
    }
}

/// Live frames (BPF_F_TEST_XDP_LIVE_FRAMES) exist from Linux 5.18.
#[test]
fn bench_live() {
    let _dispatcher = runs_live_frames();
    if !privileged() {
        return;
    }
    let run = loader(&["bench", "live", "--seconds", "1", "--json"]);
    if kernel_version() < (5, 18) {
        assert_ne!(run.code, 0, "{run:#?}");
        assert!(
            run.stderr.contains("Error: ") && run.stderr.contains("5.18"),
            "the refusal names the kernel that has live frames: {run:#?}"
        );
        report("bench_live", "refused", "live frames need Linux 5.18");
        return;
    }
    let run = run.ok();
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let rows = report["rows"].as_array().unwrap();
    assert!(!rows.is_empty(), "{report}");
    for row in rows {
        assert!(row["value"].as_f64().unwrap() > 0.0, "{row}");
    }
}

#[test]
fn testenv() {
    let _dispatcher = shares_the_dispatcher();
    if !privileged() {
        return;
    }
    let name = format!("xg{:x}", std::process::id() & 0xffffff);
    let _teardown = TeardownEnv(name.clone());
    loader(&["testenv", "setup", "--name", &name]).ok();
    assert!(sh("ip", &["netns", "list"]).contains(&name));
    loader(&["load", &name, "xdp_pass"]).ok();
    loader(&["testenv", "ping", "--name", &name, "-c", "1"]).ok();
    loader(&["testenv", "teardown", "--name", &name]).ok();
    assert!(!sh("ip", &["netns", "list"]).contains(&name));
    assert!(!sh("ip", &["-o", "link", "show"]).contains(&name));
}

struct TeardownEnv(String);

impl Drop for TeardownEnv {
    fn drop(&mut self) {
        let _ = loader(&["testenv", "teardown", "--name", &self.0]);
    }
}

/// `xdp-loader features` on this kernel: its probes agree with bpftool's,
/// and each "yes" holds when the feature is used (each "no" is the
/// command's refusal): the checks tests/features.rs runs on the host.
#[test]
fn features() {
    let _dispatcher = runs_live_frames();
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    check_probes_against_bpftool();
    check_yes_means_it_works(&net);
}

/// advanced03: AF_XDP (Linux 4.18+, every guest): two pings answered from
/// user space by `afxdp` on veth0 inside, whose kernel ignores them; Ctrl-C
/// leaves nothing attached.
#[test]
fn afxdp() {
    let _dispatcher = shares_the_dispatcher();
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    sh(
        "ip",
        &[
            "netns",
            "exec",
            &net.name,
            "sysctl",
            "-qw",
            "net.ipv6.icmp.echo_ignore_all=1",
        ],
    );
    let mut afxdp = Background::spawn_inside(
        &net.name,
        &[
            "afxdp",
            "veth0",
            "-n",
            "xdp_sock_all",
            "--copy",
            "--poll",
            "-q",
        ],
    );
    afxdp.wait_stderr("Ready:", Duration::from_secs(120));
    // Link-up traffic (MLD reports) first: the socket takes it too.
    net.settle();
    let out = std::process::Command::new("ping")
        .args(["-6", "-c", "2", "-i", "0.5", "-W", "5", &net.peer_ip])
        .output()
        .expect("run ping");
    let text = String::from_utf8_lossy(&out.stdout);
    if !text.contains("2 received") {
        afxdp.signal(libc::SIGINT);
        afxdp.wait_exit(Duration::from_secs(60));
        panic!(
            "not answered from user space: {text}{}\nafxdp: {:#?}\nneighbours: {}",
            String::from_utf8_lossy(&out.stderr),
            afxdp.stderr_seen,
            sh("ip", &["-6", "neigh", "show", "dev", net.host_if()])
        );
    }
    afxdp.signal(libc::SIGINT);
    assert_eq!(
        afxdp.wait_exit(Duration::from_secs(60)),
        Some(0),
        "{:#?}",
        afxdp.stderr_seen
    );
    let link = json(
        "ip",
        &["-n", &net.name, "-j", "link", "show", "dev", "veth0"],
    );
    assert!(link[0].get("xdp").is_none(), "afxdp left a program: {link}");
}

/// experiment01: the tail grows (bpftool prog run sees the trailer), and
/// the verifier's refusals get their own hints on this kernel's words.
#[test]
fn tailgrow() {
    let _dispatcher = shares_the_dispatcher();
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    for program in [
        "xdp_fail_length_offset",
        "xdp_fail_pkt_end_math",
        "xdp_fail_stale_pointer",
    ] {
        let run =
            loader(&["load", net.host_if(), "xdp_tailgrow_fail", "-n", program]).fails_with(40);
        assert!(
            !run.hint().contains("the last lines say why"),
            "{program}: no own hint: {run:#?}"
        );
    }
    loader(&["load", net.host_if(), "xdp_tailgrow", "-n", "xdp_tailgrow"]).ok();
    let (id, _) = attached(&net).expect("attached");
    let dir = RemoveOnDrop(format!("/tmp/xdp-guest-tail-{}", net.name));
    std::fs::create_dir_all(&dir.0).unwrap();
    let (input, output) = (format!("{}/in", dir.0), format!("{}/out", dir.0));
    std::fs::write(&input, [0u8; 64]).unwrap();
    sh(
        "bpftool",
        &[
            "prog",
            "run",
            "id",
            &id.to_string(),
            "data_in",
            &input,
            "data_out",
            &output,
        ],
    );
    assert_eq!(
        std::fs::read(&output).unwrap().len(),
        74,
        "grown by 10 bytes"
    );
}

/// experiment01: xdp.frags (Linux 5.18+). MTU 9000: a plain program is
/// refused natively with a hint that names frags; a frags program attaches
/// natively, or, before 5.18, is refused naming the feature.
#[test]
fn frags() {
    let _dispatcher = shares_the_dispatcher();
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    sh("ip", &["link", "set", net.host_if(), "mtu", "9000"]);
    sh(
        "ip",
        &["-n", &net.name, "link", "set", "veth0", "mtu", "9000"],
    );
    let run = loader(&["load", net.host_if(), "xdp_tailgrow", "-n", "xdp_tx"]).fails_with(30);
    assert!(run.hint().contains("xdp.frags"), "{run:#?}");
    let run = loader(&[
        "load",
        net.host_if(),
        "xdp_tailgrow",
        "-n",
        "xdp_frags_count",
    ]);
    if kernel_version() < (5, 18) {
        let run = run.fails_with(40);
        assert!(
            run.stderr.contains("5.18"),
            "names the kernel with frags: {run:#?}"
        );
        assert_eq!(attached(&net), None);
        report("frags", "refused", "xdp.frags needs Linux 5.18");
        return;
    }
    run.ok();
    assert_eq!(attached(&net).map(|(_, mode)| mode), Some(1), "native");
}

/// advanced01: the XDP + tc pair; tc sees exactly what XDP marked, and
/// unload removes both.
#[test]
fn xdp_tc() {
    let _dispatcher = shares_the_dispatcher();
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    loader(&["load", net.host_if(), "xdp_meta"]).ok();
    let port = 20_000 + (std::process::id() % 20_000) as u16;
    let receiver = std::net::UdpSocket::bind((net.host_ip.as_str(), port)).unwrap();
    receiver
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    net.in_namespace(|| {
        let sender = std::net::UdpSocket::bind((net.peer_ip.as_str(), 0)).unwrap();
        for _ in 0..3 {
            sender
                .send_to(b"meta", (net.host_ip.as_str(), port))
                .unwrap();
        }
    });
    let mut buf = [0u8; 16];
    for _ in 0..3 {
        receiver
            .recv(&mut buf)
            .expect("datagram through XDP and tc");
    }
    let pin = format!("/sys/fs/bpf/{}/meta_counters", net.name);
    let sums: Vec<u64> = json("bpftool", &["-j", "map", "dump", "pinned", &pin])
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| u64::from_le_bytes(hex_bytes(&c["value"])[..8].try_into().unwrap()))
                .sum()
        })
        .collect();
    assert_eq!(sums[0], 3, "XDP marked: {sums:?}");
    assert_eq!(sums[1], sums[0], "tc saw what XDP marked: {sums:?}");
    let run = loader(&["unload", net.host_if()]).ok();
    assert!(
        run.stdout.contains("Removed tc ingress program"),
        "{run:#?}"
    );
    let filters = sh("tc", &["filter", "show", "dev", net.host_if(), "ingress"]);
    assert!(!filters.contains("tc_meta_read"), "{filters}");
}

// ---- Several programs per interface (the dispatcher) ----
// Guests run each loader call in seconds (TCG): these tests make few.

const NO_TRAMPOLINES: &str =
    "this kernel cannot attach several XDP programs to one interface: BPF trampolines unavailable";

/// Loads `args` (several programs) on `net`. None: the kernel has no BPF
/// trampolines, the tool said exactly that, nothing was attached, and the
/// lane is told "refused".
fn load_several(net: &TestNet, check: &str, args: &[&str]) -> Option<Run> {
    let mut all = vec!["load", net.host_if()];
    all.extend_from_slice(args);
    let run = loader(&all);
    if run.code == 30 && run.stderr.contains(NO_TRAMPOLINES) {
        assert_eq!(net.ip_link_xdp(), None);
        report(check, "refused", "no BPF trampolines");
        return None;
    }
    // `--multi` with one program: attached directly, with a Note.
    if run.code == 0 && run.stderr.contains(&format!("Note: {NO_TRAMPOLINES}")) {
        let xdp = net.ip_link_xdp().expect("attached directly");
        assert_ne!(
            prog_name(xdp["prog"]["id"].as_u64().unwrap()),
            "xdp_dispatcher"
        );
        report(check, "refused", "no BPF trampolines");
        return None;
    }
    Some(run.ok())
}

/// The dispatcher's programs in run order, from `status --json`.
fn components(net: &TestNet) -> Vec<Value> {
    let run = loader(&["status", net.host_if(), "--json"]).ok();
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    doc[0]["programs"][0]["components"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// (name, priority) of each program, in run order, and the id of `name`.
fn run_order(list: &[Value]) -> Vec<(String, u64)> {
    list.iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["priority"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn id_of(list: &[Value], name: &str) -> u64 {
    list.iter()
        .find(|c| c["name"] == name)
        .and_then(|c| c["id"].as_u64())
        .unwrap_or_else(|| panic!("no {name}: {:?}", run_order(list)))
}

/// Packets counted by program `id` in its one-entry `seen` array (bpftool).
fn seen_by(id: u64) -> u64 {
    let prog = json("bpftool", &["-j", "prog", "show", "id", &id.to_string()]);
    let map = prog["map_ids"][0]
        .as_u64()
        .unwrap_or_else(|| panic!("no map: {prog}"));
    let dump = json("bpftool", &["-j", "map", "dump", "id", &map.to_string()]);
    let value = hex_bytes(&dump[0]["value"]);
    u64::from_le_bytes(value[..8].try_into().unwrap())
}

/// Four programs with their run config in XDP_RUN_CONFIG: counters at 5
/// and 20, a DROP at 10, and a DROP at 10 that chains on DROP.
const ORDERED: &str = r#"
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>
#define COUNTER(f, prio) \
    struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } f##_seen SEC(".maps"); \
    struct { __uint(priority, prio); __uint(XDP_PASS, 1); } _##f SEC(".xdp_run_config"); \
    SEC("xdp") int f(struct xdp_md *ctx) { __u32 k = 0; __u64 *n = bpf_map_lookup_elem(&f##_seen, &k); \
        if (n) __sync_fetch_and_add(n, 1); return XDP_PASS; }
COUNTER(count_first, 5)
COUNTER(count_last, 20)
struct { __uint(priority, 10); __uint(XDP_PASS, 1); } _drop_stop SEC(".xdp_run_config");
SEC("xdp") int drop_stop(struct xdp_md *ctx) { return XDP_DROP; }
struct { __uint(priority, 10); __uint(XDP_PASS, 1); __uint(XDP_DROP, 1); } _drop_chain SEC(".xdp_run_config");
SEC("xdp") int drop_chain(struct xdp_md *ctx) { return XDP_DROP; }
char LICENSE[] SEC("license") = "GPL";
"#;

/// Order and chain calls, from each object's XDP_RUN_CONFIG: with a DROP
/// at 10, the counter at 5 sees the pings and the one at 20 does not;
/// with the DROP chained on DROP, both do (and the pings are answered).
#[test]
fn dispatcher_order_and_chain_call() {
    let _shared = shares_the_dispatcher();
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let object = compile_lesson_bpf("ordered", ORDERED);
    let obj = path(&object);
    let (c, d) = ("count_last", "drop_stop");
    let args = [obj, obj, obj, "-n", c, "-n", d, "-n", "count_first"];
    let Some(_) = load_several(&net, "dispatcher_order_and_chain_call", &args) else {
        return;
    };
    let list = components(&net);
    let expected = [("count_first", 5), ("drop_stop", 10), ("count_last", 20)];
    let expected: Vec<(String, u64)> = expected.iter().map(|(n, p)| (n.to_string(), *p)).collect();
    assert_eq!(run_order(&list), expected);
    assert_eq!(replies(&net, 3), 0, "the DROP at 10 answers");
    assert!(seen_by(id_of(&list, "count_first")) >= 3);
    assert_eq!(
        seen_by(id_of(&list, "count_last")),
        0,
        "the counter at 20 never ran"
    );

    // Swap in the DROP that chains on DROP: the counter's PASS decides.
    let stop = id_of(&list, "drop_stop").to_string();
    loader(&["unload", net.host_if(), "--id", &stop]).ok();
    loader(&["load", net.host_if(), obj, "-n", "drop_chain"]).ok();
    let list = components(&net);
    assert_eq!(list[1]["name"], "drop_chain");
    assert_eq!(
        list[1]["chain_call_actions"],
        serde_json::json!(["XDP_DROP", "XDP_PASS"])
    );
    assert_eq!(replies(&net, 3), 3);
    assert!(
        seen_by(id_of(&list, "count_last")) >= 3,
        "the counter at 20 ran after the DROP"
    );
    loader(&["unload", net.host_if(), "--all"]).ok();
    assert_eq!(net.ip_link_xdp(), None);
}

/// Ten programs fill a dispatcher. One is taken out and one added while
/// pings run: none is lost. An eleventh is refused and changes nothing;
/// plain `unload` refuses and lists the ten; `--all` removes them and
/// their pins.
#[test]
fn dispatcher_ten_programs_and_changes_under_ping() {
    let _shared = shares_the_dispatcher();
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let ten = ["xdp_pass"; 10];
    let check = "dispatcher_ten_programs_and_changes_under_ping";
    let Some(_) = load_several(&net, check, &ten) else {
        return;
    };
    let ifname = net.host_if();
    let list = components(&net);
    assert_eq!(list.len(), 10);
    let done = std::sync::atomic::AtomicBool::new(false);
    let (sent, answered) = std::thread::scope(|scope| {
        let pinging = scope.spawn(|| {
            let (mut sent, mut answered) = (0, 0);
            while !done.load(std::sync::atomic::Ordering::Relaxed) || sent == 0 {
                answered += replies(&net, 5);
                sent += 5;
            }
            (sent, answered)
        });
        let first = list[0]["id"].as_u64().unwrap().to_string();
        loader(&["unload", ifname, "--id", &first]).ok();
        loader(&["load", ifname, "xdp_pass"]).ok();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        pinging.join().unwrap()
    });
    assert_eq!(
        answered, sent,
        "no ping lost while the dispatcher was rebuilt twice"
    );

    let dispatcher = net.ip_link_xdp().unwrap()["prog"]["id"].as_u64().unwrap();
    assert_eq!(prog_name(dispatcher), "xdp_dispatcher");
    let run = loader(&["load", ifname, "xdp_pass"]).fails_with(2);
    assert!(
        run.stderr
            .contains("11 programs asked for, a dispatcher has 10 slots"),
        "{run:#?}"
    );
    let run = loader(&["unload", ifname]).fails_with(2);
    assert_eq!(
        run.stderr.matches("xdp_prog_simple (id ").count(),
        10,
        "{run:#?}"
    );
    assert_eq!(
        net.ip_link_xdp().unwrap()["prog"]["id"].as_u64(),
        Some(dispatcher)
    );
    let ifindex = json("ip", &["-j", "link", "show", "dev", ifname])[0]["ifindex"]
        .as_u64()
        .unwrap();
    let pins = format!("/sys/fs/bpf/xdp/dispatch-{ifindex}-{dispatcher}");
    assert!(std::path::Path::new(&pins).join("prog9-link").exists());
    loader(&["unload", ifname, "--all"]).ok();
    assert_eq!(net.ip_link_xdp(), None);
    assert!(!std::path::Path::new(&pins).exists(), "{pins} removed");
}

/// Debian's xdp-tools (libxdp) and this loader, both ways: each adds to
/// the other's dispatcher, sees the other's programs, unloads them by id.
/// Our own binary is always called by path: xdp-tools' has the same name.
#[test]
fn dispatcher_interop_with_xdp_tools() {
    let _shared = shares_the_dispatcher();
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let theirs = "/usr/sbin/xdp-loader";
    assert!(
        std::path::Path::new(theirs).exists(),
        "Debian's xdp-tools is missing: `make deps` installs it"
    );
    let object = compile_lesson_bpf("ordered", ORDERED);
    let obj = path(&object);
    let ifname = net.host_if();
    let their = |args: &[&str]| sh(theirs, args);

    // They add to ours; each status shows both; each unloads the other's.
    let check = "dispatcher_interop_with_xdp_tools";
    let Some(_) = load_several(&net, check, &["xdp_stats1", "--multi"]) else {
        return;
    };
    their(&["load", ifname, obj, "-n", "count_first"]);
    let list = components(&net);
    let expected = [
        ("count_first".to_string(), 5),
        ("xdp_stats1_func".to_string(), 50),
    ];
    assert_eq!(run_order(&list), expected);
    let status = their(&["status", ifname]);
    assert!(
        status.contains("xdp_stats1_func") && status.contains("count_first"),
        "{status}"
    );
    loader(&[
        "unload",
        ifname,
        "--id",
        &id_of(&list, "count_first").to_string(),
    ])
    .ok();
    their(&[
        "unload",
        ifname,
        "--id",
        &id_of(&list, "xdp_stats1_func").to_string(),
    ]);
    assert_eq!(net.ip_link_xdp(), None, "{:?}", their(&["status", ifname]));

    // We add to theirs, with -F: it adds, nothing of theirs goes.
    their(&["load", ifname, obj, "-n", "count_last"]);
    loader(&["load", "-F", ifname, "xdp_stats1"]).ok();
    let status = their(&["status", ifname]);
    assert!(
        status.contains("count_last") && status.contains("xdp_stats1_func"),
        "{status}"
    );
    assert_eq!(replies(&net, 2), 2);
    loader(&["unload", ifname]).fails_with(2);
    let list = components(&net);
    assert_eq!(run_order(&list).len(), 2, "nothing of theirs went");
    their(&[
        "unload",
        ifname,
        "--id",
        &id_of(&list, "xdp_stats1_func").to_string(),
    ]);
    assert_eq!(
        run_order(&components(&net)),
        [("count_last".to_string(), 20)]
    );
    loader(&["unload", ifname, "--all"]).ok();
    assert_eq!(net.ip_link_xdp(), None);
}
