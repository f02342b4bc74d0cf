//! Map pinning and `xdp-loader stats` on the real kernel: exact packet
//! counts from pings, pins where the README says, reuse across reloads,
//! and stats following (or giving up on) a map that changes under it.
//!
//! Independent oracles: `bpftool -j map show/dump pinned`, `bpftool -j
//! prog show`, `ip -j link`, and the files on bpffs.
//!
//! Every count here is exact: `TestNet::settle` waits out the peer's MLD
//! reports, so the only packets the host veth receives are the echo
//! requests of `ping` (the replies leave through it and XDP never sees
//! them).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::background::Background;
use common::*;
use serde_json::Value;

/// An echo request as XDP sees it: Ethernet 14 + IPv6 40 + ICMPv6 8 + 56
/// bytes of ping's default payload.
const ECHO_FRAME: u64 = 14 + 40 + 8 + 56;

const ACTIONS: [&str; 5] = [
    "XDP_ABORTED",
    "XDP_DROP",
    "XDP_PASS",
    "XDP_TX",
    "XDP_REDIRECT",
];

/// A program built outside the crate against the lessons' header: it
/// counts into the same `xdp_stats_map` as the builtins.
const EXTERNAL_COUNTER: &str = r#"
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "xdp_stats_kern.h"

SEC("xdp")
int ext_counter(struct xdp_md *ctx)
{
	return xdp_stats_record_action(ctx, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
"#;

/// Where `load IF ...` pins the counters.
fn stats_pin(net: &TestNet) -> String {
    format!("/sys/fs/bpf/{}/xdp_stats_map", net.host_if())
}

/// One `stats ... --json --count 1` sample.
#[track_caller]
fn stats_once(args: &[&str]) -> Value {
    let mut full = vec!["stats", "--json", "--count", "1"];
    full.extend_from_slice(args);
    let run = loader(&full).ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one sample, one line: {run:#?}");
    serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("bad JSON ({e}): {run:#?}"))
}

/// (packets, bytes) of `action` in a stats sample.
#[track_caller]
fn counts(sample: &Value, action: &str) -> (u64, u64) {
    let a = &sample["actions"][action];
    match (a["packets"].as_u64(), a["bytes"].as_u64()) {
        (Some(p), Some(b)) => (p, b),
        _ => panic!("no counts for {action} in {sample}"),
    }
}

/// Asserts the sample's counts: `expected` for `action`, zero elsewhere.
#[track_caller]
fn assert_only(sample: &Value, action: &str, packets: u64) {
    for name in ACTIONS {
        let want = match name == action {
            true => (packets, packets * ECHO_FRAME),
            false => (0, 0),
        };
        assert_eq!(counts(sample, name), want, "{name} in {sample}");
    }
    assert_eq!(sample["actions"].as_object().unwrap().len(), 5, "{sample}");
}

/// `bpftool -j map show pinned PATH`.
#[track_caller]
fn pinned_map_info(pin: &str) -> Value {
    json("bpftool", &["-j", "map", "show", "pinned", pin])
}

#[track_caller]
fn pinned_map_id(pin: &str) -> u64 {
    let info = pinned_map_info(pin);
    info["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("no id: {info}"))
}

/// Is there a map pin at `pin`, according to the file system and bpftool?
fn is_pinned(pin: &str) -> bool {
    let bpftool = Command::new("bpftool")
        .args(["-j", "map", "show", "pinned", pin])
        .output()
        .expect("run bpftool")
        .status
        .success();
    assert_eq!(
        bpftool,
        Path::new(pin).exists(),
        "bpftool and the file system disagree about {pin}"
    );
    bpftool
}

/// bpftool's totals agree with a stats sample, action by action.
#[track_caller]
fn assert_bpftool_agrees(pin: &str, sample: &Value) {
    let totals = bpftool_counts(pin);
    for (i, name) in ACTIONS.iter().enumerate() {
        assert_eq!(
            totals[i],
            counts(sample, name),
            "{name}: bpftool vs {sample}"
        );
    }
}

/// The id of the attached program's `xdp_stats_map`, found from the
/// program side: `ip -j link` -> `bpftool prog show` -> its map ids.
#[track_caller]
fn attached_stats_map_id(net: &TestNet) -> u64 {
    let xdp = net.ip_link_xdp().expect("a program is attached");
    let prog_id = xdp["prog"]["id"].as_u64().unwrap().to_string();
    let prog = json("bpftool", &["-j", "prog", "show", "id", &prog_id]);
    let ids: Vec<u64> = prog["map_ids"]
        .as_array()
        .unwrap_or_else(|| panic!("no map_ids: {prog}"))
        .iter()
        .map(|id| id.as_u64().unwrap())
        .collect();
    let named: Vec<u64> = ids
        .iter()
        .copied()
        .filter(|id| {
            json("bpftool", &["-j", "map", "show", "id", &id.to_string()])["name"]
                == "xdp_stats_map"
        })
        .collect();
    assert_eq!(named.len(), 1, "program {prog_id} maps {ids:?}");
    named[0]
}

#[test]
fn exact_counts_pass_in_skb_and_native_mode() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let pin = stats_pin(&net);
    net.settle();
    for mode in ["skb", "native"] {
        loader(&["load", "-m", mode, net.host_if(), "xdp_stats1"]).ok();
        assert!(net.ping(5), "xdp_stats1 must pass pings ({mode})");
        let sample = stats_once(&[net.host_if()]);
        assert_only(&sample, "XDP_PASS", 5);
        assert_eq!(sample["map_id"], pinned_map_id(&pin), "{sample}");
        assert_eq!(sample["map_pin"], pin.as_str(), "{sample}");
        assert!(sample["period"].as_f64().unwrap() > 0.0, "{sample}");
        assert_bpftool_agrees(&pin, &sample);

        // The C tutorial's text rows say the same.
        let text = loader(&["stats", net.host_if(), "--count", "1"]).ok();
        let row: Vec<&str> = text
            .stdout
            .lines()
            .find(|l| l.starts_with("XDP_PASS "))
            .unwrap_or_else(|| panic!("no XDP_PASS row: {text:#?}"))
            .split_whitespace()
            .collect();
        assert_eq!(row[1..3], ["5", "pkts"], "{text:#?}");
        assert!(row.last().unwrap().starts_with("period:"), "{text:#?}");

        // Unload removes the pin, so the next mode starts from zero.
        loader(&["unload", net.host_if()]).ok();
        assert!(!is_pinned(&pin), "unload left {pin}");
    }
}

#[test]
fn drop_counts() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    net.settle();
    loader(&["load", net.host_if(), "xdp_prog", "-n", "xdp_drop_func"]).ok();
    assert!(!net.ping(4), "xdp_drop_func must drop pings");
    let sample = stats_once(&[net.host_if()]);
    assert_only(&sample, "XDP_DROP", 4);
    assert_bpftool_agrees(&stats_pin(&net), &sample);
}

#[test]
fn reload_keeps_counters() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let pin = stats_pin(&net);
    net.settle();
    let run = loader(&["load", net.host_if(), "xdp_prog", "-n", "xdp_pass_func"]).ok();
    assert!(
        run.stdout
            .contains(&format!(" - pinned map xdp_stats_map at {pin}")),
        "{run:#?}"
    );
    let id = pinned_map_id(&pin);
    let first_prog = net.ip_link_xdp().unwrap()["prog"]["id"].clone();
    assert!(net.ping(3));
    assert_only(&stats_once(&[net.host_if()]), "XDP_PASS", 3);

    let run = loader(&[
        "load",
        "-F",
        net.host_if(),
        "xdp_prog",
        "-n",
        "xdp_pass_func",
    ])
    .ok();
    assert!(
        run.stdout.contains(&format!(
            " - reusing pinned map xdp_stats_map at {pin} (its contents carry on)"
        )),
        "{run:#?}"
    );
    assert_ne!(
        net.ip_link_xdp().unwrap()["prog"]["id"],
        first_prog,
        "-F loaded a new program"
    );
    assert_eq!(pinned_map_id(&pin), id, "the pin must hold the same map");
    assert_eq!(
        attached_stats_map_id(&net),
        id,
        "the new program must count into the pinned map"
    );
    assert!(net.ping(3));
    let sample = stats_once(&[net.host_if()]);
    assert_only(&sample, "XDP_PASS", 6);
    assert_eq!(sample["map_id"], id, "{sample}");
    assert_bpftool_agrees(&pin, &sample);
}

