//! Which pins are xdp-loader's: `unload` and `clean` remove only what it
//! created (checked with bpftool), map names and dotted interface names
//! stay inside the pin directory, and every leftover of a killed run is
//! reclaimed by `clean IFNAME`.
//!
//! These tests only ever run `clean IFNAME` with their own interfaces:
//! other tests run at the same time.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

/// The program id `ip -j link` shows on `ifname` (None: no XDP).
fn ip_prog_id(ifname: &str) -> Option<u64> {
    json("ip", &["-j", "link", "show", "dev", ifname])[0]["xdp"]["prog"]["id"].as_u64()
}

/// bpftool's `net show` entries (xdp) for `ifname`.
fn bpftool_xdp(ifname: &str) -> Vec<Value> {
    json("bpftool", &["-j", "net", "show"])[0]["xdp"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["devname"] == ifname)
        .cloned()
        .collect()
}

/// The id of the map pinned at `pin`, as bpftool sees it.
fn bpftool_map_id(pin: &str) -> u64 {
    json("bpftool", &["-j", "map", "show", "pinned", pin])["id"]
        .as_u64()
        .unwrap()
}

/// Every pin path under `dir` that bpftool knows of (maps).
fn bpftool_pins_under(dir: &str) -> Vec<String> {
    json("bpftool", &["-j", "-f", "map", "show"])
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["pinned"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p.as_str().map(str::to_string))
        .filter(|p| p.starts_with(&format!("{dir}/")))
        .collect()
}

/// A map made and pinned at `pin` by bpftool: not xdp-loader's.
fn bpftool_new_map(pin: &str, name: &str) {
    sh(
        "bpftool",
        &[
            "map", "create", pin, "type", "array", "key", "4", "value", "4", "entries", "1",
            "name", name,
        ],
    );
}

