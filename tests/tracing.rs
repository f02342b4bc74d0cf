//! The tracing lessons on the real kernel: `monitor` counts the aborts of
//! basic02's abort program, `trace` shows xdp_printk's line per ping,
//! `capture` writes a pcap that tcpdump reads back. Oracles: the host
//! end's rx counter, ping's own result, the MACs `ip -j link` reports,
//! `tcpdump -r`, and `ip -j link`/`bpftool` for what stays attached.

mod common;

use std::time::{Duration, Instant};

use common::background::Background;
use common::*;
use serde_json::Value;

/// Does the host end have any XDP program, by `ip -j link`?
fn has_xdp(net: &TestNet) -> bool {
    net.ip_link_xdp().is_some()
}

/// The XDP_ABORTED packets the monitor counted on `ifname` in a sample.
fn aborted_on(sample: &Value, ifname: &str) -> u64 {
    sample["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("no rows: {sample}"))
        .iter()
        .filter(|row| {
            row["event"] == "xdp_exception"
                && row["device"] == ifname
                && row["action"] == "XDP_ABORTED"
        })
        .map(|row| row["packets"].as_u64().unwrap())
        .sum()
}

#[test]
fn monitor_counts_exactly_the_aborted_packets() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    loader(&["load", net.host_if(), "xdp_prog", "-n", "xdp_abort_func"]).ok();
    net.settle();
    let mut monitor = Background::spawn(&["monitor", "--json", "--interval", "0.3"]);
    monitor.wait_stderr("Monitoring", Duration::from_secs(10));
    assert!(
        monitor
            .stderr_seen
            .iter()
            .any(|l| l.contains("xdp_exception")),
        "{:#?}",
        monitor.stderr_seen
    );

    let rx_before = net.host_rx_packets();
    assert!(!net.ping(5), "the abort program lets no ping through");
    let arrived = net.host_rx_packets() - rx_before;
    assert_eq!(arrived, 5, "the host end received the 5 echo requests");

    // Samples come every 0.3 s; the count must reach 5 and stay there.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut counted = 0;
    while counted < arrived && Instant::now() < deadline {
        counted = aborted_on(&monitor.next_json(Duration::from_secs(5)), net.host_if());
    }
    assert_eq!(counted, arrived, "monitor counted every aborted packet");
    for _ in 0..3 {
        let sample = monitor.next_json(Duration::from_secs(5));
        assert_eq!(aborted_on(&sample, net.host_if()), arrived, "{sample}");
    }

    // Ctrl-C ends it cleanly, with one last sample.
    monitor.signal(libc::SIGINT);
    assert_eq!(monitor.wait_exit(Duration::from_secs(5)), Some(0));
}

/// The monitor rows of `event` from `from` in a sample.
fn rows<'a>(sample: &'a Value, event: &str, from: &str) -> Vec<&'a Value> {
    sample["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("no rows: {sample}"))
        .iter()
        .filter(|row| row["event"] == event && row["device"] == from)
        .collect()
}

#[test]
fn monitor_names_the_target_and_errno_of_failed_redirects() {
    let Some(a) = TestNet::for_privileged_test() else {
        return;
    };
    let b = TestNet::new();
    // a redirects everything out of b, whose peer (veth0 in b's namespace)
    // runs no XDP program: a veth then refuses redirected frames.
    loader(&[
        "load",
        a.host_if(),
        "xdp_redirect",
        "-n",
        "xdp_redirect_func",
    ])
    .ok();
    loader(&["redirect", a.host_if(), "--to", b.host_if()]).ok();
    a.settle();
    let mut monitor = Background::spawn(&["monitor", "--json", "--interval", "0.3"]);
    monitor.wait_stderr("Monitoring", Duration::from_secs(10));

    let rx_before = a.host_rx_packets();
    assert!(!a.ping(4), "redirected into a veth without XDP: no replies");
    let arrived = a.host_rx_packets() - rx_before;
    assert_eq!(arrived, 4);

    let deadline = Instant::now() + Duration::from_secs(10);
    let failed = loop {
        let sample = monitor.next_json(Duration::from_secs(5));
        let failed: Vec<Value> = rows(&sample, "xdp_redirect_err", a.host_if())
            .into_iter()
            .cloned()
            .collect();
        let total: u64 = failed.iter().map(|r| r["packets"].as_u64().unwrap()).sum();
        if total >= arrived || Instant::now() > deadline {
            break failed;
        }
    };
    assert_eq!(failed.len(), 1, "one target, one errno: {failed:#?}");
    let row = &failed[0];
    assert_eq!(row["target"], b.host_if(), "{row}");
    let ifindex =
        |name: &str| json("ip", &["-j", "link", "show", "dev", name])[0]["ifindex"].clone();
    assert_eq!(row["to"], ifindex(b.host_if()), "{row}");
    assert_eq!(row["from"], ifindex(a.host_if()), "{row}");
    assert_eq!(row["action"], "XDP_REDIRECT", "{row}");
    assert_eq!(row["packets"], arrived, "{row}");
    assert_eq!(
        row["drops"], arrived,
        "a failed redirect drops the frame: {row}"
    );
    assert!(row["error"].as_str().unwrap().starts_with('E'), "{row}");
}