#[test]
fn stats_switches_to_a_replaced_map() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let pin = stats_pin(&net);
    net.settle();
    loader(&["load", net.host_if(), "xdp_stats1"]).ok();
    let old_id = pinned_map_id(&pin);
    assert!(net.ping(2));

    let mut stats = Background::spawn(&["stats", net.host_if(), "--json", "--interval", "1"]);
    let first = stats.next_json(Duration::from_secs(5));
    assert_eq!(first["map_id"], old_id, "{first}");
    assert_eq!(first["map_pin"], pin.as_str(), "{first}");
    assert_only(&first, "XDP_PASS", 2);

    // Right after a sample, with a second to spare before the next one
    // (which would see no pin and exit): a new map behind the same pin.
    let started = Instant::now();
    std::fs::remove_file(&pin).unwrap();
    let run = loader(&["load", "-F", net.host_if(), "xdp_stats1"]).ok();
    let took = started.elapsed();
    assert!(
        run.stdout
            .contains(&format!(" - pinned map xdp_stats_map at {pin}")),
        "{run:#?}"
    );
    let new_id = pinned_map_id(&pin);
    assert_ne!(new_id, old_id, "the reload must have created a new map");
    assert_eq!(attached_stats_map_id(&net), new_id);

    stats.wait_stderr(
        &format!("Note: xdp_stats_map changed its id ({old_id} -> {new_id}), switching"),
        Duration::from_secs(5),
    );
    // Samples still in the pipe from before the switch have the old id;
    // from the first with the new id on, all have it.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let sample = stats.next_json(Duration::from_secs(5));
        if sample["map_id"] == new_id {
            // The new map counts from its creation: nothing yet.
            assert_only(&sample, "XDP_PASS", 0);
            break;
        }
        assert_eq!(
            sample["map_id"], old_id,
            "neither map ({sample}); rm+load took {took:?}"
        );
        assert!(Instant::now() < deadline, "no sample with the new id");
    }
    assert!(net.ping(3));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let sample = stats.next_json(Duration::from_secs(5));
        assert_eq!(sample["map_id"], new_id, "{sample}");
        assert_eq!(sample["map_pin"], pin.as_str(), "{sample}");
        if counts(&sample, "XDP_PASS").0 == 3 {
            assert_only(&sample, "XDP_PASS", 3);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the pings never showed up: {sample}"
        );
    }
    assert_eq!(stats.wait_exit(Duration::ZERO), None, "stats must go on");
}

