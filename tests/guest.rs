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

// ---- Several programs per interface (the dispatcher) ----

/// Can this kernel run a dispatcher? If not, the tool must say exactly
/// that when asked for two programs, and nothing may be attached.
fn dispatcher_or_refused(net: &TestNet, check: &str) -> bool {
    if feature_result(&features_json(&[]), "freplace") == "yes" {
        return true;
    }
    let run = loader(&["load", net.host_if(), "xdp_pass", "xdp_stats1"]).fails_with(30);
    let refusal = "this kernel cannot attach several XDP programs to one interface: BPF trampolines unavailable";
    assert!(run.stderr.contains(refusal), "{run:#?}");
    assert_eq!(net.ip_link_xdp(), None);
    report(check, "refused", "no BPF trampolines");
    false
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

/// (name, priority) of each component, in run order.
fn run_order(net: &TestNet) -> Vec<(String, u64)> {
    components(net)
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["priority"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Packets counted as XDP_PASS by the xdp_stats_map of program `id`, read
/// by bpftool through the program's own map ids.
fn passed_by(id: u64) -> u64 {
    let prog = json("bpftool", &["-j", "prog", "show", "id", &id.to_string()]);
    let map = prog["map_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_u64().unwrap())
        .find(|m| {
            json("bpftool", &["-j", "map", "show", "id", &m.to_string()])["name"] == "xdp_stats_map"
        })
        .unwrap_or_else(|| panic!("program {id} has no xdp_stats_map: {prog}"));
    bpftool_counts_of_map(map)[2].0
}

fn component_id(net: &TestNet, name: &str, priority: u64) -> u64 {
    components(net)
        .iter()
        .find(|c| c["name"] == name && c["priority"] == priority)
        .and_then(|c| c["id"].as_u64())
        .unwrap_or_else(|| panic!("no {name} at priority {priority}: {:?}", run_order(net)))
}

/// Run order and chain calls, with 2 and then 3 programs: a DROP at
/// priority 10 stops the counter at 20; chained on DROP it does not; a
/// counter at 5 runs before the DROP either way.
#[test]
fn dispatcher_order_and_chain_call() {
    let _shared = shares_the_dispatcher();
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    if !dispatcher_or_refused(&net, "dispatcher_order_and_chain_call") {
        return;
    }
    let ifname = net.host_if();
    loader(&["load", ifname, "xdp_stats1", "-P", "20", "--multi"]).ok();
    loader(&[
        "load",
        ifname,
        "xdp_prog",
        "-n",
        "xdp_drop_func",
        "-P",
        "10",
    ])
    .ok();
    assert_eq!(
        run_order(&net),
        [("xdp_drop_func".into(), 10), ("xdp_stats1_func".into(), 20)]
    );
    assert_eq!(replies(&net, 3), 0, "the DROP at 10 answers");
    let counter = component_id(&net, "xdp_stats1_func", 20);
    assert_eq!(passed_by(counter), 0, "the counter at 20 never ran");

    // The same DROP, chained on DROP: the counter's PASS decides.
    let drop = component_id(&net, "xdp_drop_func", 10);
    loader(&["unload", ifname, "--id", &drop.to_string()]).ok();
    loader(&[
        "load",
        ifname,
        "xdp_prog",
        "-n",
        "xdp_drop_func",
        "-P",
        "10",
        "--actions",
        "pass,drop",
    ])
    .ok();
    loader(&["load", ifname, "xdp_stats1", "-P", "5"]).ok();
    assert_eq!(
        run_order(&net),
        [
            ("xdp_stats1_func".into(), 5),
            ("xdp_drop_func".into(), 10),
            ("xdp_stats1_func".into(), 20)
        ]
    );
    assert_eq!(
        components(&net)[1]["chain_call_actions"],
        serde_json::json!(["XDP_DROP", "XDP_PASS"])
    );
    assert_eq!(replies(&net, 3), 3);
    assert!(
        passed_by(counter) >= 3,
        "the counter at 20 ran after the DROP"
    );
    assert!(passed_by(component_id(&net, "xdp_stats1_func", 5)) >= 3);
    loader(&["unload", ifname, "--all"]).ok();
    assert_eq!(net.ip_link_xdp(), None);
}

/// Ten programs fill a dispatcher; an eleventh is refused and changes
/// nothing; plain `unload` refuses and lists them; `--all` removes them
/// and their pins.
#[test]
fn dispatcher_ten_programs() {
    let _shared = shares_the_dispatcher();
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    if !dispatcher_or_refused(&net, "dispatcher_ten_programs") {
        return;
    }
    let ifname = net.host_if();
    let mut args = vec!["load", ifname];
    args.extend(["xdp_pass"; 10]);
    loader(&args).ok();
    assert_eq!(components(&net).len(), 10);
    let dispatcher = net.ip_link_xdp().unwrap()["prog"]["id"].as_u64().unwrap();
    assert_eq!(prog_name(dispatcher), "xdp_dispatcher");
    assert_eq!(replies(&net, 2), 2, "ten PASS programs chained");
    let run = loader(&["load", ifname, "xdp_pass"]).fails_with(2);
    assert!(
        run.stderr
            .contains("11 programs asked for, a dispatcher has 10 slots"),
        "{run:#?}"
    );
    assert_eq!(
        net.ip_link_xdp().unwrap()["prog"]["id"].as_u64(),
        Some(dispatcher)
    );
    let run = loader(&["unload", ifname]).fails_with(2);
    assert_eq!(
        run.stderr.matches("xdp_prog_simple (id ").count(),
        10,
        "{run:#?}"
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

/// Adding and removing one program while pings run: every ping through
/// the programs that stay is answered.
#[test]
fn dispatcher_change_under_ping() {
    let _shared = shares_the_dispatcher();
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    if !dispatcher_or_refused(&net, "dispatcher_change_under_ping") {
        return;
    }
    let ifname = net.host_if();
    loader(&["load", ifname, "xdp_stats1", "xdp_pass", "-P", "30"]).ok();
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
        loader(&[
            "load",
            ifname,
            "xdp_prog",
            "-n",
            "xdp_pass_func",
            "-P",
            "10",
        ])
        .ok();
        let added = component_id(&net, "xdp_pass_func", 10);
        loader(&["unload", ifname, "--id", &added.to_string()]).ok();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        pinging.join().unwrap()
    });
    assert_eq!(
        answered, sent,
        "no ping lost while the dispatcher was rebuilt twice"
    );
    assert_eq!(components(&net).len(), 2);
    loader(&["unload", ifname, "--all"]).ok();
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
    if !dispatcher_or_refused(&net, "dispatcher_interop_with_xdp_tools") {
        return;
    }
    let theirs = "/usr/sbin/xdp-loader";
    assert!(
        std::path::Path::new(theirs).exists(),
        "Debian's xdp-tools is missing: `make deps` installs it"
    );
    // Priority 15, chain on PASS and DROP, from XDP_RUN_CONFIG.
    let object = compile_lesson_bpf(
        "run_config_pass",
        "#include \"vmlinux_xdp.h\"\n#include <bpf/bpf_helpers.h>\n\
         struct { __uint(priority, 15); __uint(XDP_PASS, 1); __uint(XDP_DROP, 1); } _xdp_rc_pass SEC(\".xdp_run_config\");\n\
         SEC(\"xdp\") int xdp_rc_pass(struct xdp_md *ctx) { return XDP_PASS; }\n\
         char LICENSE[] SEC(\"license\") = \"GPL\";\n",
    );
    let ifname = net.host_if();
    let their = |args: &[&str]| sh(theirs, args);

    // They add to ours.
    loader(&["load", ifname, "xdp_stats1", "--multi"]).ok();
    their(&["load", ifname, path(&object)]);
    assert_eq!(
        run_order(&net),
        [("xdp_rc_pass".into(), 15), ("xdp_stats1_func".into(), 50)]
    );
    let status = their(&["status", ifname]);
    assert!(
        status.contains("xdp_stats1_func") && status.contains("xdp_rc_pass"),
        "{status}"
    );
    // We unload theirs by id; they unload ours by id.
    let rc = component_id(&net, "xdp_rc_pass", 15);
    loader(&["unload", ifname, "--id", &rc.to_string()]).ok();
    let ours = component_id(&net, "xdp_stats1_func", 50);
    their(&["unload", ifname, "--id", &ours.to_string()]);
    assert_eq!(net.ip_link_xdp(), None, "{:?}", their(&["status", ifname]));

    // We add to theirs; our reader of XDP_RUN_CONFIG agrees with libxdp's.
    their(&["load", ifname, path(&object)]);
    loader(&["load", ifname, path(&object)]).ok();
    loader(&["load", ifname, "xdp_stats1", "-P", "60"]).ok();
    let order = run_order(&net);
    assert_eq!(
        order
            .iter()
            .filter(|c| **c == ("xdp_rc_pass".into(), 15))
            .count(),
        2,
        "{order:?}"
    );
    let status = their(&["status", ifname]);
    assert_eq!(status.matches("xdp_rc_pass").count(), 2, "{status}");
    assert!(status.contains("xdp_stats1_func"), "{status}");
    assert_eq!(replies(&net, 2), 2);
    // Safety: a plain unload refuses, -F adds instead of replacing.
    loader(&["unload", ifname]).fails_with(2);
    loader(&["load", "-F", ifname, "xdp_pass"]).ok();
    assert_eq!(components(&net).len(), 4, "nothing of theirs went");
    let ours = component_id(&net, "xdp_stats1_func", 60);
    their(&["unload", ifname, "--id", &ours.to_string()]);
    assert_eq!(components(&net).len(), 3);
    loader(&["unload", ifname, "--all"]).ok();
    assert_eq!(net.ip_link_xdp(), None);
}