/// The names in a directory (empty if it does not exist).
fn listing(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn pin_dir(ifname: &str) -> String {
    format!("/sys/fs/bpf/{}", ifname.replace('.', ":"))
}

fn link_dir(ifname: &str) -> String {
    format!("/sys/fs/bpf/xdp-loader/{}", ifname.replace('.', ":"))
}

/// Waits until nothing is attached to `ifname` (the kernel frees a link a
/// moment after its last pin goes); panics after 5 s.
fn until_detached(ifname: &str) {
    for _ in 0..500 {
        if ip_prog_id(ifname).is_none() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{ifname} still has a program");
}

#[test]
fn a_link_pin_moved_into_another_pin_dir_survives_that_dirs_unload() {
    let (Some(a), Some(b)) = (
        TestNet::for_privileged_test(),
        TestNet::for_privileged_test(),
    ) else {
        return;
    };
    let (a_if, b_if) = (a.host_if(), b.host_if());
    loader(&["load", a_if, "xdp_pass", "--attach", "link"]).ok();
    let a_prog = ip_prog_id(a_if).expect("a has its program");
    // The issue's reproducer: a's link pin moved into b's pin directory.
    std::fs::create_dir_all(pin_dir(b_if)).unwrap();
    let moved = format!("{}/link", pin_dir(b_if));
    std::fs::rename(format!("{}/link", link_dir(a_if)), &moved).unwrap();
    loader(&["load", b_if, "xdp_stats1"]).ok();
    let run = loader(&["unload", b_if]).ok();
    assert!(
        run.stdout.contains("unpinned map xdp_stats_map"),
        "{run:#?}"
    );

    assert_eq!(ip_prog_id(a_if), Some(a_prog), "a lost its program");
    let a_net = bpftool_xdp(a_if);
    assert_eq!(a_net.len(), 1, "{a_net:?}");
    assert_eq!(a_net[0]["id"].as_u64(), Some(a_prog));
    assert!(Path::new(&moved).exists(), "unload removed a link pin");
    assert_eq!(listing(&pin_dir(b_if)), ["link"]);
    assert_eq!(ip_prog_id(b_if), None);
}

#[test]
fn maps_pinned_by_bpftool_in_our_dir_survive_unload_and_clean() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let ifname = net.host_if();
    let dir = pin_dir(ifname);
    loader(&["load", ifname, "xdp_stats1"]).ok();
    let ours = format!("{dir}/xdp_stats_map");
    let stats_id = bpftool_map_id(&ours).to_string();
    // A second pin of the program's own map, and an unrelated map.
    let copy = format!("{dir}/copy");
    let foreign = format!("{dir}/foreign");
    sh("bpftool", &["map", "pin", "id", &stats_id, &copy]);
    bpftool_new_map(&foreign, "foreign");
    let foreign_id = bpftool_map_id(&foreign);

    let run = loader(&["unload", ifname]).ok();
    assert!(
        run.stdout.contains("unpinned map xdp_stats_map"),
        "{run:#?}"
    );
    assert!(
        run.stdout.contains("kept pinned map copy") && run.stdout.contains("not pinned by"),
        "{run:#?}"
    );
    assert_eq!(listing(&dir), ["copy", "foreign"]);
    assert_eq!(bpftool_map_id(&copy).to_string(), stats_id);
    assert_eq!(bpftool_map_id(&foreign), foreign_id);

    // clean names them (no program uses them) but leaves them.
    let run = loader(&["clean", ifname]).ok();
    for pin in [&copy, &foreign] {
        assert!(
            run.stdout.contains(&format!("Left alone {pin}")),
            "{pin}: {run:#?}"
        );
    }
    assert!(run.stdout.contains("Cleaned up 0 leftover(s)"), "{run:#?}");
    assert_eq!(listing(&dir), ["copy", "foreign"]);
}

#[test]
fn a_pin_path_with_unrelated_pins_keeps_them() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let ifname = net.host_if();
    let dir = format!("/sys/fs/bpf/{ifname}-shared-root");
    let _cleanup = RemoveOnDrop(dir.clone());
    std::fs::create_dir_all(&dir).unwrap();
    let unrelated = format!("{dir}/unrelated");
    bpftool_new_map(&unrelated, "unrelated");
    // A link pin of another interface's program, too.
    let other = TestNet::new();
    loader(&["load", other.host_if(), "xdp_pass", "--attach", "link"]).ok();
    let other_prog = ip_prog_id(other.host_if()).unwrap();
    std::fs::rename(
        format!("{}/link", link_dir(other.host_if())),
        format!("{dir}/other_link"),
    )
    .unwrap();

    loader(&["load", "-p", &dir, ifname, "xdp_stats1"]).ok();
    assert_eq!(listing(&dir), ["other_link", "unrelated", "xdp_stats_map"]);
    loader(&["unload", "-p", &dir, ifname]).ok();
    assert_eq!(listing(&dir), ["other_link", "unrelated"]);
    assert_eq!(ip_prog_id(other.host_if()), Some(other_prog));
    let run = loader(&["clean", ifname]).ok();
    assert!(run.stdout.contains("Cleaned up 0 leftover(s)"), "{run:#?}");
    assert_eq!(listing(&dir), ["other_link", "unrelated"]);
}

/// One map; the test patches its name in the compiled object (C names
/// cannot hold '/' or '.').
const ONE_MAP: &str = r#"
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} MAPNAME SEC(".maps");

