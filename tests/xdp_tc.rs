//! advanced01: the built-in xdp_meta pair. `load` attaches the XDP side
//! and the tc ingress side (libbpf's tc hook), `unload` removes both and
//! nothing else. Traffic from the namespace: tc sees exactly what XDP
//! marked. Oracles: `tc -j filter show`, `ip -j link`, bpftool's dump of
//! meta_counters, the UDP sockets that receive (or not).

mod common;

use std::time::Duration;

use common::{hex_bytes, json, loader, sh, TestNet};
use serde_json::Value;

const XDP_MARKED: usize = 0;
const TC_SAW_MARKED: usize = 1;
const TC_DROPPED: usize = 3;

fn tc_filters(net: &TestNet) -> Vec<Value> {
    json(
        "tc",
        &["-j", "filter", "show", "dev", net.host_if(), "ingress"],
    )
    .as_array()
    .cloned()
    .unwrap_or_default()
}

/// The bpf filter in xdp-loader's slot (pref 465, handle 0x1d1), if any.
fn our_filter(net: &TestNet) -> Option<Value> {
    tc_filters(net)
        .into_iter()
        .find(|f| f["pref"] == 465 && f["options"]["handle"] == "0x1d1")
}

/// meta_counters summed over CPUs, by bpftool.
fn counters(net: &TestNet) -> [u64; 4] {
    let pin = format!("/sys/fs/bpf/{}/meta_counters", net.name);
    let mut sums = [0u64; 4];
    for entry in json("bpftool", &["-j", "map", "dump", "pinned", &pin])
        .as_array()
        .unwrap()
    {
        let key = hex_bytes(&entry["key"])[0] as usize;
        for cpu in entry["values"].as_array().unwrap() {
            sums[key] += u64::from_le_bytes(hex_bytes(&cpu["value"])[..8].try_into().unwrap());
        }
    }
    sums
}

fn receiver(net: &TestNet, port: u16) -> std::net::UdpSocket {
    let socket = std::net::UdpSocket::bind((net.host_ip.as_str(), port)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    socket
}

fn received(socket: &std::net::UdpSocket) -> usize {
    let mut buf = [0u8; 64];
    std::iter::from_fn(|| socket.recv(&mut buf).ok()).count()
}

#[test]
fn tc_acts_on_exactly_what_xdp_marked_and_unload_removes_both() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    // A tc filter of someone else's, which must survive everything below.
    sh("tc", &["qdisc", "add", "dev", net.host_if(), "clsact"]);
    sh(
        "tc",
        &[
            "filter",
            "add",
            "dev",
            net.host_if(),
            "ingress",
            "pref",
            "100",
            "u32",
            "match",
            "u32",
            "0",
            "0",
        ],
    );

    let run = loader(&["load", net.host_if(), "xdp_meta"]).ok();
    assert!(
        run.stdout.contains("tc ingress program(tc_meta_read)"),
        "{run:#?}"
    );
    let filter = our_filter(&net).expect("tc shows our filter");
    assert!(
        filter["options"]["bpf_name"]
            .as_str()
            .unwrap()
            .starts_with("tc_meta_read"),
        "{filter}"
    );
    assert_eq!(filter["options"]["direct-action"], true, "{filter}");
    assert!(net.ip_link_xdp().is_some(), "XDP side attached");

    // Port 9 (discard) is what tc drops; a port of the test's own passes.
    let port = 20_000 + (std::process::id() % 20_000) as u16;
    let (kept, discard) = (receiver(&net, port), receiver(&net, 9));
    net.settle();
    let before = counters(&net);
    const KEPT: usize = 5;
    const DROPPED: usize = 3;
    net.in_namespace(|| {
        let sender = std::net::UdpSocket::bind((net.peer_ip.as_str(), 0)).unwrap();
        for (to, count) in [(port, KEPT), (9, DROPPED)] {
            for _ in 0..count {
                sender
                    .send_to(b"metadata", (net.host_ip.as_str(), to))
                    .unwrap();
            }
        }
    });
    assert_eq!(received(&kept), KEPT, "datagrams tc let through");
    assert_eq!(received(&discard), 0, "datagrams tc dropped");
    let after = counters(&net);
    let delta = |slot: usize| after[slot] - before[slot];
    assert_eq!(
        delta(XDP_MARKED),
        (KEPT + DROPPED) as u64,
        "XDP marked every datagram"
    );
    assert_eq!(
        delta(TC_SAW_MARKED),
        delta(XDP_MARKED),
        "tc saw exactly what XDP marked"
    );
    assert_eq!(delta(TC_DROPPED), DROPPED as u64);

    let run = loader(&["unload", net.host_if()]).ok();
    assert!(
        run.stdout
            .contains("Removed tc ingress program tc_meta_read"),
        "{run:#?}"
    );
    assert!(net.ip_link_xdp().is_none(), "XDP side removed");
    assert!(
        our_filter(&net).is_none(),
        "tc side removed: {:?}",
        tc_filters(&net)
    );
    assert!(
        tc_filters(&net)
            .iter()
            .any(|f| f["pref"] == 100 && f["kind"] == "u32"),
        "the other filter stays: {:?}",
        tc_filters(&net)
    );
    assert!(!std::path::Path::new(&format!("/sys/fs/bpf/{}/meta_counters", net.name)).exists());
}

/// Someone else's bpf filter in our slot: `load` of the pair refuses and
/// attaches nothing; `unload` of a program it does not belong with (no
/// shared map) leaves it.
#[test]
fn a_foreign_filter_in_our_slot_is_left_alone() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let foreign = common::compile_lesson_bpf(
        "tc_foreign",
        r#"
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>
SEC("tc") int foreign_pass(struct __sk_buff *skb) { return 0; }
char _license[] SEC("license") = "GPL";
"#,
    );
    sh("tc", &["qdisc", "add", "dev", net.host_if(), "clsact"]);
    sh(
        "tc",
        &[
            "filter",
            "add",
            "dev",
            net.host_if(),
            "ingress",
            "pref",
            "465",
            "handle",
            "0x1d1",
            "bpf",
            "da",
            "obj",
            common::path(&foreign),
            "sec",
            "tc",
        ],
    );
    let foreign_name =
        |net: &TestNet| our_filter(net).map(|f| f["options"]["prog"]["name"].clone());

    let run = loader(&["load", net.host_if(), "xdp_meta"]).fails_with(30);
    assert!(
        run.stderr
            .contains("already has a filter at handle 0x1d1 pref 465"),
        "{run:#?}"
    );
    assert!(run.hint().contains("--force"), "{run:#?}");
    assert!(net.ip_link_xdp().is_none(), "no XDP side either");
    assert_eq!(foreign_name(&net), Some(Value::from("foreign_pass")));

    loader(&["load", net.host_if(), "xdp_stats1"]).ok();
    let run = loader(&["unload", net.host_if()]).ok();
    assert!(!run.stdout.contains("tc ingress"), "{run:#?}");
    assert_eq!(
        foreign_name(&net),
        Some(Value::from("foreign_pass")),
        "not ours: it stays"
    );
}
