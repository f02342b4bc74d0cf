//! `xdp-loader afxdp` (advanced03) on a real veth pair: the socket sits
//! on veth0 inside the test namespace, where the kernel's own ICMPv6 echo
//! is switched off, and the host end pings it. Oracles: ping's own count
//! of replies, the host end's rx counter, bpftool's dump of the program's
//! counters, `ip -j link` for what stays attached.

mod common;

use std::time::{Duration, Instant};

use common::background::Background;
use common::{hex_bytes, json, sh, TestNet};

/// A test network whose namespace does not answer pings itself.
fn quiet_net() -> Option<TestNet> {
    let net = TestNet::for_privileged_test()?;
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
    Some(net)
}

/// Pings veth0 from the host end; the number of replies ping counted.
fn ping(net: &TestNet, count: u32) -> u64 {
    let out = std::process::Command::new("ping")
        .args(["-6", "-c", &count.to_string(), "-i", "0.2", "-W", "1"])
        .arg(&net.peer_ip)
        .output()
        .expect("run ping");
    let text = String::from_utf8_lossy(&out.stdout);
    let summary = text
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .unwrap_or_else(|| panic!("no ping summary: {text}"));
    // "5 packets transmitted, 5 received, 0% packet loss, ..."
    summary
        .split(", ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The id of the XDP program on veth0 inside the namespace (None: none).
fn inside_prog_id(net: &TestNet) -> Option<u64> {
    let link = json(
        "ip",
        &["-n", &net.name, "-j", "link", "show", "dev", "veth0"],
    );
    link[0]["xdp"]["prog"]["id"].as_u64()
}

/// afxdp_counters of program `prog_id` summed over CPUs, read by bpftool:
/// (to socket, to stack).
fn bpftool_verdicts(prog_id: u64) -> (u64, u64) {
    let prog = json(
        "bpftool",
        &["-j", "prog", "show", "id", &prog_id.to_string()],
    );
    let map_id = prog["map_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_u64().unwrap())
        .find(|id| {
            json("bpftool", &["-j", "map", "show", "id", &id.to_string()])["name"]
                == "afxdp_counters"
        })
        .expect("the program uses afxdp_counters");
    let dump = json("bpftool", &["-j", "map", "dump", "id", &map_id.to_string()]);
    let mut slots = [0u64; 2];
    for entry in dump.as_array().unwrap() {
        let key = hex_bytes(&entry["key"])[0] as usize;
        for cpu in entry["values"].as_array().unwrap() {
            let value = hex_bytes(&cpu["value"]);
            slots[key] += u64::from_le_bytes(value[..8].try_into().unwrap());
        }
    }
    (slots[0], slots[1])
}

fn start(net: &TestNet, extra: &[&str]) -> (Background, u64) {
    let mut args = vec!["afxdp", "veth0", "--copy", "--poll", "--quiet"];
    args.extend_from_slice(extra);
    let mut afxdp = Background::spawn_inside(&net.name, &args);
    afxdp.wait_stderr("Ready:", Duration::from_secs(30));
    let prog_id = inside_prog_id(net).expect("ip link shows the afxdp program on veth0");
    (afxdp, prog_id)
}

/// Ctrl-C: exit 0, a final line, and nothing left on veth0.
fn stop(net: &TestNet, mut afxdp: Background, prog_id: u64) -> String {
    afxdp.signal(libc::SIGINT);
    assert_eq!(
        afxdp.wait_exit(Duration::from_secs(20)),
        Some(0),
        "{:#?}",
        afxdp.stderr_seen
    );
    assert_eq!(inside_prog_id(net), None, "afxdp left its program on veth0");
    // The kernel frees the program once the last reference (our link, our
    // object) is gone, which may take an RCU grace period.
    let deadline = Instant::now() + Duration::from_secs(10);
    while json("bpftool", &["-j", "prog", "show"])
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["id"].as_u64() == Some(prog_id))
    {
        assert!(
            Instant::now() < deadline,
            "program {prog_id} still loaded after afxdp ended"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    afxdp
        .stderr_seen
        .iter()
        .find(|l| l.starts_with("Stopped:"))
        .cloned()
        .unwrap_or_else(|| panic!("no Stopped line: {:#?}", afxdp.stderr_seen))
}

#[test]
fn every_ping_is_answered_from_user_space() {
    let Some(net) = quiet_net() else { return };
    // The namespace's kernel answers nothing: every reply below is ours.
    assert_eq!(ping(&net, 2), 0, "the kernel's echo should be off");
    let (afxdp, prog_id) = start(&net, &["-n", "xdp_sock_all"]);
    net.settle();
    let (socket_before, stack_before) = bpftool_verdicts(prog_id);
    let rx_before = net.host_rx_packets();

    const N: u32 = 5;
    assert_eq!(ping(&net, N), u64::from(N), "every ping answered");
    assert_eq!(
        net.host_rx_packets() - rx_before,
        u64::from(N),
        "exactly N replies at the peer"
    );
    let (socket, stack) = bpftool_verdicts(prog_id);
    assert_eq!(
        socket - socket_before,
        u64::from(N),
        "all requests went to the socket"
    );
    assert_eq!(stack - stack_before, 0);

    let stopped = stop(&net, afxdp, prog_id);
    assert!(stopped.contains(&format!("TX {N} packets")), "{stopped}");
}

#[test]
fn every_other_packet_goes_to_the_socket_and_only_those_are_answered() {
    let Some(net) = quiet_net() else { return };
    // The default program: the lesson's every-other-packet split.
    let (afxdp, prog_id) = start(&net, &[]);
    net.settle();
    let (socket_before, stack_before) = bpftool_verdicts(prog_id);
    let rx_before = net.host_rx_packets();

    const SENT: u64 = 8;
    let replies = ping(&net, SENT as u32);
    let (socket, stack) = bpftool_verdicts(prog_id);
    let (to_socket, to_stack) = (socket - socket_before, stack - stack_before);
    assert_eq!(to_socket + to_stack, SENT, "each request counted once");
    assert!(
        to_socket > 0 && to_stack > 0,
        "split: {to_socket} / {to_stack}"
    );
    // The stack does not answer (echo off): the socket's share is the replies.
    assert_eq!(replies, to_socket, "replies match the redirect counter");
    assert_eq!(net.host_rx_packets() - rx_before, to_socket);
    stop(&net, afxdp, prog_id);
}

#[test]
fn zero_copy_on_veth_is_refused_and_leaves_nothing() {
    let Some(net) = quiet_net() else { return };
    let run = net
        .loader_inside(&["afxdp", "veth0", "--zero-copy"])
        .fails_with(1);
    assert!(
        run.stderr
            .contains("veth0 (driver veth) cannot do zero-copy AF_XDP"),
        "{run:#?}"
    );
    assert!(run.hint().contains("use --copy"), "{run:#?}");
    assert_eq!(inside_prog_id(&net), None);
}

#[test]
fn an_object_without_xsks_map_or_a_busy_interface_is_refused() {
    let Some(net) = quiet_net() else { return };
    let run = net
        .loader_inside(&["afxdp", "veth0", "xdp_pass"])
        .fails_with(40);
    assert!(
        run.stderr.contains("has no XSKMAP named xsks_map"),
        "{run:#?}"
    );
    assert!(
        run.hint().contains("bpf_redirect_map(&xsks_map"),
        "{run:#?}"
    );
    assert_eq!(inside_prog_id(&net), None);

    net.loader_inside(&["load", "veth0", "xdp_pass"]).ok();
    let held = inside_prog_id(&net).expect("xdp_pass attached");
    let run = net.loader_inside(&["afxdp", "veth0"]).fails_with(30);
    assert!(
        run.stderr.contains("afxdp attaches a program of its own"),
        "{run:#?}"
    );
    assert_eq!(inside_prog_id(&net), Some(held), "the other program stays");
}

/// The assignment-2 checker (`xdp_tutorial::afxdp::check::every_other`)
/// passes the reference program and rejects programs that are wrong in
/// each way it looks for.
#[test]
fn the_every_other_checker_accepts_the_solution_and_rejects_wrong_programs() {
    use xdp_tutorial::afxdp::check::{every_other, Finding};
    use xdp_tutorial::builtin;
    use xdp_tutorial::object::Source;
    if !common::privileged() {
        return;
    }
    let failed = |findings: Vec<Finding>| -> Vec<String> {
        findings
            .into_iter()
            .filter(|f| !f.passed)
            .map(|f| f.what)
            .collect()
    };
    let afxdp = Source::Builtin(builtin::find("xdp_afxdp").unwrap());
    let solution = every_other(&afxdp, Some("xdp_sock_prog")).unwrap();
    assert!(solution.iter().all(|f| f.passed), "{solution:#?}");
    assert!(
        solution[1].detail.contains("REDIRECT PASS REDIRECT PASS"),
        "{solution:#?}"
    );

    // Every packet to the socket: not every other.
    let all = failed(every_other(&afxdp, Some("xdp_sock_all")).unwrap());
    assert_eq!(all.len(), 1, "{all:?}");
    assert!(all[0].starts_with("every other packet"), "{all:?}");

    // No XSKMAP at all.
    let pass = Source::Builtin(builtin::find("xdp_pass").unwrap());
    assert_eq!(
        failed(every_other(&pass, None).unwrap()),
        ["xsks_map is an XSKMAP"]
    );

    // Redirects without looking the queue up: drops when no socket is there.
    let blind = common::compile_lesson_bpf(
        "afxdp_blind",
        r#"
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_XSKMAP); __type(key, __u32); __type(value, __u32);
         __uint(max_entries, 64); } xsks_map SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __type(key, __u32); __type(value, __u32);
         __uint(max_entries, 64); } seen SEC(".maps");
SEC("xdp") int blind(struct xdp_md *ctx)
{
	__u32 q = ctx->rx_queue_index;
	__u32 *n = bpf_map_lookup_elem(&seen, &q);
	if (n && ((*n)++ & 1))
		return XDP_PASS;
	return bpf_redirect_map(&xsks_map, q, 0);
}
char _license[] SEC("license") = "GPL";
"#,
    );
    let blind = failed(every_other(&Source::File(blind), None).unwrap());
    assert_eq!(blind.len(), 1, "{blind:?}");
    assert!(blind[0].starts_with("no socket on the queue"), "{blind:?}");
}