#[test]
fn stats_exits_when_the_pin_disappears() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    loader(&["load", "-m", "skb", net.host_if(), "xdp_stats1"]).ok();
    let mut stats = Background::spawn(&["stats", net.host_if(), "--json", "--interval", "0.3"]);
    let first = stats.next_json(Duration::from_secs(5));
    assert_eq!(first["map_id"], pinned_map_id(&stats_pin(&net)), "{first}");

    loader(&["unload", net.host_if()]).ok();
    let code = stats.wait_exit(Duration::from_secs(5));
    assert_eq!(
        code,
        Some(1),
        "stats must exit 1 when its map goes away; stderr: {:#?}",
        stats.stderr_seen
    );
    assert!(
        stats.stderr_seen.iter().any(|l| l.starts_with("Error: ")),
        "no Error line: {:#?}",
        stats.stderr_seen
    );
}

#[test]
fn pins_where_documented() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let pin = stats_pin(&net);
    let dir = format!("/sys/fs/bpf/{}", net.host_if());
    let run = loader(&["load", net.host_if(), "xdp_stats1"]).ok();
    assert!(
        run.stdout
            .contains(&format!(" - pinned map xdp_stats_map at {pin}")),
        "{run:#?}"
    );
    let info = pinned_map_info(&pin);
    assert_eq!(info["name"], "xdp_stats_map", "{info}");
    assert_eq!(info["type"], "percpu_array", "{info}");
    assert_eq!(info["bytes_key"], 4, "{info}");
    assert_eq!(info["bytes_value"], 16, "{info}");
    assert_eq!(info["max_entries"], 5, "{info}");
    assert_eq!(info["id"], attached_stats_map_id(&net), "{info}");

    let run = loader(&["unload", net.host_if()]).ok();
    assert!(
        run.stdout
            .contains(&format!(" - unpinned map xdp_stats_map ({pin})")),
        "{run:#?}"
    );
    assert!(!is_pinned(&pin), "unload left {pin}");
    assert!(!Path::new(&dir).exists(), "unload left {dir}");

    // --keep-maps: the pin (and so the map and its counts) outlive the program.
    loader(&["load", net.host_if(), "xdp_stats1"]).ok();
    let id = pinned_map_id(&pin);
    let run = loader(&["unload", "--keep-maps", net.host_if()]).ok();
    assert!(!run.stdout.contains("unpinned"), "{run:#?}");
    assert_eq!(net.ip_link_xdp(), None);
    assert!(is_pinned(&pin), "--keep-maps removed {pin}");
    assert_eq!(pinned_map_id(&pin), id);
    std::fs::remove_file(&pin).unwrap();
}

