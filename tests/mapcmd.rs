//! `xdp-loader map` on the real kernel: dump, lookup, update and delete
//! against `bpftool -j map` as the oracle, each update flag's documented
//! error, BTF printing of xdp_stats_map, and the map-in-map lesson with
//! real traffic through an inner map swapped at runtime.

mod common;

use common::*;
use serde_json::Value;

/// A lesson program loaded on a fresh test network (maps pinned at
/// /sys/fs/bpf/IFNAME/).
fn with(builtin: &str, prog: Option<&str>) -> Option<TestNet> {
    let net = TestNet::for_privileged_test()?;
    let mut args = vec!["load", net.host_if(), builtin];
    if let Some(prog) = prog {
        args.extend_from_slice(&["-n", prog]);
    }
    loader(&args).ok();
    Some(net)
}

fn map_spec(net: &TestNet, name: &str) -> String {
    format!("{}:{name}", net.host_if())
}

fn pin(net: &TestNet, name: &str) -> String {
    format!("/sys/fs/bpf/{}/{name}", net.name)
}

/// `bpftool -j map dump pinned PIN` as (key bytes, value bytes) pairs.
fn bpftool_entries(pin: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    json("bpftool", &["-j", "map", "dump", "pinned", pin])
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (hex_bytes(&e["key"]), hex_bytes(&e["value"])))
        .collect()
}