SEC("xdp")
int one_map(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *count = bpf_map_lookup_elem(&MAPNAME, &key);
	if (count)
		__sync_fetch_and_add(count, 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
"#;

/// An object whose map is called `name` (any bytes but NUL).
fn object_with_map_named(tag: &str, name: &str) -> std::path::PathBuf {
    let ident = format!("m{}", "_".repeat(name.len() - 1));
    let obj = compile_lesson_bpf(tag, &ONE_MAP.replace("MAPNAME", &ident));
    let mut bytes = std::fs::read(&obj).unwrap();
    let (from, to) = (format!("{ident}\0"), format!("{name}\0"));
    let mut patched = 0;
    let mut i = 0;
    while i + from.len() <= bytes.len() {
        if bytes[i..i + from.len()] == *from.as_bytes() {
            bytes[i..i + from.len()].copy_from_slice(to.as_bytes());
            patched += 1;
        }
        i += 1;
    }
    assert!(patched > 0, "the map name is in the object");
    std::fs::write(&obj, bytes).unwrap();
    obj
}

#[test]
fn map_names_that_would_leave_the_pin_dir_are_refused() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let ifname = net.host_if();
    // An empty directory the evil name points at (the old code rmdir'ed it).
    let sentinel = format!("/tmp/{ifname}-sentinel");
    let _cleanup = RemoveOnDrop(sentinel.clone());
    std::fs::create_dir_all(&sentinel).unwrap();
    let cases = [
        (format!("x/../../../../..{sentinel}"), "'/'"),
        ("a..b".to_string(), "'..'"),
        ("a.b".to_string(), "'.'"),
    ];
    for (n, (name, why)) in cases.iter().enumerate() {
        let obj = object_with_map_named(&format!("evil{n}"), name);
        for pin_path in [None, Some(format!("/sys/fs/bpf/{ifname}-evil"))] {
            let mut args = vec!["load", ifname, path(&obj)];
            if let Some(dir) = &pin_path {
                args.extend(["-p", dir]);
            }
            let run = loader(&args).fails_with(2);
            assert!(
                run.stderr
                    .contains(&format!("map '{name}' of 'evil{n}' cannot be pinned")),
                "{run:#?}"
            );
            assert!(run.stderr.contains(why), "{run:#?}");
            assert!(run.hint().contains("rename the map"), "{run:#?}");
            assert_eq!(ip_prog_id(ifname), None, "{name}: attached");
            assert!(!Path::new(&pin_dir(ifname)).exists(), "{name}: dir made");
            if let Some(dir) = &pin_path {
                assert!(!Path::new(dir).exists(), "{name}: {dir} made");
            }
            assert!(Path::new(&sentinel).is_dir(), "{name}: sentinel removed");
        }
    }
    // The same object with a plain name loads: the checker is not refusing everything.
    let obj = object_with_map_named("plain", "plain_name");
    loader(&["load", ifname, path(&obj)]).ok();
    assert_eq!(listing(&pin_dir(ifname)), ["plain_name"]);
    loader(&["unload", ifname]).ok();
    assert!(!Path::new(&pin_dir(ifname)).exists());
}

/// A veth pair whose names contain dots, like VLAN devices (`eth0.5`).
struct DottedVeth {
    name: String,
    peer: String,
}

impl DottedVeth {
    fn new() -> DottedVeth {
        let pid = std::process::id() & 0xfffff;
        let veth = DottedVeth {
            name: format!("xo{pid:x}.5"),
            peer: format!("xo{pid:x}.p"),
        };
        sh(
            "ip",
            &[
                "link", "add", "dev", &veth.name, "type", "veth", "peer", "name", &veth.peer,
            ],
        );
        for end in [&veth.name, &veth.peer] {
            sh("ip", &["link", "set", end, "up"]);
        }
        veth
    }
}

impl Drop for DottedVeth {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.name])
            .output();
        let _ = std::fs::remove_dir_all(pin_dir(&self.name));
        let _ = std::fs::remove_dir_all(link_dir(&self.name));
    }
}

