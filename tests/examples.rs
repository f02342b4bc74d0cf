//! The user-space examples (examples/*.rs) run against a private test
//! network with real packets, and what they print is checked against the
//! kernel's own counters read by bpftool, against `ip link`, and against
//! what the peer sees.
//!
//! The examples are built by `cargo test` (and `make test`); running this
//! file alone needs `cargo build --examples` first.

mod common;

use std::process::{Command, Stdio};
use std::sync::mpsc::TryRecvError;
use std::time::Duration;

use common::background::Background;
use common::{
    bpftool_counts, bpftool_counts_of, hex_bytes, json, loader, sh, RemoveOnDrop, TestNet,
};
use serde_json::Value;

/// Generous bound for a line an example prints within a second or two.
const WAIT: Duration = Duration::from_secs(30);

/// Runs an example to its end: (exit code, stdout, stderr).
fn example(name: &str) -> Command {
    Command::new(common::example_path(name))
}

fn run(name: &str, args: &[&str]) -> (i32, String, String) {
    let out = example(name).args(args).output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

#[track_caller]
fn run_ok(name: &str, args: &[&str]) -> String {
    let (code, stdout, stderr) = run(name, args);
    assert_eq!(code, 0, "{name} {args:?}: {stdout}{stderr}");
    stdout
}

fn spawn(name: &str, args: &[&str]) -> Background {
    let mut command = example(name);
    command.args(args).stdin(Stdio::null());
    Background::spawn_command(command)
}

/// The next stdout line containing `text`.
#[track_caller]
fn wait_line(bg: &mut Background, text: &str) -> String {
    loop {
        match bg.stdout.recv_timeout(WAIT) {
            Ok(line) if line.contains(text) => return line,
            Ok(_) => {}
            Err(e) => {
                let exit = bg.wait_exit(Duration::from_secs(1));
                panic!(
                    "no line with {text:?} ({e:?}); exit {exit:?}; stderr {:#?}",
                    bg.stderr_seen
                )
            }
        }
    }
}

/// The next block of lines: from a line starting with `start` to an empty line.
#[track_caller]
fn next_block(bg: &mut Background, start: &str) -> Vec<String> {
    let first = wait_line(bg, start);
    let mut block = vec![first];
    loop {
        let line = wait_line(bg, "");
        if line.is_empty() {
            return block;
        }
        block.push(line);
    }
}

/// A block whose numbers were all read after this call: what was printed
/// before is dropped, then the first whole block skipped (it may have been
/// read just before).
#[track_caller]
fn block_read_after_now(bg: &mut Background, start: &str) -> Vec<String> {
    while !matches!(
        bg.stdout.try_recv(),
        Err(TryRecvError::Empty | TryRecvError::Disconnected)
    ) {}
    next_block(bg, start);
    next_block(bg, start)
}

/// A block printed while `oracle` (bpftool) read the same before and
/// after it: the counters stood still meanwhile, so the block must show
/// that reading. (Retried while stray packets still arrive.)
#[track_caller]
fn steady_block<T: PartialEq>(
    bg: &mut Background,
    start: &str,
    oracle: impl Fn() -> T,
) -> (Vec<String>, T) {
    for _ in 0..10 {
        let before = oracle();
        let block = block_read_after_now(bg, start);
        if oracle() == before {
            return (block, before);
        }
    }
    panic!("the counters never stood still for a whole sample");
}

/// Per action (packets, bytes) from a block of basic03/basic04 lines
/// "XDP_PASS   5 pkts (  1 pps)   426 bytes".
fn stats_of(block: &[String]) -> [(u64, u64); 5] {
    let actions = [
        "XDP_ABORTED",
        "XDP_DROP",
        "XDP_PASS",
        "XDP_TX",
        "XDP_REDIRECT",
    ];
    let mut out = [(0, 0); 5];
    for (i, action) in actions.iter().enumerate() {
        let line = block
            .iter()
            .find(|l| l.starts_with(action))
            .expect("a line per action");
        let words: Vec<&str> = line.split_whitespace().collect();
        let bytes_at = words.iter().position(|w| *w == "bytes").unwrap() - 1;
        out[i] = (words[1].parse().unwrap(), words[bytes_at].parse().unwrap());
    }
    out
}

fn xdp_prog_on(net: &TestNet) -> Option<Value> {
    net.ip_link_xdp().map(|x| x["prog"].clone())
}

/// The number after `word` in `line` ("... id 12 ..." -> 12).
fn number_after(line: &str, word: &str) -> u64 {
    let mut words = line.split_whitespace();
    words
        .position(|w| w == word)
        .unwrap_or_else(|| panic!("no {word} in {line:?}"));
    let next = words.next().unwrap().trim_end_matches([';', ')', ',']);
    next.parse()
        .unwrap_or_else(|_| panic!("no number after {word} in {line:?}"))
}

#[test]
fn basic01_attaches_both_ways_and_unloads_by_id_or_all() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let ifname = net.host_if();

    let out = run_ok("basic01_load", &[ifname]);
    let id = number_after(&out, "id");
    let prog = xdp_prog_on(&net).expect("ip link shows the program");
    assert_eq!(prog["id"], id, "{out}");
    assert_eq!(prog["name"], "xdp_prog_simple");
    assert!(net.ping(2), "the pass program passes");

    // A second attach is refused (UPDATE_IF_NOEXIST) and changes nothing.
    let (code, _, stderr) = run("basic01_load", &[ifname]);
    assert_ne!(code, 0, "{stderr}");
    assert_eq!(xdp_prog_on(&net).unwrap()["id"], id);

    // Unload by a wrong id: refused; by the right one: gone.
    let (code, _, stderr) = run("basic01_load", &[ifname, "--unload", &(id + 1).to_string()]);
    assert_ne!(code, 0);
    assert!(stderr.contains(&format!("runs program {id}")), "{stderr}");
    assert!(xdp_prog_on(&net).is_some());
    run_ok("basic01_load", &[ifname, "--unload", &id.to_string()]);
    assert_eq!(xdp_prog_on(&net), None);

    // --unload-all, and with nothing attached a refusal.
    run_ok("basic01_load", &[ifname]);
    run_ok("basic01_load", &[ifname, "--unload-all"]);
    assert_eq!(xdp_prog_on(&net), None);
    assert_ne!(run("basic01_load", &[ifname, "--unload-all"]).0, 0);

    // bpf_link: held while the process lives, gone when it closes the link.
    let mut command = example("basic01_load");
    command.args([ifname, "--link"]).stdin(Stdio::piped());
    let mut held = Background::spawn_command(command);
    let line = wait_line(&mut held, "attached by bpf_link");
    let id = number_after(&line, "id");
    common::assert_bpftool_xdp_link(&Value::from(id));
    assert_eq!(xdp_prog_on(&net).unwrap()["id"], id);
    // A link cannot be taken off by netlink.
    assert_ne!(run("basic01_load", &[ifname, "--unload-all"]).0, 0);
    drop(held.child.stdin.take()); // end of input: "Enter"
    assert_eq!(held.wait_exit(WAIT), Some(0), "{:?}", held.stderr_seen);
    assert_eq!(xdp_prog_on(&net), None);
}