fn map_json(args: &[&str]) -> Value {
    let run = loader(args).ok();
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {run:#?}"))
}

#[test]
fn dump_prints_xdp_stats_map_by_its_btf_types_and_sums_like_bpftool() {
    let Some(net) = with("xdp_stats1", None) else {
        return;
    };
    net.settle();
    assert!(net.ping(4));
    let spec = map_spec(&net, "xdp_stats_map");
    let dump = map_json(&["map", "dump", &spec, "--json"]);
    assert_eq!(dump["map"]["type"], "percpu_array", "{dump}");
    assert_eq!(dump["map"]["btf"], true, "{dump}");
    let entries = dump["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 5, "{dump}");

    // bpftool sums the raw per-CPU bytes itself.
    let oracle = bpftool_counts(&pin(&net, "xdp_stats_map"));
    let cpus = json(
        "bpftool",
        &["-j", "map", "dump", "pinned", &pin(&net, "xdp_stats_map")],
    )[0]["values"]
        .as_array()
        .unwrap()
        .len();
    for (action, entry) in entries.iter().enumerate() {
        assert_eq!(entry["key"], action, "{entry}");
        assert_eq!(entry["values"].as_array().unwrap().len(), cpus, "{entry}");
        assert_eq!(entry["sum"]["rx_packets"], oracle[action].0, "{entry}");
        assert_eq!(entry["sum"]["rx_bytes"], oracle[action].1, "{entry}");
    }
    assert!(oracle[2].0 >= 4, "the pings are counted as XDP_PASS");

    // The text form shows the struct with its field names.
    let text = loader(&["map", "lookup", &spec, "2"]).ok().stdout;
    let sum = format!(
        "sum     {{rx_packets: {}, rx_bytes: {}}}",
        oracle[2].0, oracle[2].1
    );
    assert!(text.contains(&sum), "{text}");
}

#[test]
fn list_shows_what_bpftool_shows() {
    let Some(net) = with("xdp_redirect", Some("xdp_redirect_map_func")) else {
        return;
    };
    let rows: Vec<Value> = loader(&["map", "list", net.host_if(), "--json"])
        .ok()
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    for name in [
        "tx_port",
        "redirect_params",
        "redirect_target",
        "xdp_stats_map",
    ] {
        assert!(names.contains(&name), "{name} missing: {names:?}");
    }
    for row in &rows {
        let id = row["id"].as_u64().unwrap().to_string();
        let oracle = json("bpftool", &["-j", "map", "show", "id", &id]);
        assert_eq!(row["key_size"], oracle["bytes_key"], "{row} vs {oracle}");
        assert_eq!(
            row["value_size"], oracle["bytes_value"],
            "{row} vs {oracle}"
        );
        assert_eq!(
            row["max_entries"], oracle["max_entries"],
            "{row} vs {oracle}"
        );
        assert_eq!(row["type"], oracle["type"], "{row} vs {oracle}");
        let name = row["name"].as_str().unwrap();
        assert_eq!(row["pin"], pin(&net, name), "{row}");
    }
}

const MAC_A: &str = "aa:bb:cc:00:11:22";
const MAC_B: &str = "02:00:00:00:00:01";

fn mac_bytes(mac: &str) -> Vec<u8> {
    mac.split(':')
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

#[test]
fn hash_round_trips_and_each_flags_error() {
    let Some(net) = with("xdp_redirect", Some("xdp_redirect_map_func")) else {
        return;
    };
    let spec = map_spec(&net, "redirect_params");
    let pinned = pin(&net, "redirect_params");

    // noexist adds a new key; bpftool sees exactly it.
    loader(&["map", "update", &spec, MAC_A, MAC_B, "--flags", "noexist"]).ok();
    assert_eq!(
        bpftool_entries(&pinned),
        vec![(mac_bytes(MAC_A), mac_bytes(MAC_B))]
    );
    let found = map_json(&["map", "lookup", &spec, MAC_A, "--json"]);
    assert_eq!(
        found["value"],
        serde_json::json!([2, 0, 0, 0, 0, 1]),
        "{found}"
    );

    // noexist again: the key is there.
    let run = loader(&["map", "update", &spec, MAC_A, MAC_A, "--flags", "noexist"]).fails_with(1);
    assert!(
        run.stderr.contains("is already in map redirect_params"),
        "{run:#?}"
    );
    assert!(run.hint().contains("--flags any"), "{run:#?}");
    // exist on a missing key.
    let run = loader(&["map", "update", &spec, MAC_B, MAC_A, "--flags", "exist"]).fails_with(1);
    assert!(
        run.stderr.contains("is not in map redirect_params"),
        "{run:#?}"
    );
    assert!(run.hint().contains("noexist"), "{run:#?}");
    // exist on the present key replaces it.
    loader(&["map", "update", &spec, MAC_A, MAC_A, "--flags", "exist"]).ok();
    assert_eq!(
        bpftool_entries(&pinned),
        vec![(mac_bytes(MAC_A), mac_bytes(MAC_A))]
    );
    // A value of the wrong size never reaches the kernel.
    let run = loader(&["map", "update", &spec, MAC_A, "aa:bb"]).fails_with(2);
    assert!(run.stderr.contains("2 bytes given, 6 needed"), "{run:#?}");

    // delete, then it is gone; deleting again says so.
    loader(&["map", "delete", &spec, MAC_A]).ok();
    assert!(bpftool_entries(&pinned).is_empty());
    let run = loader(&["map", "delete", &spec, MAC_A]).fails_with(1);
    assert!(run.stderr.contains("is not in map"), "{run:#?}");
    loader(&["map", "lookup", &spec, MAC_A]).fails_with(1);

    // Full: redirect_params holds 16 entries.
    for i in 0..16 {
        let key = format!("02:00:00:00:01:{i:02x}");
        loader(&["map", "update", &spec, &key, MAC_B]).ok();
    }
    assert_eq!(bpftool_entries(&pinned).len(), 16);
    let run = loader(&["map", "update", &spec, MAC_A, MAC_B]).fails_with(1);
    assert!(
        run.stderr.contains("is full: it holds at most 16 entries"),
        "{run:#?}"
    );
    run.hint();
    let dump = map_json(&["map", "dump", &spec, "--json"]);
    assert_eq!(dump["entries"].as_array().unwrap().len(), 16);
}

#[test]
fn arrays_refuse_noexist_deletes_and_keys_past_the_end() {
    let Some(net) = with("xdp_stats1", None) else {
        return;
    };
    let spec = map_spec(&net, "xdp_stats_map");
    let zero = "{rx_packets: 0, rx_bytes: 0}";
    let run = loader(&["map", "update", &spec, "1", zero, "--flags", "noexist"]).fails_with(1);
    assert!(
        run.stderr.contains("every key of an array map exists"),
        "{run:#?}"
    );
    assert!(run.hint().contains("0..=4"), "{run:#?}");
    let run = loader(&["map", "update", &spec, "5", zero]).fails_with(1);
    assert!(run.stderr.contains("past the end"), "{run:#?}");
    let run = loader(&["map", "delete", &spec, "1"]).fails_with(1);
    assert!(run.stderr.contains("cannot be deleted"), "{run:#?}");
    let run = loader(&["map", "update", &spec, "1", "{rx_pkts: 1}"]).fails_with(2);
    assert!(run.stderr.contains("no field 'rx_pkts'"), "{run:#?}");
    assert!(
        run.hint().contains("{rx_packets: 0, rx_bytes: 0}"),
        "{run:#?}"
    );

    // exist works on an array; per-CPU: every CPU gets the value.
    loader(&[
        "map",
        "update",
        &spec,
        "1",
        "{rx_packets: 7, rx_bytes: 70}",
        "--flags",
        "exist",
    ])
    .ok();
    let oracle = bpftool_counts(&pin(&net, "xdp_stats_map"));
    let cpus = libbpf_rs::num_possible_cpus().unwrap() as u64;
    assert_eq!(oracle[1], (7 * cpus, 70 * cpus));
}

/// Values the kernel would store wrongly never reach it: a negative number in
/// an unsigned field (once stored as 2^64 - 5), a field given twice (once the
/// first silently won). bpftool shows the entry unchanged.
#[test]
fn negative_unsigned_and_repeated_fields_are_refused() {
    let Some(net) = with("xdp_stats1", None) else {
        return;
    };
    let spec = map_spec(&net, "xdp_stats_map");
    let before = bpftool_counts(&pin(&net, "xdp_stats_map"));
    let run = loader(&["map", "update", &spec, "1", "{rx_packets: -5, rx_bytes: 0}"]).fails_with(2);
    assert!(
        run.stderr
            .contains("rx_packets: -5 does not fit (the field is unsigned"),
        "{run:#?}"
    );
    let run = loader(&["map", "update", &spec, "-1", "{rx_packets: 0, rx_bytes: 0}"]);
    assert_ne!(run.code, 0, "{run:#?}");
    let run = loader(&[
        "map",
        "update",
        &spec,
        "1",
        "{rx_packets: 1, rx_packets: 2, rx_bytes: 0}",
    ])
    .fails_with(2);
    assert!(
        run.stderr.contains("field 'rx_packets' is given twice"),
        "{run:#?}"
    );
    // Key 1 (XDP_DROP) is the one written to; xdp_stats1 only passes, so
    // nothing else changes it (key 2 counts whatever the veth receives).
    assert_eq!(bpftool_counts(&pin(&net, "xdp_stats_map"))[1], before[1]);
}

/// A devmap slot at max_entries: the kernel answers E2BIG ("index past the
/// end"), once worded as "map is full".
#[test]
fn devmap_key_past_the_end_says_so() {
    let Some(net) = with("xdp_redirect", Some("xdp_redirect_map_func")) else {
        return;
    };
    let spec = map_spec(&net, "tx_port");
    let ifindex = std::fs::read_to_string(format!("/sys/class/net/{}/ifindex", net.host_if()))
        .unwrap()
        .trim()
        .to_string();
    let run = loader(&["map", "update", &spec, "256", &ifindex]).fails_with(1);
    assert!(
        run.stderr
            .contains("key 256 is past the end of devmap map tx_port"),
        "{run:#?}"
    );
    assert!(run.hint().contains("0..=255"), "{run:#?}");
    loader(&["map", "update", &spec, "255", &ifindex]).ok();
    // bpftool lists every slot; empty ones carry an "error" instead of a value.
    let dump = json(
        "bpftool",
        &["-j", "map", "dump", "pinned", &pin(&net, "tx_port")],
    );
    let filled: Vec<Vec<u8>> = dump
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["value"].is_array())
        .map(|e| hex_bytes(&e["key"]))
        .collect();
    assert_eq!(filled, vec![255u32.to_ne_bytes().to_vec()]);
}

/// A program or a bpf_link pinned where a map is expected is named as such
/// (the kernel's kind of the pinned fd), never dumped as a map with the
/// link's id and the program id as its "key size".
#[test]
fn a_pinned_program_or_link_is_not_a_map() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    loader(&["load", net.host_if(), "xdp_stats1", "--attach", "link"]).ok();
    let link_pin = format!("/sys/fs/bpf/xdp-loader/{}/link", net.host_if());
    let run = loader(&["map", "dump", &link_pin]).fails_with(2);
    assert!(
        run.stderr
            .contains(&format!("{link_pin} pins a bpf_link, not a map")),
        "{run:#?}"
    );
    assert!(run.hint().contains("bpftool link show"), "{run:#?}");

    let prog_id = net.ip_link_xdp().expect("attached")["prog"]["id"]
        .as_u64()
        .unwrap()
        .to_string();
    let prog_pin = pin(&net, "prog_pin");
    sh("bpftool", &["prog", "pin", "id", &prog_id, &prog_pin]);
    let run = loader(&["map", "dump", &prog_pin]).fails_with(2);
    assert!(
        run.stderr
            .contains(&format!("{prog_pin} pins a program, not a map")),
        "{run:#?}"
    );
    // IFNAME:NAME reaches the same pin, and says the same.
    let run = loader(&["map", "dump", &map_spec(&net, "prog_pin")]).fails_with(2);
    assert!(run.stderr.contains("pins a program, not a map"), "{run:#?}");
    // The real map there still dumps, and `map list` lists no prog/link pin.
    loader(&["map", "dump", &map_spec(&net, "xdp_stats_map")]).ok();
    let list = loader(&["map", "list", net.host_if()]).ok();
    assert!(!list.stdout.contains("prog_pin"), "{list:#?}");
}

#[test]
fn bad_map_names_say_what_a_map_is() {
    let Some(net) = with("xdp_stats1", None) else {
        return;
    };
    let run = loader(&["map", "dump", "nonsense"]).fails_with(2);
    assert!(run.hint().contains("id:N"), "{run:#?}");
    let run = loader(&["map", "dump", &map_spec(&net, "nope")]).fails_with(1);
    assert!(run.hint().contains("xdp_stats_map"), "{run:#?}");
    loader(&["map", "dump", "id:4000000000"]).fails_with(1);
    loader(&["map", "dump", "no-such-if0:x"]).fails_with(2);
    let run = loader(&["map", "dump", "/tmp"]).fails_with(2);
    assert!(run.stderr.contains("not on a BPF filesystem"), "{run:#?}");
}

/// packets counted for ICMPv6 (slot 58) in the map with this id, by bpftool.
fn icmpv6_packets(map_id: u64) -> u64 {
    let dump = json("bpftool", &["-j", "map", "dump", "id", &map_id.to_string()]);
    let entry = dump
        .as_array()
        .unwrap()
        .iter()
        .find(|e| hex_bytes(&e["key"]) == 58u32.to_ne_bytes())
        .unwrap_or_else(|| panic!("no key 58: {dump}"));
    let value = hex_bytes(&entry["value"]);
    u64::from_ne_bytes(value[..8].try_into().unwrap())
}

fn inner_id(net: &TestNet, outer: &str, key: &str) -> u64 {
    map_json(&["map", "lookup", &map_spec(net, outer), key, "--json"])["value"]["map_id"]
        .as_u64()
        .unwrap()
}

fn created_id(stdout: &str) -> u64 {
    let (_, rest) = stdout.split_once(" -> map id ").expect("the new id");
    rest.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn map_in_map_counters_follow_an_inner_map_swapped_at_runtime() {
    let Some(net) = with("xdp_map_in_map", None) else {
        return;
    };
    net.settle();
    let first = inner_id(&net, "counters", "0");
    let pinned_first = json(
        "bpftool",
        &["-j", "map", "show", "pinned", &pin(&net, "proto_counts")],
    );
    assert_eq!(pinned_first["id"], first, "slot 0 starts with proto_counts");

    assert!(net.ping(3));
    assert_eq!(icmpv6_packets(first), 3);

    // Swap: a new, empty inner map in slot 0; the program counts there now.
    let run = loader(&["map", "new-inner", &map_spec(&net, "counters"), "0"]).ok();
    let second = created_id(&run.stdout);
    assert_ne!(second, first);
    assert_eq!(inner_id(&net, "counters", "0"), second);
    assert!(net.ping(2));
    assert_eq!(
        icmpv6_packets(second),
        2,
        "new pings go to the new inner map"
    );
    assert_eq!(icmpv6_packets(first), 3, "the old one keeps what it had");

    // The hash of maps counts an interface once it has an inner map.
    let ifindex = std::fs::read_to_string(format!("/sys/class/net/{}/ifindex", net.name))
        .unwrap()
        .trim()
        .to_string();
    let by_if = map_spec(&net, "counters_by_ifindex");
    let run = loader(&["map", "new-inner", &by_if, &ifindex]).fails_with(2);
    assert!(run.hint().contains("--like"), "{run:#?}");
    let run = loader(&[
        "map",
        "new-inner",
        &by_if,
        &ifindex,
        "--like",
        &map_spec(&net, "proto_counts"),
    ])
    .ok();
    let per_if = created_id(&run.stdout);
    assert!(net.ping(2));
    assert_eq!(icmpv6_packets(per_if), 2);
    assert_eq!(icmpv6_packets(second), 4);

    // An inner map of the wrong shape is refused by the kernel, explained.
    let run = loader(&[
        "map",
        "update",
        &map_spec(&net, "counters"),
        "0",
        &map_spec(&net, "xdp_stats_map"),
    ])
    .fails_with(1);
    assert!(run.stderr.contains("refused the inner map"), "{run:#?}");
    assert_eq!(inner_id(&net, "counters", "0"), second, "slot 0 unchanged");

    // Any fitting map can go in, by id: swap the first one back.
    loader(&[
        "map",
        "update",
        &map_spec(&net, "counters"),
        "0",
        &format!("id:{first}"),
    ])
    .ok();
    assert_eq!(inner_id(&net, "counters", "0"), first);
    assert!(net.ping(1));
    assert_eq!(icmpv6_packets(first), 4);
    // `second` was held by the outer map only: taken out, it is freed.
}

/// An XDP program that tries to write an outer map.
const WRITES_OUTER: &str = r#"
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>
struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 4);
} in0 SEC(".maps");
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__type(key, __u32);
	__uint(max_entries, 1);
	__array(values, struct inner);
} outer SEC(".maps") = { .values = { [0] = &in0 } };
SEC("xdp")
int xdp_writes_outer(struct xdp_md *ctx)
{
	__u32 key = 0, inner_fd = 0;
	bpf_map_update_elem(&outer, &key, &inner_fd, 0);
	return XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
"#;

#[test]
fn only_user_space_may_write_an_outer_map() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let obj = compile_lesson_bpf("writes_outer", WRITES_OUTER);
    let run = loader(&["load", net.host_if(), path(&obj)]).fails_with(40);
    assert!(
        run.stderr
            .contains("cannot pass map_type 12 into func bpf_map_update_elem"),
        "{run:#?}"
    );
    assert!(net.ip_link_xdp().is_none());
}