/// Ids of the BPF programs process `pid` holds (program and link fds),
/// from the kernel's /proc/PID/fdinfo.
fn programs_of(pid: u32) -> Vec<u64> {
    let mut ids: Vec<u64> = std::fs::read_dir(format!("/proc/{pid}/fdinfo"))
        .unwrap()
        .flatten()
        .filter_map(|fd| std::fs::read_to_string(fd.path()).ok())
        .filter_map(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("prog_id:"))
                .and_then(|id| id.trim().parse().ok())
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Waits up to 5 s for a program to be freed (the kernel frees it shortly
/// after its last reference goes).
fn gone(prog_id: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let alive = std::process::Command::new("bpftool")
            .args(["prog", "show", "id", &prog_id.to_string()])
            .output()
            .unwrap()
            .status
            .success();
        if !alive {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn monitor_unloads_its_tracepoint_programs_when_it_ends() {
    if !privileged() {
        return;
    }
    let mut monitor = Background::spawn(&["monitor", "--interval", "0.2"]);
    monitor.wait_stderr("Monitoring", Duration::from_secs(10));
    let held = programs_of(monitor.child.id());
    assert!(held.len() >= 2, "one program per tracepoint: {held:?}");
    monitor.signal(libc::SIGTERM);
    assert_eq!(monitor.wait_exit(Duration::from_secs(5)), Some(0));
    for id in held {
        assert!(gone(id), "program {id} stayed loaded");
    }
}

#[test]
fn trace_shows_one_decoded_line_per_ping() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    loader(&["load", net.host_if(), "xdp_printk"]).ok();
    net.settle();
    // A line from before `trace` starts waits in the buffer: not shown.
    assert!(net.ping(1));
    let mut trace = Background::spawn(&["trace"]);
    trace.wait_stderr("Reading bpf_printk lines", Duration::from_secs(10));

    assert!(net.ping(3), "xdp_printk passes every packet");
    // Ours are the lines with this pair's MACs (from ip, not from us).
    let ours = format!(
        "src: {} dst: {} proto: 0x86dd (IPv6)",
        net.peer_mac(),
        net.host_mac()
    );
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.len() < 3 && Instant::now() < deadline {
        if let Ok(line) = trace.stdout.recv_timeout(Duration::from_millis(500)) {
            if line.contains(&ours) {
                seen.push(line);
            }
        }
    }
    // Nothing more arrives for our pair.
    while let Ok(line) = trace.stdout.recv_timeout(Duration::from_secs(1)) {
        if line.contains(&ours) {
            seen.push(line);
        }
    }
    assert_eq!(seen.len(), 3, "one line per echo request: {seen:#?}");
    // "task-pid [cpu] time: message": the task is whichever ran the
    // softirq (ping itself, or another when the machine is busy).
    for line in &seen {
        let (prefix, _) = line.split_once(": src: ").unwrap();
        let words: Vec<&str> = prefix.split_whitespace().collect();
        assert!(
            words.len() >= 3 && words[words.len() - 2].starts_with('['),
            "{line}"
        );
    }
}

/// A pcap path of this test's own, removed when the guard drops.
fn pcap_file(net: &TestNet) -> (String, RemoveOnDrop) {
    let file = std::env::temp_dir().join(format!("xdp-capture-{}.pcap", net.name));
    let file = file.to_str().unwrap().to_string();
    (file.clone(), RemoveOnDrop(file))
}

/// `tcpdump -r FILE -nn -e`, one line per packet.
fn tcpdump_read(file: &str) -> Vec<String> {
    sh("tcpdump", &["-r", file, "-nn", "-e"])
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn capture_writes_a_pcap_that_tcpdump_reads_back() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    net.settle();
    let (file, _cleanup) = pcap_file(&net);
    let mut capture = Background::spawn(&["capture", net.host_if(), "-w", &file, "--count", "4"]);
    capture.wait_stderr("Capturing on", Duration::from_secs(10));
    assert!(has_xdp(&net), "capture attaches its program while it runs");

    assert!(net.ping(4), "capturing must not stop traffic");
    assert_eq!(capture.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(
        capture
            .stderr_seen
            .iter()
            .any(|l| l.contains("4 packet(s) captured")),
        "{:#?}",
        capture.stderr_seen
    );
    assert!(!has_xdp(&net), "the capture program is gone after --count");

    let packets = tcpdump_read(&file);
    assert_eq!(packets.len(), 4, "{packets:#?}");
    let from = format!("{} > {}", net.peer_mac(), net.host_mac());
    for (i, packet) in packets.iter().enumerate() {
        assert!(packet.contains(&from), "{packet}");
        assert!(
            packet.contains(&format!(
                "{} > {}: ICMP6, echo request",
                net.peer_ip, net.host_ip
            )),
            "{packet}"
        );
        assert!(packet.contains(&format!("seq {}", i + 1)), "{packet}");
    }
    // The per-packet lines say the same.
    let lines: Vec<String> = std::iter::from_fn(|| capture.stdout.try_recv().ok()).collect();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert!(
        lines[3].contains("ICMPv6 echo request") && lines[3].contains("seq 4"),
        "{lines:#?}"
    );
}

#[test]
fn capture_snaplen_cuts_packets_but_keeps_their_length() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    net.settle();
    let (file, _cleanup) = pcap_file(&net);
    let mut capture = Background::spawn(&[
        "capture",
        net.host_if(),
        "-w",
        &file,
        "-c",
        "1",
        "--snaplen",
        "60",
        "-q",
    ]);
    capture.wait_stderr("Capturing on", Duration::from_secs(10));
    assert!(net.ping(1));
    assert_eq!(capture.wait_exit(Duration::from_secs(10)), Some(0));
    // 64-byte ping payload: 118 bytes on the wire, 60 kept.
    let packets = tcpdump_read(&file);
    assert_eq!(packets.len(), 1, "{packets:#?}");
    assert!(packets[0].contains("length 118"), "{packets:#?}");
    let captured = sh("tcpdump", &["-r", &file, "-nn", "-xx"]);
    let hex_bytes: usize = captured
        .lines()
        .filter(|l| l.trim_start().starts_with("0x"))
        .map(|l| {
            l.split_once(':')
                .unwrap()
                .1
                .split_whitespace()
                .map(|w| w.len() / 2)
                .sum::<usize>()
        })
        .sum();
    // tcpdump -xx prints every captured byte, Ethernet header included.
    assert_eq!(hex_bytes, 60, "{captured}");
}

#[test]
fn capture_ended_by_ctrl_c_or_sigkill_leaves_nothing_attached() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    for signal in [libc::SIGINT, libc::SIGKILL] {
        let mut capture = Background::spawn(&["capture", net.host_if(), "-q"]);
        capture.wait_stderr("Capturing on", Duration::from_secs(10));
        let attached = net.ip_link_xdp().expect("attached while running");
        let prog_id = attached["prog"]["id"].as_u64().unwrap_or_default();
        capture.signal(signal);
        let code = capture.wait_exit(Duration::from_secs(5));
        if signal == libc::SIGINT {
            assert_eq!(code, Some(0), "{:#?}", capture.stderr_seen);
            assert!(
                capture
                    .stderr_seen
                    .iter()
                    .any(|l| l.contains("captured on")),
                "{:#?}",
                capture.stderr_seen
            );
        }
        // The link closes with the process: nothing on the interface and,
        // soon after, no such program.
        assert!(!has_xdp(&net), "still attached after signal {signal}");
        assert!(gone(prog_id), "program {prog_id} still loaded");
    }
}

/// The pcap header is on disk as soon as capture starts, and each packet's
/// record soon after it arrives: a capture killed with SIGKILL (no chance
/// to flush) leaves a file tcpdump reads to the last packet.
#[test]
fn capture_killed_with_sigkill_leaves_a_readable_file() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    net.settle();
    let (file, _cleanup) = pcap_file(&net);
    let mut capture = Background::spawn(&["capture", net.host_if(), "-w", &file]);
    capture.wait_stderr("Capturing on", Duration::from_secs(10));
    // The 24-byte header, before any packet.
    assert_eq!(std::fs::metadata(&file).unwrap().len(), 24);
    assert!(net.ping(3));
    // Wait (bounded) until the three records are in the file: a flush per
    // poll round (100 ms) follows each packet's line.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while tcpdump_count(&file) < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    capture.signal(libc::SIGKILL);
    capture.wait_exit(Duration::from_secs(5));
    let packets = tcpdump_read(&file);
    assert_eq!(packets.len(), 3, "{packets:#?}");
    assert!(
        packets[2].contains("ICMP6, echo request, id"),
        "{packets:#?}"
    );
    assert!(packets[2].contains("seq 3"), "{packets:#?}");
}

/// Records tcpdump reads from `file` (0 while it cannot read it).
fn tcpdump_count(file: &str) -> usize {
    std::process::Command::new("tcpdump")
        .args(["-r", file, "-nn"])
        .output()
        .map_or(0, |out| {
            String::from_utf8_lossy(&out.stdout).lines().count()
        })
}

#[test]
fn capture_ends_when_its_interface_is_deleted_keeping_the_file() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    net.settle();
    let (file, _cleanup) = pcap_file(&net);
    let mut capture = Background::spawn(&["capture", net.host_if(), "-w", &file, "-q"]);
    capture.wait_stderr("Capturing on", Duration::from_secs(10));
    assert!(net.ping(2));
    sh("ip", &["link", "del", net.host_if()]);
    assert_eq!(capture.wait_exit(Duration::from_secs(5)), Some(1));
    assert!(
        capture
            .stderr_seen
            .iter()
            .any(|l| l.contains("is gone; 2 packet(s) captured before that")),
        "{:#?}",
        capture.stderr_seen
    );
    assert_eq!(
        tcpdump_read(&file).len(),
        2,
        "the file keeps what was captured"
    );
}