#[test]
fn dotted_interface_names_work_with_netlink_and_links() {
    if !privileged() {
        return;
    }
    let veth = DottedVeth::new();
    let ifname = veth.name.as_str();
    let dir = pin_dir(ifname);
    assert!(dir.contains(':') && !dir.contains('.'), "{dir}");
    // A --pin-path with a dot is refused up front (bpffs would say EPERM).
    let dotted = format!("/sys/fs/bpf/{}-pins.d", ifname.replace('.', "_"));
    let run = loader(&["load", "-p", &dotted, ifname, "xdp_stats1"]).fails_with(2);
    assert!(
        run.stderr.contains("bpffs does not allow '.' in names"),
        "{run:#?}"
    );
    assert_eq!(ip_prog_id(ifname), None);
    for attach in ["netlink", "link"] {
        let run = loader(&["load", ifname, "xdp_stats1", "--attach", attach]).ok();
        assert!(
            run.stdout
                .contains(&format!("pinned map xdp_stats_map at {dir}/xdp_stats_map")),
            "{run:#?}"
        );
        let prog = ip_prog_id(ifname).expect("attached");
        let net = bpftool_xdp(ifname);
        assert_eq!(net.len(), 1, "{net:?}");
        assert_eq!(net[0]["id"].as_u64(), Some(prog));
        if attach == "link" {
            assert_eq!(listing(&link_dir(ifname)), ["link"]);
        }
        // The pinned map is the program's (bpftool), and stats reads it.
        let map_id = bpftool_map_id(&format!("{dir}/xdp_stats_map"));
        let maps =
            json("bpftool", &["-j", "prog", "show", "id", &prog.to_string()])["map_ids"].clone();
        assert!(maps.as_array().unwrap().contains(&map_id.into()), "{maps}");
        let stats = loader(&["stats", ifname, "--json", "--count", "1"]).ok();
        assert!(
            stats.stdout.contains(&format!("{dir}/xdp_stats_map")),
            "{stats:#?}"
        );
        let status = loader(&["status", ifname]).ok();
        assert!(status.stdout.contains("xdp_stats1_func"), "{status:#?}");

        loader(&["unload", ifname]).ok();
        assert_eq!(ip_prog_id(ifname), None);
        assert!(!Path::new(&dir).exists(), "{attach}: pins left");
        assert!(
            !Path::new(&link_dir(ifname)).exists(),
            "{attach}: link pin left"
        );
    }
    // Deleted with its link attached: clean finds the dotted name's pins.
    loader(&["load", ifname, "xdp_stats1", "--attach", "link"]).ok();
    sh("ip", &["link", "del", ifname]);
    let run = loader(&["clean", ifname]).ok();
    assert!(
        run.stdout.contains(&format!(
            "Removed link pin {}/link of {ifname} (",
            link_dir(ifname)
        )),
        "{run:#?}"
    );
    assert!(
        run.stdout
            .contains(&format!("Removed map pin {dir}/xdp_stats_map")),
        "{run:#?}"
    );
    assert!(!Path::new(&dir).exists() && !Path::new(&link_dir(ifname)).exists());
}

#[test]
fn unload_with_only_leftovers_says_how_to_remove_them() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let ifname = net.host_if();
    let pin = format!("{}/xdp_stats_map", pin_dir(ifname));
    // Plain nothing: the usual hint.
    let run = loader(&["unload", ifname]).fails_with(1);
    assert!(run.hint().contains("xdp-loader status"), "{run:#?}");

    // The link pin removed by hand: the program goes, its map pin stays.
    loader(&["load", ifname, "xdp_stats1", "--attach", "link"]).ok();
    std::fs::remove_file(format!("{}/link", link_dir(ifname))).unwrap();
    until_detached(ifname);
    let run = loader(&["unload", ifname]).fails_with(1);
    assert!(run.stderr.contains(&format!("map pin {pin}")), "{run:#?}");
    assert_eq!(
        run.hint(),
        format!("remove them with: xdp-loader clean {ifname}")
    );
    assert!(Path::new(&pin).exists(), "unload must not remove it");

    let run = loader(&["clean", ifname]).ok();
    assert!(
        run.stdout.contains(&format!("Removed map pin {pin}")),
        "{run:#?}"
    );
    assert!(
        run.stdout
            .contains(&format!("Removed empty directory {}", link_dir(ifname))),
        "{run:#?}"
    );
    assert!(run.stdout.contains("Cleaned up 2 leftover(s)"), "{run:#?}");
    assert!(!Path::new(&pin_dir(ifname)).exists());
    assert!(!Path::new(&link_dir(ifname)).exists());
    assert!(bpftool_pins_under(&pin_dir(ifname)).is_empty());
}

#[test]
fn clean_of_a_deleted_interface_removes_its_dead_link_and_maps() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let ifname = net.host_if().to_string();
    loader(&["load", &ifname, "xdp_stats1", "--attach", "link"]).ok();
    sh("ip", &["link", "del", &ifname]);
    let link = format!("{}/link", link_dir(&ifname));
    let map = format!("{}/xdp_stats_map", pin_dir(&ifname));
    assert!(Path::new(&link).exists() && Path::new(&map).exists());
    let run = loader(&["clean", &ifname]).ok();
    assert!(
        run.stdout
            .contains(&format!("Removed link pin {link} of {ifname} (bpf_link id")),
        "{run:#?}"
    );
    assert!(
        run.stdout.contains(&format!("Removed map pin {map}")),
        "{run:#?}"
    );
    assert!(run.stdout.contains("Cleaned up 2 leftover(s)"), "{run:#?}");
    assert!(!Path::new(&pin_dir(&ifname)).exists());
    assert!(!Path::new(&link_dir(&ifname)).exists());
    assert!(bpftool_pins_under(&pin_dir(&ifname)).is_empty());
}

