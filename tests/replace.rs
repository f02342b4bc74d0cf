//! `load --force`: what a replace costs (packets that met no XDP program,
//! per kind of replace) and what a failed replace leaves (the previous
//! program, in its mode and attach kind), checked with `ip -j link` and
//! `bpftool`, never only with the tool's own words.

mod common;

use std::time::Duration;

use serde_json::Value;

use common::*;

/// (mode number as `ip link` shows it, program id) on the host end.
fn xdp_state(net: &TestNet) -> Option<(u64, u64)> {
    let xdp = net.ip_link_xdp()?;
    Some((xdp["mode"].as_u64()?, xdp["prog"]["id"].as_u64()?))
}

/// The XDP bpf_links bpftool lists that hold program `prog_id` (this
/// bpftool does not print an XDP link's ifindex; program ids are unique).
fn xdp_links_of(prog_id: u64) -> usize {
    json("bpftool", &["-j", "link", "show"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["type"] == "xdp" && l["prog_id"].as_u64() == Some(prog_id))
        .count()
}

/// The link pinned at this tool's link pin for the host end (bpftool's view).
fn pinned_link(net: &TestNet) -> Option<Value> {
    let pin = format!("/sys/fs/bpf/xdp-loader/{}/link", net.host_if());
    let out = std::process::Command::new("bpftool")
        .args(["-j", "link", "show", "pinned", &pin])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).unwrap())
}

fn set_mtu(net: &TestNet, mtu: &str) {
    sh("ip", &["link", "set", net.host_if(), "mtu", mtu]);
    sh(
        "ip",
        &[
            "netns", "exec", &net.name, "ip", "link", "set", "veth0", "mtu", mtu,
        ],
    );
}

fn kind_args(kind: &str) -> Vec<&'static str> {
    match kind {
        "link" => vec!["--attach", "link"],
        _ => vec![],
    }
}

#[test]
fn a_failed_replace_puts_back_the_previous_program() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    // veth refuses native XDP for a plain program when the peer's MTU does
    // not fit in a page: every forced replace into native mode fails after
    // the skb program in the way had to come off.
    set_mtu(&net, "9000");
    let ifname = net.host_if();
    for (old_kind, new_kind) in [
        ("netlink", "netlink"),
        ("netlink", "link"),
        ("link", "netlink"),
        ("link", "link"),
    ] {
        let mut args = vec!["load", "-m", "skb", ifname, "xdp_pass"];
        args.extend(kind_args(old_kind));
        loader(&args).ok();
        let before = xdp_state(&net).expect("old program attached");
        assert_eq!(xdp_links_of(before.1), (old_kind == "link") as usize);

        let mut args = vec!["load", "-F", "-m", "native", "-n", "xdp_drop_func"];
        args.extend(kind_args(new_kind));
        args.extend([ifname, "xdp_prog"]);
        let run = loader(&args).fails_with(30);
        let case = format!("{old_kind} -> {new_kind}: {run:#?}");
        assert!(run.stderr.contains("MTU of"), "{case}");
        assert!(run.hint().contains("mtu 1500"), "{case}");
        assert!(run.stderr.contains("was put back"), "{case}");

        // Same program, same mode (skb = 2), same kind.
        assert_eq!(xdp_state(&net), Some(before), "{case}");
        if old_kind == "link" {
            assert_eq!(xdp_links_of(before.1), 1, "{case}");
            let pinned = pinned_link(&net).expect("link pin put back");
            assert_eq!(pinned["prog_id"].as_u64(), Some(before.1), "{case}");
            assert!(run.stderr.contains("new bpf_link pinned at"), "{case}");
        } else {
            assert_eq!(xdp_links_of(before.1), 0, "{case}");
            assert!(pinned_link(&net).is_none(), "{case}");
        }
        // Put back for real: packets still reach the old (pass) program.
        assert!(net.ping(2), "{case}");
        loader(&["unload", ifname]).ok();
        assert_eq!(xdp_state(&net), None);
    }
}

#[test]
fn an_unusable_pin_directory_detaches_nothing() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let ifname = net.host_if();
    loader(&["load", "-m", "skb", ifname, "xdp_pass"]).ok();
    let before = xdp_state(&net).unwrap();
    // Something that is not a directory where the link pin directory goes
    // (bpffs holds only pins and directories: pin a map there).
    let dir = format!("/sys/fs/bpf/xdp-loader/{ifname}");
    std::fs::create_dir_all("/sys/fs/bpf/xdp-loader").unwrap();
    let _cleanup = RemoveOnDrop(dir.clone());
    let stats_pin = format!("/sys/fs/bpf/{ifname}/xdp_stats_map");
    sh("bpftool", &["map", "pin", "pinned", &stats_pin, &dir]);

    let run = loader(&[
        "load",
        "-F",
        "-m",
        "skb",
        "--attach",
        "link",
        "-n",
        "xdp_drop_func",
        ifname,
        "xdp_prog",
    ])
    .fails_with(30);
    assert!(run.stderr.contains(&dir), "{run:#?}");
    assert!(run.hint().contains("remove it"), "{run:#?}");
    assert!(
        !run.stderr.contains("detaching"),
        "nothing came off: {run:#?}"
    );
    assert_eq!(xdp_state(&net), Some(before));
    assert_eq!(xdp_links_of(before.1), 0);
    std::fs::remove_file(&dir).unwrap();
    loader(&["unload", ifname]).ok();
}