#[test]
fn capture_without_trampolines_or_with_a_bad_file_changes_nothing() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    loader(&["load", net.host_if(), "xdp_pass"]).ok();
    let before = net.ip_link_xdp().unwrap();
    // Capture around it needs BPF trampolines (tests/guest.rs captures
    // around programs on kernels that have them); this one refuses.
    if common::features::feature_result(&common::features::features_json(&[]), "fentry") != "yes" {
        let run = loader(&["capture", net.host_if(), "-c", "1"]).fails_with(1);
        let said = format!(
            "XDP program xdp_prog_simple (id {}) needs BPF trampolines",
            before["prog"]["id"]
        );
        assert!(run.stderr.contains(&said), "{run:#?}");
        assert!(run.hint().contains("xdp-loader unload"), "{run:#?}");
    }
    assert_eq!(net.ip_link_xdp().unwrap(), before, "the program stays");
    loader(&["unload", net.host_if()]).ok();

    let run = loader(&["capture", net.host_if(), "-w", "/nonexistent-dir/x.pcap"]).fails_with(1);
    assert!(
        run.stderr.contains("cannot create capture file"),
        "{run:#?}"
    );
    run.hint();
    assert!(!has_xdp(&net), "nothing attached after a bad -w");

    let run = loader(&["capture", "no-such-if0"]).fails_with(2);
    assert!(run.hint().contains("interfaces here"), "{run:#?}");
}

#[test]
fn loading_the_monitor_object_as_xdp_points_to_monitor() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let run = loader(&["load", net.host_if(), "xdp_monitor"]).fails_with(40);
    assert!(run.stderr.contains("trace_xdp_exception"), "{run:#?}");
    assert!(run.hint().contains("xdp-loader monitor"), "{run:#?}");
    assert!(!has_xdp(&net));
}

#[test]
fn tracefs_is_mounted_when_missing() {
    if !privileged() {
        return;
    }
    // In a private mount namespace, so the machine's tracefs is untouched.
    let script = format!(
        "umount -l /sys/kernel/tracing 2>/dev/null; umount -l /sys/kernel/debug 2>/dev/null; \
         {loader} monitor --interval 0.1 --count 1 && stat -f -c %T /sys/kernel/tracing",
        loader = common::loader_path()
    );
    let run = in_private_mounts(&script);
    assert!(
        run.stderr
            .contains("Note: mounted tracefs at /sys/kernel/tracing"),
        "{run:#?}"
    );
    assert!(run.stdout.contains("XDP-event"), "{run:#?}");
    assert!(run.stdout.trim_end().ends_with("tracefs"), "{run:#?}");
}