#[test]
fn pin_path_option() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let dir = format!("/sys/fs/bpf/xdp-maps-test-{}", net.host_if());
    let _cleanup = RemoveOnDrop(dir.clone());
    let pin = format!("{dir}/xdp_stats_map");
    net.settle();
    let run = loader(&["load", "-p", &dir, "-m", "skb", net.host_if(), "xdp_stats1"]).ok();
    assert!(
        run.stdout
            .contains(&format!(" - pinned map xdp_stats_map at {pin}")),
        "{run:#?}"
    );
    assert!(is_pinned(&pin));
    assert!(!is_pinned(&stats_pin(&net)), "-p must replace the default");
    assert_eq!(pinned_map_info(&pin)["type"], "percpu_array");
    assert_eq!(pinned_map_id(&pin), attached_stats_map_id(&net));

    assert!(net.ping(2));
    let sample = stats_once(&["-p", &dir]);
    assert_only(&sample, "XDP_PASS", 2);
    assert_eq!(sample["map_pin"], pin.as_str(), "{sample}");
    assert_eq!(sample["map_id"], pinned_map_id(&pin), "{sample}");
    assert_bpftool_agrees(&pin, &sample);
    // Naming the interface too: the same map.
    let sample = stats_once(&[net.host_if(), "-p", &dir]);
    assert_only(&sample, "XDP_PASS", 2);

    // A reload with the same -p reuses it.
    let run = loader(&[
        "load",
        "-F",
        "-p",
        &dir,
        "-m",
        "skb",
        net.host_if(),
        "xdp_stats1",
    ])
    .ok();
    assert!(run.stdout.contains("reusing pinned map"), "{run:#?}");

    let run = loader(&["unload", "-p", &dir, net.host_if()]).ok();
    assert!(run.stdout.contains(&format!("({pin})")), "{run:#?}");
    assert!(!is_pinned(&pin), "unload -p left {pin}");
    assert!(!Path::new(&dir).exists(), "unload -p left {dir}");
}

#[test]
fn pin_unpin_commands() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let pin = stats_pin(&net);
    loader(&["load", net.host_if(), "xdp_stats1"]).ok();
    let id = attached_stats_map_id(&net);
    assert_eq!(pinned_map_id(&pin), id);

    let run = loader(&["unpin", net.host_if()]).ok();
    assert!(
        run.stdout
            .contains(&format!(" - unpinned map xdp_stats_map ({pin})")),
        "{run:#?}"
    );
    assert!(!is_pinned(&pin), "unpin left {pin}");
    assert!(net.ip_link_xdp().is_some(), "unpin must not detach");
    assert_eq!(attached_stats_map_id(&net), id, "the map lives on");

    let run = loader(&["pin", net.host_if()]).ok();
    assert!(
        run.stdout
            .contains(&format!(" - pinned map xdp_stats_map (id {id}) at {pin}")),
        "{run:#?}"
    );
    assert!(is_pinned(&pin), "pin did not pin {pin}");
    assert_eq!(pinned_map_id(&pin), id, "pin must pin the program's map");

    // Pinning again is harmless.
    let run = loader(&["pin", net.host_if()]).ok();
    assert!(run.stdout.contains("already pinned"), "{run:#?}");
    assert_eq!(pinned_map_id(&pin), id);
}

#[test]
fn incompatible_pin_is_refused_with_the_rm_hint() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let pin = stats_pin(&net);
    std::fs::create_dir_all(format!("/sys/fs/bpf/{}", net.host_if())).unwrap();
    sh(
        "bpftool",
        &[
            "map",
            "create",
            &pin,
            "type",
            "hash",
            "key",
            "4",
            "value",
            "8",
            "entries",
            "4",
            "name",
            "xdp_stats_map",
        ],
    );
    let foreign = pinned_map_id(&pin);

    let run = loader(&["load", net.host_if(), "xdp_stats1"]).fails_with(40);
    assert!(
        run.stderr.contains("does not fit map 'xdp_stats_map'"),
        "{run:#?}"
    );
    assert!(run.hint().contains(&format!("rm {pin}")), "{run:#?}");
    assert_eq!(net.ip_link_xdp(), None, "a refused load attached something");
    let info = pinned_map_info(&pin);
    assert_eq!(info["id"], foreign, "the foreign pin was replaced: {info}");
    assert_eq!(info["type"], "hash", "{info}");

    // Following the hint fixes it.
    std::fs::remove_file(&pin).unwrap();
    loader(&["load", net.host_if(), "xdp_stats1"]).ok();
    assert_eq!(pinned_map_info(&pin)["type"], "percpu_array");
}