#[test]
fn basic02_attaches_the_program_it_is_given_by_name() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let list = run_ok("basic02_prog_by_name", &[net.host_if()]);
    for name in ["xdp_pass_func", "xdp_drop_func", "xdp_abort_func"] {
        assert!(list.contains(name), "{list}");
    }
    let (code, _, stderr) = run("basic02_prog_by_name", &[net.host_if(), "xdp_nope"]);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("no program xdp_nope") && stderr.contains("xdp_drop_func"),
        "{stderr}"
    );
    assert_eq!(xdp_prog_on(&net), None);

    assert!(net.ping(1));
    run_ok("basic02_prog_by_name", &[net.host_if(), "xdp_drop_func"]);
    assert_eq!(xdp_prog_on(&net).unwrap()["name"], "xdp_drop_func");
    assert!(!net.ping(2), "xdp_drop_func drops the pings");
    // Only the chosen program was loaded: bpftool shows one program using
    // the map, and it is the attached one.
    let id = xdp_prog_on(&net).unwrap()["id"].clone();
    let prog = json("bpftool", &["-j", "prog", "show", "id", &id.to_string()]);
    let map_id = prog["map_ids"][0].clone();
    let users: Vec<Value> = json("bpftool", &["-j", "prog", "show"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["map_ids"].as_array().is_some_and(|m| m.contains(&map_id)))
        .map(|p| p["name"].clone())
        .collect();
    assert_eq!(users, vec![Value::from("xdp_drop_func")]);
}