/// Appends a line to the pin record, holding its lock as xdp-loader does.
fn add_record_line(line: &str) {
    sh(
        "flock",
        &[
            "/run/xdp-loader/lock",
            "sh",
            "-c",
            &format!("echo '{line}' >> /run/xdp-loader/pins"),
        ],
    );
}

#[test]
fn clean_drops_stale_record_lines_and_trusts_only_matching_map_ids() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let ifname = net.host_if();
    let dir = pin_dir(ifname);
    // Make sure the record exists (any load does), then leave nothing.
    loader(&["load", ifname, "xdp_pass"]).ok();
    loader(&["unload", ifname]).ok();
    // A line whose pin never came (a load killed between the two), and a
    // line claiming a pin that now holds another map (bpftool's).
    std::fs::create_dir_all(&dir).unwrap();
    let imposter = format!("{dir}/imposter");
    bpftool_new_map(&imposter, "imposter");
    let real_id = bpftool_map_id(&imposter);
    add_record_line(&format!("4000000000 1 1 {ifname} {dir}/never_pinned"));
    add_record_line(&format!("{} 1 1 {ifname} {imposter}", real_id + 1_000_000));

    let run = loader(&["clean", ifname]).ok();
    assert!(
        run.stdout.contains(&format!(
            "Dropped the record of {dir}/never_pinned (map id 4000000000): the pin is gone"
        )),
        "{run:#?}"
    );
    assert!(
        run.stdout
            .contains(&format!("Dropped the record of {imposter}")),
        "{run:#?}"
    );
    assert!(
        run.stdout.contains(&format!("Left alone {imposter}")),
        "{run:#?}"
    );
    assert_eq!(
        bpftool_map_id(&imposter),
        real_id,
        "the imposter pin was removed"
    );
    // And the lines are gone: a second clean has nothing to say about them.
    let run = loader(&["clean", ifname]).ok();
    assert!(!run.stdout.contains("Dropped"), "{run:#?}");
}

/// A small pseudo-random sequence (xorshift), seeded by the pid: the kill
/// moments differ from run to run, and the seed is printed.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Starts `xdp-loader ARGS` and SIGKILLs it after `delay`.
fn kill_after(args: &[&str], delay: Duration) {
    let mut child = Command::new(loader_path())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let _ = child.kill(); // SIGKILL; fails only if it has already ended
    let _ = child.wait();
}

#[test]
fn every_leftover_of_a_killed_load_or_unload_is_reclaimed() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let ifname = net.host_if();
    let (dir, links) = (pin_dir(ifname), link_dir(ifname));
    let seed = u64::from(std::process::id()) * 0x9e37_79b9 + 1;
    println!("kill moments seeded with {seed}");
    let mut random = Random(seed);
    // Per kind of killed run (load, unload): runs, runs that left pins, pins.
    let mut counts = [(0, 0, 0); 2];
    // Kill moments are spread over what a whole load takes here and now
    // (measured, not assumed: a busy CI machine, with other tests holding
    // the pin lock, is many times slower than an idle one). While no round
    // has left anything, the spread doubles every 20 rounds.
    let mut span = (0..3)
        .map(|_| {
            let start = std::time::Instant::now();
            loader(&["load", ifname, "xdp_stats1", "--attach", "link"]).ok();
            let took = start.elapsed();
            loader(&["unload", ifname]).ok();
            took
        })
        .max()
        .unwrap();
    println!("a whole load took up to {span:?}");
    let mut round = 0;
    while round < 40 || (counts.iter().all(|c| c.1 == 0) && round < 200) {
        round += 1;
        if round % 20 == 0 && counts.iter().all(|c| c.1 == 0) {
            span *= 2;
        }
        let delay = Duration::from_micros(random.below(span.as_micros() as u64 * 5 / 4));
        kill_after(&["load", ifname, "xdp_stats1", "--attach", "link"], delay);
        let mut kind = 0;
        if ip_prog_id(ifname).is_some() {
            kind = 1;
            let delay = Duration::from_micros(random.below(span.as_micros() as u64 * 5 / 4));
            kill_after(&["unload", ifname], delay);
        }
        counts[kind].0 += 1;
        if ip_prog_id(ifname).is_some() {
            loader(&["unload", ifname]).ok();
        }
        let left: Vec<String> = listing(&dir)
            .into_iter()
            .map(|n| format!("{dir}/{n}"))
            .chain(listing(&links).into_iter().map(|n| format!("{links}/{n}")))
            .collect();
        if left.is_empty() {
            continue;
        }
        counts[kind].1 += 1;
        counts[kind].2 += left.len();
        let run = loader(&["unload", ifname]).fails_with(1);
        assert_eq!(
            run.hint(),
            format!("remove them with: xdp-loader clean {ifname}")
        );
        let run = loader(&["clean", ifname]).ok();
        for pin in &left {
            let named = run
                .stdout
                .lines()
                .any(|l| l.starts_with("Removed ") && l.contains(&format!(" {pin} ")));
            assert!(named, "{pin} not reported: {run:#?}");
        }
        assert!(listing(&dir).is_empty(), "{run:#?}");
        assert!(listing(&links).is_empty(), "{run:#?}");
        assert!(bpftool_pins_under(&dir).is_empty(), "{run:#?}");
        assert!(!Path::new(&dir).exists() && !Path::new(&links).exists());
    }
    for (kind, (runs, with_leftovers, pins)) in ["load", "unload"].iter().zip(counts) {
        println!(
            "{kind}: {runs} killed, {with_leftovers} left {pins} pin(s), every one reclaimed by clean {ifname}"
        );
    }
    assert!(
        counts.iter().any(|c| c.1 > 0),
        "no kill hit the window: the test proved nothing"
    );
}

