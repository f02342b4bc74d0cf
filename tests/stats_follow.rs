//! `stats --follow` keeps counting across what moves under it: an
//! interface deleted and created again (a new ifindex), and a reload that
//! pins the program's maps somewhere else (`load -F -p NEWDIR`). The oracle
//! is bpftool's reading of the map the new program uses.

mod common;

use std::time::Duration;

use common::background::Background;
use common::*;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(10);

fn ifindex(net: &TestNet) -> u64 {
    json("ip", &["-j", "link", "show", "dev", net.host_if()])[0]["ifindex"]
        .as_u64()
        .unwrap()
}

fn map_id_pinned(pin: &str) -> u64 {
    json("bpftool", &["-j", "map", "show", "pinned", pin])["id"]
        .as_u64()
        .unwrap()
}

fn following_stats(net: &TestNet) -> (Background, u64) {
    let mut stats = Background::spawn(&[
        "stats",
        net.host_if(),
        "--follow",
        "--json",
        "--interval",
        "0.1",
    ]);
    let first = stats.next_json(WAIT);
    (stats, first["map_id"].as_u64().unwrap())
}

/// Samples until one reads `map_id`; returns it.
fn sample_of(stats: &mut Background, map_id: u64) -> Value {
    loop {
        let sample = stats.next_json(WAIT);
        if sample["map_id"].as_u64() == Some(map_id) {
            return sample;
        }
    }
}

/// Stops stats (Ctrl-C: one last sample) and checks that sample against
/// bpftool's reading of the pinned map just before and just after: a new
/// link's own IPv6 traffic can add a packet at any moment, so the last
/// sample lies between the two readings (the counter only grows).
fn last_sample(mut stats: Background, pin: &str) -> Value {
    let before = bpftool_counts(pin)[2].0;
    stats.signal(libc::SIGINT);
    assert_eq!(stats.wait_exit(WAIT), Some(0), "{:#?}", stats.stderr_seen);
    let last = std::iter::from_fn(|| stats.stdout.try_recv().ok()).last();
    let last: Value = serde_json::from_str(&last.expect("a last sample")).unwrap();
    let after = bpftool_counts(pin)[2].0;
    let counted = pass_packets(&last);
    assert!(
        (before..=after).contains(&counted),
        "stats counted {counted} XDP_PASS packets; bpftool read {before} before and {after} after"
    );
    last
}

fn pass_packets(sample: &Value) -> u64 {
    sample["actions"]["XDP_PASS"]["packets"].as_u64().unwrap()
}

#[test]
fn follow_resumes_on_an_interface_created_again() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let ifname = net.host_if();
    loader(&["load", ifname, "xdp_stats1"]).ok();
    let pin = format!("/sys/fs/bpf/{ifname}/xdp_stats_map");
    let (mut stats, map_id) = following_stats(&net);
    let old_index = ifindex(&net);

    sh("ip", &["link", "del", ifname]);
    stats.wait_stderr("is gone; waiting for it", WAIT);
    net.create_link();
    assert_ne!(ifindex(&net), old_index, "the test needs a new ifindex");
    // The map pin outlived the interface: the reload counts on in it.
    loader(&["load", ifname, "xdp_stats1"]).ok();
    stats.wait_stderr("found xdp_stats_map again", WAIT);
    assert_eq!(map_id_pinned(&pin), map_id);
    sample_of(&mut stats, map_id);

    assert!(net.ping(3), "pings pass the new program");
    let last = last_sample(stats, &pin);
    assert_eq!(last["map_id"].as_u64(), Some(map_id));
    assert!(pass_packets(&last) >= 3, "{last}");
}

#[test]
fn follow_finds_a_map_moved_with_pin_path() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let ifname = net.host_if();
    loader(&["load", ifname, "xdp_stats1"]).ok();
    let (mut stats, old_map) = following_stats(&net);

    let new_dir = format!("/sys/fs/bpf/{ifname}-moved");
    let _cleanup = RemoveOnDrop(new_dir.clone());
    std::fs::create_dir_all(&new_dir).unwrap();
    loader(&["load", "-F", "-p", &new_dir, ifname, "xdp_stats1"]).ok();
    let new_pin = format!("{new_dir}/xdp_stats_map");
    let new_map = map_id_pinned(&new_pin);
    assert_ne!(new_map, old_map, "the reload made a new map");
    stats.wait_stderr("found xdp_stats_map again", WAIT);
    sample_of(&mut stats, new_map);

    assert!(net.ping(3), "pings pass the new program");
    let last = last_sample(stats, &new_pin);
    assert_eq!(last["map_id"].as_u64(), Some(new_map));
    assert!(pass_packets(&last) >= 3, "{last}");
    loader(&["unload", ifname, "-p", &new_dir]).ok();
}