#[test]
fn basic03_stats_prints_the_kernels_counters() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let mut stats = spawn("basic03_stats", &[net.host_if(), "--interval", "0.5"]);
    let map_id = number_after(&wait_line(&mut stats, "xdp_stats_map id"), "id").to_string();
    net.settle();
    let before = bpftool_counts_of(&["id", &map_id]);
    assert!(net.ping(5));
    let after = bpftool_counts_of(&["id", &map_id]);
    // 5 echo requests came in and were passed (the replies go out: not counted).
    assert_eq!(after[2].0 - before[2].0, 5);
    let (block, kernel) =
        steady_block(&mut stats, "period", || bpftool_counts_of(&["id", &map_id]));
    assert_eq!(
        stats_of(&block),
        kernel,
        "what basic03_stats printed vs bpftool"
    );
}

#[test]
fn basic04_loader_reuses_the_pin_and_the_reader_follows_a_new_map() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let ifname = net.host_if();
    let pin = format!("/sys/fs/bpf/{ifname}/xdp_stats_map");
    let out = run_ok("basic04_load", &[ifname, "xdp_pass_func"]);
    assert!(out.contains("pinned new map"), "{out}");
    let map_id = json("bpftool", &["-j", "map", "show", "pinned", &pin])["id"].clone();
    assert_eq!(Value::from(number_after(&out, "id")), map_id);

    let mut reader = spawn("basic04_stats", &[ifname, "--interval", "0.5"]);
    wait_line(&mut reader, "xdp_stats_map id");
    net.settle();
    assert!(net.ping(3));
    let (block, kernel) = steady_block(&mut reader, "period", || bpftool_counts(&pin));
    let printed = stats_of(&block);
    assert_eq!(printed, kernel);
    assert!(printed[2].0 >= 3);

    // Without --force the loader refuses to replace, and leaves things be.
    let (code, _, _) = run("basic04_load", &[ifname, "xdp_drop_func"]);
    assert_ne!(code, 0);
    assert_eq!(xdp_prog_on(&net).unwrap()["name"], "xdp_pass_func");
    // With it: the same map (reused), so the counters go on.
    let out = run_ok("basic04_load", &[ifname, "xdp_drop_func", "--force"]);
    assert!(out.contains("reused map"), "{out}");
    assert_eq!(
        json("bpftool", &["-j", "map", "show", "pinned", &pin])["id"],
        map_id
    );
    assert!(!net.ping(2), "xdp_drop_func drops");
    let (block, kernel) = steady_block(&mut reader, "period", || bpftool_counts(&pin));
    assert_eq!(stats_of(&block), kernel);
    assert!(kernel[1].0 >= 2 && kernel[2].0 >= 3, "{kernel:?}");

    // A new map at the pin: the reader notices and reads the new one.
    std::fs::remove_file(&pin).unwrap();
    let out = run_ok("basic04_load", &[ifname, "xdp_pass_func", "--force"]);
    let new_id = json("bpftool", &["-j", "map", "show", "pinned", &pin])["id"].clone();
    assert_ne!(new_id, map_id);
    let line = wait_line(&mut reader, "map id changed");
    assert!(
        line.ends_with(&format!("-> {new_id}, reopened")),
        "{line} {out}"
    );
    assert!(net.ping(2));
    let (block, kernel) = steady_block(&mut reader, "period", || bpftool_counts(&pin));
    let printed = stats_of(&block);
    assert_eq!(printed, kernel);
    assert_eq!(printed[1].0, 0, "a new map starts from zero");
}