#[test]
fn pin_path_not_on_bpffs_is_refused() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("xdp-maps-not-bpffs-{}", net.host_if()));
    let dir = path(&dir);
    let _cleanup = RemoveOnDrop(dir.to_string());
    for create in [false, true] {
        if create {
            std::fs::create_dir_all(dir).unwrap();
        }
        let run = loader(&["load", "-p", dir, net.host_if(), "xdp_stats1"]).fails_with(2);
        assert!(run.stderr.contains("not on a BPF filesystem"), "{run:#?}");
        assert!(run.stderr.contains(dir), "{run:#?}");
        assert_eq!(net.ip_link_xdp(), None, "a refused load attached something");
        assert!(
            !Path::new(dir).join("xdp_stats_map").exists(),
            "something was pinned in {dir}"
        );
    }
}

#[test]
fn external_object_with_the_same_header_is_counted() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let pin = stats_pin(&net);
    let obj = compile_lesson_bpf("ext_counter", EXTERNAL_COUNTER);
    net.settle();
    let run = loader(&["load", "-m", "skb", net.host_if(), path(&obj)]).ok();
    assert!(
        run.stdout
            .contains("BPF-object(ext_counter) and used program(ext_counter)"),
        "{run:#?}"
    );
    assert!(
        run.stdout
            .contains(&format!(" - pinned map xdp_stats_map at {pin}")),
        "{run:#?}"
    );
    assert_eq!(net.ip_link_xdp().unwrap()["prog"]["name"], "ext_counter");
    assert!(net.ping(3));
    let sample = stats_once(&[net.host_if()]);
    assert_only(&sample, "XDP_PASS", 3);
    assert_bpftool_agrees(&pin, &sample);

    // Same header, same map: a builtin takes over the counters.
    let run = loader(&["load", "-F", "-m", "skb", net.host_if(), "xdp_stats1"]).ok();
    assert!(run.stdout.contains("reusing pinned map"), "{run:#?}");
    assert!(net.ping(2));
    assert_only(&stats_once(&[net.host_if()]), "XDP_PASS", 5);
}

#[test]
fn stats_by_map_id() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let pin = stats_pin(&net);
    net.settle();
    loader(&["load", net.host_if(), "xdp_stats1"]).ok();
    assert!(net.ping(3));
    let id = pinned_map_id(&pin);
    let by_id = stats_once(&["--map-id", &id.to_string()]);
    assert_eq!(by_id["map_id"], id, "{by_id}");
    assert_only(&by_id, "XDP_PASS", 3);
    let by_pin = stats_once(&[net.host_if()]);
    for action in ACTIONS {
        assert_eq!(counts(&by_id, action), counts(&by_pin, action), "{action}");
    }
    assert_bpftool_agrees(&pin, &by_id);

    // Reading by id needs no pin.
    loader(&["unpin", net.host_if()]).ok();
    assert!(!is_pinned(&pin));
    assert_only(&stats_once(&["--map-id", &id.to_string()]), "XDP_PASS", 3);
}

#[test]
fn stats_without_a_pin_explains() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let pin = stats_pin(&net);
    // Nothing loaded.
    let run = loader(&["stats", net.host_if(), "--json", "--count", "1"]).fails_with(40);
    assert!(run.stdout.is_empty(), "{run:#?}");
    assert!(run.stderr.contains(&pin), "{run:#?}");
    assert!(
        run.hint()
            .contains(&format!("xdp-loader load {} xdp_stats1", net.host_if())),
        "{run:#?}"
    );

    // A program whose maps are not pinned.
    loader(&["load", net.host_if(), "xdp_stats1"]).ok();
    loader(&["unpin", net.host_if()]).ok();
    let run = loader(&["stats", net.host_if(), "--json", "--count", "1"]).fails_with(40);
    assert!(
        run.hint()
            .contains(&format!("xdp-loader pin {}", net.host_if())),
        "{run:#?}"
    );
}
