//! Faults at awkward moments: signals in the middle of `load`/`unload`
//! must leave either the whole change or none of it.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

#[test]
fn a_signal_during_load_leaves_all_or_nothing() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let pin = format!("/sys/fs/bpf/{}/xdp_stats_map", net.host_if());
    let mut outcomes = (0, 0);
    for round in 0..40u64 {
        for signal in ["INT", "TERM"] {
            let child = Command::new(loader_path())
                .args(["load", "-F", "-m", "skb", net.host_if(), "xdp_prog"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            // Spread the signal over the whole run of a load (~2-30 ms).
            std::thread::sleep(Duration::from_micros(round * 750));
            sh("kill", &[&format!("-{signal}"), &child.id().to_string()]);
            let _ = child.wait_with_output();
            let attached = net.ip_link_xdp().is_some();
            let pinned = Path::new(&pin).exists();
            assert_eq!(
                attached, pinned,
                "round {round} SIG{signal}: attached={attached} but pinned={pinned}"
            );
            if attached {
                outcomes.0 += 1;
                loader(&["unload", net.host_if()]).ok();
            } else {
                outcomes.1 += 1;
            }
            assert!(!Path::new(&pin).exists(), "unload left the pin");
        }
    }
    // Both outcomes must have happened, or the signal never hit a load.
    assert!(
        outcomes.0 > 0 && outcomes.1 > 0,
        "(complete, none) = {outcomes:?}"
    );
}

#[test]
fn forced_replaces_lose_no_packet() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    net.settle();
    loader(&["load", net.host_if(), "xdp_pass"]).ok();
    let before = net.pinned_pass_count();
    let (receiver, sender) = net.udp_pair();
    // A busy machine may not run the receiving thread for a while: a large
    // buffer keeps socket overflow from posing as loss in XDP.
    let size: libc::c_int = 16 << 20;
    // SAFETY: a valid socket and an int option value of the right size.
    unsafe {
        use std::os::fd::AsRawFd;
        libc::setsockopt(
            receiver.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }

    let done = std::sync::atomic::AtomicBool::new(false);
    let (sent, received) = std::thread::scope(|scope| {
        let counting = scope.spawn(|| {
            let mut buf = [0u8; 64];
            let mut n = 0u64;
            while receiver.recv(&mut buf).is_ok() {
                n += 1;
            }
            n
        });
        let sending = scope.spawn(|| {
            let mut n = 0u64;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                sender.send(&n.to_le_bytes()).unwrap();
                n += 1;
                std::thread::sleep(Duration::from_micros(200));
            }
            n
        });
        // Swap between two different pass programs, 100 times, under traffic.
        for round in 0..100 {
            let (object, program) = match round % 2 {
                0 => ("xdp_prog", "xdp_pass_func"),
                _ => ("xdp_pass", "xdp_prog_simple"),
            };
            loader(&["load", "-F", "-n", program, net.host_if(), object]).ok();
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let sent = sending.join().unwrap();
        (sent, counting.join().unwrap())
    });
    assert!(sent > 1000, "only {sent} datagrams sent");
    assert_eq!(received, sent, "datagrams lost during the replaces");
    // Every one went through an XDP program: no moment without one.
    assert_eq!(net.pinned_pass_count() - before, sent);
}

#[test]
fn racing_loads_without_force_one_wins_and_owns_the_pins() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let pin = format!("/sys/fs/bpf/{}/xdp_stats_map", net.host_if());
    for round in 0..10 {
        // Both start together; the kernel lets exactly one attach.
        let children: Vec<_> = ["xdp_pass", "xdp_stats1"]
            .iter()
            .map(|object| {
                Command::new(loader_path())
                    .args(["load", net.host_if(), object])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let runs: Vec<Run> = children
            .into_iter()
            .map(|c| Run::from(c.wait_with_output().unwrap()))
            .collect();
        let winners = runs.iter().filter(|r| r.code == 0).count();
        assert_eq!(winners, 1, "round {round}: {runs:#?}");
        let loser = runs.iter().find(|r| r.code != 0).unwrap();
        assert_eq!(loser.code, 30, "round {round}: {loser:#?}");
        assert!(loser.hint().contains("--force"), "{loser:#?}");
        // The pin holds the map of the program that is attached.
        let prog_id = net.ip_link_xdp().expect("the winner is attached")["prog"]["id"].clone();
        let prog = json(
            "bpftool",
            &["-j", "prog", "show", "id", &prog_id.to_string()],
        );
        let map_id = json("bpftool", &["-j", "map", "show", "pinned", &pin])["id"].clone();
        assert!(
            prog["map_ids"].as_array().unwrap().contains(&map_id),
            "round {round}: pinned map {map_id} is not the winner's: {prog}"
        );
        loader(&["unload", net.host_if()]).ok();
        assert!(!Path::new(&pin).exists());
    }
}

#[test]
fn pin_path_cannot_escape_bpffs() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let link = format!("/sys/fs/bpf/{}-escape", net.host_if());
    std::os::unix::fs::symlink("/tmp", &link).unwrap();
    let through_link = format!("{link}/pins");
    let dotdot = format!("/sys/fs/bpf/{}/../../../tmp", net.host_if());
    let runs = [
        loader(&["load", "-p", &through_link, net.host_if(), "xdp_pass"]).fails_with(2),
        loader(&["load", "-p", &dotdot, net.host_if(), "xdp_pass"]).fails_with(2),
    ];
    std::fs::remove_file(&link).unwrap();
    assert!(
        runs[0].stderr.contains("is not on a BPF filesystem"),
        "{runs:#?}"
    );
    assert!(runs[1].stderr.contains("contains '..'"), "{runs:#?}");
    assert_eq!(net.ip_link_xdp(), None);
    assert!(!Path::new("/tmp/pins").exists() || !Path::new("/tmp/pins/xdp_stats_map").exists());
}

#[test]
fn unload_keeps_pins_another_program_still_uses() {
    let (Some(a), Some(b)) = (
        TestNet::for_privileged_test(),
        TestNet::for_privileged_test(),
    ) else {
        return;
    };
    let dir = format!("/sys/fs/bpf/{}-shared", a.host_if());
    let pin = format!("{dir}/xdp_stats_map");
    loader(&["load", "-p", &dir, a.host_if(), "xdp_pass"]).ok();
    let run = loader(&["load", "-p", &dir, b.host_if(), "xdp_stats1"]).ok();
    assert!(run.stdout.contains("reusing pinned map"), "{run:#?}");

    let run = loader(&["unload", "-p", &dir, a.host_if()]).ok();
    assert!(
        run.stdout.contains("kept pinned map xdp_stats_map"),
        "{run:#?}"
    );
    assert!(
        Path::new(&pin).exists(),
        "unload removed a pin b's program uses"
    );
    let map_id = json("bpftool", &["-j", "map", "show", "pinned", &pin])["id"].clone();
    let b_prog = b.ip_link_xdp().unwrap()["prog"]["id"].to_string();
    let b_maps = json("bpftool", &["-j", "prog", "show", "id", &b_prog])["map_ids"].clone();
    assert!(b_maps.as_array().unwrap().contains(&map_id));

    loader(&["unload", "-p", &dir, b.host_if()]).ok();
    assert!(
        !Path::new(&dir).exists(),
        "the last unload removes the pins and the dir"
    );
}

#[test]
fn stats_keeps_reporting_through_50_reloads() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let pin = format!("/sys/fs/bpf/{}/xdp_stats_map", net.host_if());
    loader(&["load", net.host_if(), "xdp_stats1"]).ok();
    let mut stats = Command::new(loader_path())
        .args([
            "stats",
            net.host_if(),
            "--json",
            "--follow",
            "--interval",
            "0.05",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut ids = std::collections::BTreeSet::new();
    for round in 0..50 {
        // Half reuse the pinned map; half get a new one (the pin removed first).
        if round % 2 == 1 {
            std::fs::remove_file(&pin).unwrap();
        }
        let object = ["xdp_stats1", "xdp_pass"][round % 2];
        loader(&["load", "-F", net.host_if(), object]).ok();
        ids.insert(
            json("bpftool", &["-j", "map", "show", "pinned", &pin])["id"]
                .as_u64()
                .unwrap(),
        );
        std::thread::sleep(Duration::from_millis(30));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        stats.try_wait().unwrap().is_none(),
        "stats ended during the reloads"
    );
    sh("kill", &["-INT", &stats.id().to_string()]);
    let out = stats.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let samples: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    assert!(samples.len() > 20, "{} samples", samples.len());
    let last_id = samples.last().unwrap()["map_id"].clone();
    assert_eq!(
        &last_id,
        ids.iter().last().unwrap(),
        "stats ends on the newest map"
    );
    let switches = String::from_utf8_lossy(&out.stderr)
        .matches("changed its id")
        .count();
    assert!(
        switches >= 5,
        "only {switches} switches noticed of {} maps",
        ids.len()
    );
}

/// Starts `stats IF --json` and returns it once its first sample is out.
fn running_stats(net: &TestNet) -> std::process::Child {
    use std::io::BufRead;
    let mut stats = Command::new(loader_path())
        .args(["stats", net.host_if(), "--json", "--interval", "0.1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(stats.stdout.as_mut().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("map_id"), "first sample: {first}");
    stats
}

/// Waits (at most 5 s) for `stats` to exit; returns its code and stderr.
fn stats_exit(mut stats: std::process::Child) -> (Option<i32>, String) {
    for _ in 0..50 {
        if stats.try_wait().unwrap().is_some() {
            let out = stats.wait_with_output().unwrap();
            return (
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = stats.kill();
    panic!("stats did not notice within 5 s");
}

#[test]
fn stats_says_when_the_interface_is_removed() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    loader(&["load", net.host_if(), "xdp_stats1"]).ok();
    let stats = running_stats(&net);
    sh("ip", &["link", "del", net.host_if()]);
    let (code, stderr) = stats_exit(stats);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("Error: interface {} is gone", net.host_if())),
        "{stderr}"
    );
}

#[test]
fn stats_says_when_another_tool_replaces_the_program() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    loader(&["load", "-m", "skb", net.host_if(), "xdp_stats1"]).ok();
    let stats = running_stats(&net);
    // iproute2 loads its own copy of the object, with its own maps.
    let object = concat!(env!("OUT_DIR"), "/xdp_pass.bpf.o");
    sh(
        "ip",
        &[
            "-force",
            "link",
            "set",
            "dev",
            net.host_if(),
            "xdpgeneric",
            "obj",
            object,
            "sec",
            "xdp",
        ],
    );
    let (code, stderr) = stats_exit(stats);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("does not use xdp_stats_map id"), "{stderr}");
}

/// Two loads starting at once where bpffs is not mounted: one mounts it,
/// the other finds it (a second mount on top would hide the first one's
/// pins: its pin then failed with ENOENT, seen in a fresh 6.12 guest).
/// The oracle is the mount table: exactly one bpffs at /sys/fs/bpf.
#[test]
fn parallel_loads_mount_bpffs_once() {
    let (Some(a), Some(b)) = (
        TestNet::for_privileged_test(),
        TestNet::for_privileged_test(),
    ) else {
        return;
    };
    let script = format!(
        "umount -l /sys/fs/bpf 2>/dev/null; \
         {loader} load {a} xdp_stats1 & pa=$!; {loader} load {b} xdp_stats1 & pb=$!; \
         wait $pa && wait $pb && grep -c ' /sys/fs/bpf .* - bpf ' /proc/self/mountinfo",
        loader = loader_path(),
        a = a.host_if(),
        b = b.host_if(),
    );
    let run = in_private_mounts(&script);
    assert_eq!(run.stdout.lines().last(), Some("1"), "{run:#?}");
    assert_eq!(
        run.stderr.matches("Note: mounted bpffs").count(),
        1,
        "{run:#?}"
    );
    for net in [&a, &b] {
        assert!(
            net.ip_link_xdp().is_some(),
            "{} has no program",
            net.host_if()
        );
    }
}