#[test]
fn packet03_fills_the_pinned_redirect_maps_and_frames_follow_them() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let other = TestNet::new();
    let ifname = net.host_if();
    loader(&[
        "load",
        ifname,
        "xdp_redirect",
        "-n",
        "xdp_redirect_map_func",
    ])
    .ok();
    // The peer of a veth takes redirected frames only when it runs XDP.
    other.loader_inside(&["load", "veth0", "xdp_pass"]).ok();
    let dest_mac = other.peer_mac();
    let args = [
        "--dev",
        ifname,
        "--redirect-dev",
        other.host_if(),
        "--src-mac",
        &net.peer_mac(),
    ];

    // Wrong input is refused before anything is written.
    let (code, _, stderr) = run(
        "packet03_redirect",
        &[&args[..], &["--dest-mac", "02:00:00:00:00"]].concat(),
    );
    assert_ne!(code, 0);
    assert!(stderr.contains("6 bytes"), "{stderr}");
    let pins = format!("/sys/fs/bpf/{ifname}");
    let dump = |map: &str| {
        json(
            "bpftool",
            &["-j", "map", "dump", "pinned", &format!("{pins}/{map}")],
        )
    };
    assert_eq!(dump("redirect_params"), serde_json::json!([]));

    run_ok(
        "packet03_redirect",
        &[&args[..], &["--dest-mac", &dest_mac]].concat(),
    );
    // bpftool shows what the lesson asks: slot 0 -> the other interface,
    // our peer's MAC -> the other peer's MAC.
    let ifindex: u64 =
        std::fs::read_to_string(format!("/sys/class/net/{}/ifindex", other.host_if()))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
    // bpftool prints keys and values as hex byte lists.
    let tx = dump("tx_port");
    let slot0 = tx
        .as_array()
        .unwrap()
        .iter()
        .find(|e| hex_bytes(&e["key"]) == [0, 0, 0, 0]);
    let value = hex_bytes(&slot0.expect("slot 0")["value"]);
    assert_eq!(
        u32::from_le_bytes(value.try_into().unwrap()) as u64,
        ifindex
    );
    let params = dump("redirect_params");
    let mac_bytes = |mac: &str| {
        mac.split(':')
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(params.as_array().unwrap().len(), 1, "{params}");
    assert_eq!(
        hex_bytes(&params[0]["key"]),
        mac_bytes(&net.peer_mac()),
        "{params}"
    );
    assert_eq!(
        hex_bytes(&params[0]["value"]),
        mac_bytes(&dest_mac),
        "{params}"
    );

    // Real frames: pings from inside `net` leave through `other`'s veth.
    let other_rx = || {
        sh(
            "ip",
            &[
                "netns",
                "exec",
                &other.name,
                "cat",
                "/sys/class/net/veth0/statistics/rx_packets",
            ],
        )
    };
    net.settle();
    other.settle();
    let before: u64 = other_rx().trim().parse().unwrap();
    let redirected_before = bpftool_counts(&format!("{pins}/xdp_stats_map"))[4].0;
    assert!(!net.ping(3), "the requests went elsewhere: no replies");
    let redirected = bpftool_counts(&format!("{pins}/xdp_stats_map"))[4].0 - redirected_before;
    let arrived = other_rx().trim().parse::<u64>().unwrap() - before;
    assert!(redirected >= 3, "XDP_REDIRECT {redirected}");
    assert_eq!(
        arrived, redirected,
        "every redirected frame reached the other peer"
    );
}

#[test]
fn tracing01_monitor_counts_the_exceptions_the_kernel_counted() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    loader(&["load", net.host_if(), "xdp_prog", "-n", "xdp_abort_func"]).ok();
    let ifindex =
        std::fs::read_to_string(format!("/sys/class/net/{}/ifindex", net.host_if())).unwrap();
    // Link-up traffic is aborted too: let it pass before the monitor
    // starts, and count only what is aborted after it attached.
    net.settle();
    let pin = format!("/sys/fs/bpf/{}/xdp_stats_map", net.host_if());
    let mut monitor = spawn("tracing01_monitor", &["--interval", "0.5"]);
    wait_line(&mut monitor, "attached");
    let before = bpftool_counts(&pin)[0].0;
    assert!(!net.ping(3), "aborted");
    let (block, total) = steady_block(&mut monitor, "sample", || bpftool_counts(&pin)[0].0);
    let aborted = total - before;
    assert!(aborted >= 3);
    let ours = format!("xdp_exception      from {:>5}", ifindex.trim());
    let line = block
        .iter()
        .find(|l| l.starts_with(&ours))
        .unwrap_or_else(|| panic!("{block:#?}"));
    assert_eq!(number_after(line, "events"), aborted, "{line}");
    assert_eq!(number_after(line, "drops"), aborted, "{line}");
}

#[test]
fn tracing03_decodes_the_macs_of_the_packets() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let mut trace = spawn("tracing03_trace_pipe", &[net.host_if()]);
    wait_line(&mut trace, "reading the trace pipe");
    // The pipe is global (other programs may print too): look for lines
    // with our MACs, which `ip link` gives independently.
    let want = format!("src {} dst {} proto 0x86dd", net.peer_mac(), net.host_mac());
    // Another reader of trace_pipe (another test) may take some lines:
    // ping until 3 of ours came through, at most 30 times.
    let mut seen = 0;
    for _ in 0..30 {
        assert!(net.ping(1));
        while let Ok(line) = trace.stdout.recv_timeout(Duration::from_millis(500)) {
            seen += usize::from(line.contains(&want));
        }
        if seen >= 3 {
            break;
        }
    }
    assert!(seen >= 3, "{seen} lines with {want:?}");
    assert_eq!(xdp_prog_on(&net).unwrap()["name"], "xdp_printk_func");
    drop(trace);
    // The link died with the process.
    for _ in 0..50 {
        if xdp_prog_on(&net).is_none() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("xdp_printk still attached after the example ended");
}