/// Datagrams sent from the peer while `replaces` run, and how many of them
/// no XDP program counted (every program used here counts its XDP_PASS in
/// the shared, reused `xdp_stats_map`): those met no program at all.
fn uncounted_during(net: &TestNet, replaces: impl FnOnce()) -> (u64, u64) {
    net.settle();
    let before = net.pinned_pass_count();
    let (receiver, sender) = net.udp_pair();
    let done = std::sync::atomic::AtomicBool::new(false);
    /// Stops the sender even when `replaces` panics (else the scope waits forever).
    struct StopOnDrop<'a>(&'a std::sync::atomic::AtomicBool);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
    let sent = std::thread::scope(|scope| {
        let sending = scope.spawn(|| {
            let mut n = 0u64;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                // A full socket buffer on the receiver is not our business:
                // only the sender's count and XDP's count matter here.
                let _ = sender.send(&n.to_le_bytes());
                n += 1;
                std::thread::sleep(Duration::from_micros(200));
            }
            n
        });
        scope.spawn(|| {
            let mut buf = [0u8; 64];
            while receiver.recv(&mut buf).is_ok() {}
        });
        let stop = StopOnDrop(&done);
        replaces();
        drop(stop);
        sending.join().unwrap()
    });
    // Let the last datagrams arrive before counting.
    net.settle();
    let counted = net.pinned_pass_count() - before;
    (sent, sent.saturating_sub(counted))
}

/// One way of attaching: kind ("netlink" or "link") and mode.
type Way = (&'static str, &'static str);

/// 20 forced replaces alternating between `first` and `second` ways,
/// between two pass programs.
fn replaces(net: &TestNet, first: Way, second: Way) -> (u64, u64, Vec<Run>) {
    let ifname = net.host_if();
    let mut args = vec!["load", "-m", second.1, ifname, "xdp_pass"];
    args.extend(kind_args(second.0));
    loader(&args).ok();
    let mut runs = Vec::new();
    let (sent, uncounted) = uncounted_during(net, || {
        for round in 0..20 {
            let ((kind, mode), object, program) = match round % 2 {
                0 => (first, "xdp_prog", "xdp_pass_func"),
                _ => (second, "xdp_pass", "xdp_prog_simple"),
            };
            let mut args = vec!["load", "-F", "-m", mode, "-n", program];
            args.extend(kind_args(kind));
            args.extend([ifname, object]);
            runs.push(loader(&args).ok());
        }
    });
    loader(&["unload", ifname]).ok();
    eprintln!(
        "{first:?} <-> {second:?}: {uncounted} of {sent} datagrams met no XDP program in 20 replaces"
    );
    assert!(sent > 100, "only {sent} sent");
    (sent, uncounted, runs)
}

#[test]
fn replaces_within_one_kind_and_mode_are_atomic() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    for way in [("netlink", "native"), ("link", "native"), ("link", "skb")] {
        let (_, uncounted, runs) = replaces(&net, way, way);
        assert_eq!(uncounted, 0, "{way:?}: a gap without XDP");
        assert!(runs.iter().all(|r| !r.stderr.contains("gap")), "{runs:#?}");
    }
}

#[test]
fn replaces_across_kinds_or_modes_say_there_is_a_gap() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    // The kernel refuses to mix kinds in one slot (EBUSY both ways: a
    // netlink attach cannot touch a link's program, and bpf_link_create
    // fails while a netlink program is there), and runs one of native and
    // skb at a time. So each of these replaces detaches first; the count
    // of datagrams that met no program depends on timing: shown, not asserted.
    for (first, second) in [
        (("netlink", "native"), ("link", "native")),
        (("netlink", "native"), ("netlink", "skb")),
        (("link", "native"), ("link", "skb")),
    ] {
        let (_, _, runs) = replaces(&net, first, second);
        for run in &runs {
            assert!(
                run.stderr.contains("first:") && run.stderr.contains("short gap without XDP"),
                "every such replace says so: {run:#?}"
            );
        }
    }
}