#[test]
fn keep_maps_hands_the_pins_over_and_clean_leaves_them() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let ifname = net.host_if();
    let pin = format!("{}/xdp_stats_map", pin_dir(ifname));
    loader(&["load", ifname, "xdp_stats1"]).ok();
    let map_id = bpftool_map_id(&pin);
    let run = loader(&["unload", "--keep-maps", ifname]).ok();
    assert!(
        run.stdout.contains("kept pinned map xdp_stats_map") && run.stdout.contains("--keep-maps"),
        "{run:#?}"
    );
    let run = loader(&["clean", ifname]).ok();
    assert!(
        run.stdout.contains(&format!("Left alone {pin}")),
        "{run:#?}"
    );
    assert!(run.stdout.contains("Cleaned up 0 leftover(s)"), "{run:#?}");
    assert_eq!(bpftool_map_id(&pin), map_id);
    // A reload reuses it but does not adopt it: unload keeps it again.
    let run = loader(&["load", ifname, "xdp_stats1"]).ok();
    assert!(run.stdout.contains("reusing pinned map"), "{run:#?}");
    let run = loader(&["unload", ifname]).ok();
    assert!(run.stdout.contains("not pinned by xdp-loader"), "{run:#?}");
    assert_eq!(bpftool_map_id(&pin), map_id);
}

#[test]
fn a_map_where_our_link_pin_goes_is_never_taken_for_a_link() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let ifname = net.host_if();
    let link = format!("{}/link", link_dir(ifname));
    std::fs::create_dir_all(link_dir(ifname)).unwrap();
    bpftool_new_map(&link, "not_a_link");
    let map_id = bpftool_map_id(&link);

    let run = loader(&["load", ifname, "xdp_pass", "--attach", "link"]).fails_with(30);
    assert!(
        run.stderr
            .contains(&format!("{link} holds a map, not a bpf_link")),
        "{run:#?}"
    );
    assert_eq!(ip_prog_id(ifname), None);
    assert!(
        !Path::new(&pin_dir(ifname)).exists(),
        "the failed load left pins"
    );
    let run = loader(&["clean", ifname]).ok();
    assert!(
        run.stdout
            .contains(&format!("Left alone {link}: holds a map, not a bpf_link")),
        "{run:#?}"
    );
    assert_eq!(bpftool_map_id(&link), map_id);
    // With the map gone, the same load works: the refusal was about it.
    std::fs::remove_file(&link).unwrap();
    loader(&["load", ifname, "xdp_pass", "--attach", "link"]).ok();
    loader(&["unload", ifname]).ok();
    assert!(!Path::new(&link_dir(ifname)).exists());
}