#[test]
fn tracing04_writes_a_pcap_file_tcpdump_reads() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let file = format!(
        "/tmp/xdp-tutorial-example-{}-{}.pcap",
        std::process::id(),
        net.name
    );
    let _remove = RemoveOnDrop(file.clone());
    net.settle();
    let mut capture = spawn("tracing04_pcap", &[net.host_if(), &file, "--count", "3"]);
    wait_line(&mut capture, "capturing 3 packets");
    assert!(net.ping(3));
    assert_eq!(
        capture.wait_exit(WAIT),
        Some(0),
        "{:?}",
        capture.stderr_seen
    );
    let read = sh("tcpdump", &["-r", &file, "-nn"]);
    let requests = read.lines().filter(|l| {
        l.contains(&format!(
            "{} > {}: ICMP6, echo request",
            net.peer_ip, net.host_ip
        ))
    });
    assert_eq!(requests.count(), 3, "{read}");
}

#[test]
fn per_source_table_matches_the_hash_map() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let v4 = net.add_ipv4();
    let mut table = spawn("basic03_per_source", &[net.host_if(), "--interval", "0.5"]);
    let map_id = number_after(&wait_line(&mut table, "src_counts id"), "id").to_string();
    net.settle();
    assert!(net.ping(4));
    let ping4 = sh(
        "ip",
        &[
            "netns",
            "exec",
            &net.name,
            "ping",
            "-4",
            "-c",
            "3",
            "-i",
            "0.2",
            &v4.host_ip,
        ],
    );
    assert!(ping4.contains("3 received"), "{ping4}");

    // bpftool's dump: key 16 bytes, value a u64 (little endian here).
    let kernel_table = || {
        let dump = json("bpftool", &["-j", "map", "dump", "id", &map_id]);
        let mut rows: Vec<(String, u64)> = dump
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let key: [u8; 16] = hex_bytes(&e["key"]).try_into().unwrap();
                let value = hex_bytes(&e["value"]);
                let addr = std::net::Ipv6Addr::from(key).to_canonical().to_string();
                (addr, u64::from_le_bytes(value.try_into().unwrap()))
            })
            .collect();
        rows.sort();
        rows
    };
    let (block, kernel) = steady_block(&mut table, "sample", kernel_table);
    assert!(kernel.contains(&(net.peer_ip.clone(), 4)), "{kernel:?}");
    assert!(kernel.contains(&(v4.peer_ip.clone(), 3)), "{kernel:?}");
    let printed: Vec<(String, u64)> = block[1..]
        .iter()
        .map(|l| {
            let (addr, n) = l.split_once(' ').unwrap();
            (addr.to_string(), n.trim().parse().unwrap())
        })
        .collect();
    assert_eq!(printed, kernel, "{block:#?}");
}

#[test]
fn make_cfg_draws_every_instruction_of_a_loaded_program() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    loader(&["load", net.host_if(), "xdp_prog", "-n", "xdp_drop_func"]).ok();
    let id = xdp_prog_on(&net).unwrap()["id"].to_string();
    let dir = format!("/tmp/xdp-tutorial-cfg-{}-{}", std::process::id(), net.name);
    let _remove = RemoveOnDrop(dir.clone());
    let out = Command::new("make")
        .args(["-s", "cfg", &format!("ID={id}"), &format!("CFG_DIR={dir}")])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let svg = std::fs::read_to_string(format!("{dir}/prog-{id}.svg")).unwrap();
    assert!(
        svg.contains("<svg"),
        "not an SVG: {}",
        &svg[..200.min(svg.len())]
    );
    // bpftool's own list of the instructions: each appears in the graph.
    let insns = json("bpftool", &["-j", "prog", "dump", "xlated", "id", &id]);
    let dot = std::fs::read_to_string(format!("{dir}/prog-{id}.dot")).unwrap();
    for insn in insns.as_array().unwrap() {
        let text = insn["disasm"].as_str().unwrap();
        // dot escapes < > { } | with a backslash.
        let escaped: String = text
            .chars()
            .flat_map(|c| match c {
                '<' | '>' | '{' | '}' | '|' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        assert!(dot.contains(&escaped), "{text:?} not in the graph:\n{dot}");
    }
}
