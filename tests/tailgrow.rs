//! experiment01: growing and shrinking a packet's tail (built-in
//! xdp_tailgrow), the verifier's refusals of the lesson's wrong ways
//! (xdp_tailgrow_fail) explained, and xdp.frags on an MTU 9000 veth.
//! Oracles: bpftool prog run (the frame the kernel hands back), bpftool's
//! map dumps, `ip -j link`, ping.

mod common;

use common::{bpftool_counts, json, loader, sh, RemoveOnDrop, TestNet};

const PASS: usize = 2;

/// Each wrong way is refused by the verifier (exit 40) with the hint that
/// names its mistake, and nothing is attached.
#[test]
fn the_verifier_refusals_are_explained() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    for (program, verifier_says, hint_says) in [
        (
            "xdp_fail_length_offset",
            "R2 offset is outside of the packet",
            "an offset worked out from the packet's length (data_end - data) is unknown to it",
        ),
        (
            "xdp_fail_pkt_end_math",
            "invalid mem access 'pkt_end'",
            "data_end marks where the packet ends and can only be compared with, never moved",
        ),
        (
            "xdp_fail_stale_pointer",
            "invalid mem access 'scalar'",
            "bpf_xdp_adjust_tail() changed the packet, so the verifier forgot every packet pointer",
        ),
    ] {
        let run =
            loader(&["load", net.host_if(), "xdp_tailgrow_fail", "-n", program]).fails_with(40);
        assert!(
            run.stderr.contains("the kernel verifier rejected"),
            "{run:#?}"
        );
        assert!(run.stderr.contains(verifier_says), "{program}: {run:#?}");
        assert!(run.hint().contains(hint_says), "{program}: {run:#?}");
        assert!(
            net.ip_link_xdp().is_none(),
            "{program} left something attached"
        );
    }
}

/// An IPv4 ICMP echo request of exactly `len` bytes.
fn icmp_frame(len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    f[14] = 0x45;
    f[16..18].copy_from_slice(&((len - 14) as u16).to_be_bytes());
    f[22] = 64;
    f[23] = 1; // ICMP
    f[26..30].copy_from_slice(&[192, 0, 2, 1]);
    f[30..34].copy_from_slice(&[192, 0, 2, 2]);
    f[34] = 8; // echo request
    f
}

/// Runs the program attached to the host end on `frame` with bpftool:
/// (verdict, the frame the kernel hands back).
fn bpftool_run(net: &TestNet, frame: &[u8]) -> (u64, Vec<u8>) {
    let prog_id = net.ip_link_xdp().expect("a program attached")["prog"]["id"]
        .as_u64()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("tailgrow-{}-{}", std::process::id(), net.name));
    std::fs::create_dir_all(&dir).unwrap();
    let _cleanup = RemoveOnDrop(dir.to_string_lossy().into_owned());
    let (input, output) = (dir.join("in"), dir.join("out"));
    std::fs::write(&input, frame).unwrap();
    let run = json(
        "bpftool",
        &[
            "-j",
            "prog",
            "run",
            "id",
            &prog_id.to_string(),
            "data_in",
            input.to_str().unwrap(),
            "data_out",
            output.to_str().unwrap(),
        ],
    );
    (
        run["retval"].as_u64().unwrap(),
        std::fs::read(&output).unwrap(),
    )
}

#[test]
fn the_tail_grows_and_shrinks() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let frame = icmp_frame(64);
    let load = |program: &str| {
        loader(&["load", "-F", net.host_if(), "xdp_tailgrow", "-n", program]).ok();
    };

    load("xdp_tailgrow_parse");
    let (verdict, out) = bpftool_run(&net, &frame);
    assert_eq!(verdict, 2, "XDP_PASS");
    assert_eq!(out.len(), 74, "grown by the 10-byte trailer");
    assert_eq!(&out[..64], &frame[..], "the packet itself unchanged");
    // The trailer right after the IP packet: "TS" then a nonzero time.
    assert_eq!(&out[64..66], b"TS", "{:02x?}", &out[64..]);
    assert_ne!(&out[66..74], &[0; 8], "a timestamp");

    // Not ICMP: grown, but the trailer stays zeroed.
    let mut udp = frame.clone();
    udp[23] = 17;
    let (_, out) = bpftool_run(&net, &udp);
    assert_eq!(out.len(), 74);
    assert_eq!(&out[64..], &[0; 10]);

    load("xdp_tailshrink");
    let (verdict, out) = bpftool_run(&net, &frame);
    assert_eq!((verdict, out.len()), (2, 60), "4 bytes cut off");
    assert_eq!(&out[..], &frame[..60]);

    load("xdp_tailgrow_tx");
    let (verdict, out) = bpftool_run(&net, &frame);
    assert_eq!(
        (verdict, out.len()),
        (3, 96),
        "XDP_TX of a frame grown by 32"
    );
    assert_eq!(&out[64..], &[0; 32], "the kernel zeroes grown bytes");
}

/// Frames sent into the namespace come back grown by 32 bytes.
///
/// They must arrive at veth0 as XDP frames: a frame that arrives as an skb
/// (a socket's datagram) gets a copy with only the tailroom it needs, and
/// growing it fails. So the kernel generates them, as `bench live` does:
/// BPF_PROG_TEST_RUN with live frames runs xdp_bench_tx as if each frame
/// had arrived on the host end, whose XDP_TX sends it to veth0, where
/// xdp_tailgrow_tx grows it and sends it back. xdp_stats1 on the host end
/// counts what returns.
#[test]
fn a_grown_frame_goes_back_out_with_xdp_tx() {
    use xdp_tutorial::bench::{frames, test_run};
    use xdp_tutorial::builtin;
    use xdp_tutorial::object::{self, Selection, Source};
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    // A veth drops what its peer sends with XDP_TX unless it runs XDP itself.
    loader(&["load", net.host_if(), "xdp_stats1"]).ok();
    net.loader_inside(&["load", "veth0", "xdp_tailgrow", "-n", "xdp_tailgrow_tx"])
        .ok();
    net.settle();
    let pin = format!("/sys/fs/bpf/{}/xdp_stats_map", net.name);
    let before = bpftool_counts(&pin)[PASS];

    const N: u32 = 10;
    let generator = object::load(
        &Source::Builtin(builtin::find("xdp_bench").unwrap()),
        Selection {
            prog_name: Some("xdp_bench_tx"),
            section: None,
        },
        None,
        None,
    )
    .unwrap();
    let frame = frames::build(frames::Kind::Udp, 64);
    let ifindex: u32 = std::fs::read_to_string(format!("/sys/class/net/{}/ifindex", net.name))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    test_run::live(generator.program_fd(), &frame, ifindex, N).unwrap();

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut after = bpftool_counts(&pin)[PASS];
    while after.0 - before.0 < u64::from(N) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
        after = bpftool_counts(&pin)[PASS];
    }
    assert_eq!(after.0 - before.0, u64::from(N), "every frame came back");
    assert_eq!(
        after.1 - before.1,
        u64::from(N) * (64 + 32),
        "each 32 bytes longer"
    );
}

fn set_mtu(net: &TestNet, mtu: &str) {
    sh("ip", &["link", "set", net.host_if(), "mtu", mtu]);
    sh("ip", &["-n", &net.name, "link", "set", "veth0", "mtu", mtu]);
}

/// MTU 9000: a plain program is refused in native mode with a hint that
/// names xdp.frags; the frags program attaches natively and sees jumbo
/// frames whole.
#[test]
fn frags_attach_natively_at_mtu_9000_where_plain_programs_cannot() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    set_mtu(&net, "9000");
    let run = loader(&["load", net.host_if(), "xdp_tailgrow", "-n", "xdp_tx"]).fails_with(30);
    assert!(run.stderr.contains("MTU of"), "{run:#?}");
    assert!(run.hint().contains("SEC(\"xdp.frags\")"), "{run:#?}");
    assert!(net.ip_link_xdp().is_none());

    loader(&[
        "load",
        net.host_if(),
        "xdp_tailgrow",
        "-n",
        "xdp_frags_count",
    ])
    .ok();
    let xdp = net.ip_link_xdp().expect("frags program attached");
    assert_eq!(xdp["mode"], 1, "native: {xdp}");
    let prog = json(
        "bpftool",
        &["-j", "prog", "show", "id", &xdp["prog"]["id"].to_string()],
    );
    assert_eq!(prog["name"], "xdp_frags_count", "{prog}");

    net.settle();
    let pin = format!("/sys/fs/bpf/{}/xdp_stats_map", net.name);
    let before = bpftool_counts(&pin)[PASS];
    // 8000 bytes of ICMPv6 data: one frame of 8062 bytes, over two pages.
    let out = sh(
        "ip",
        &[
            "netns",
            "exec",
            &net.name,
            "ping",
            "-6",
            "-c",
            "3",
            "-i",
            "0.2",
            "-W",
            "1",
            "-s",
            "8000",
            &net.host_ip,
        ],
    );
    assert!(out.contains("3 received"), "jumbo pings answered: {out}");
    let after = bpftool_counts(&pin)[PASS];
    assert_eq!(after.0 - before.0, 3, "three jumbo frames");
    assert_eq!(
        after.1 - before.1,
        3 * 8062,
        "counted whole, fragments included"
    );
}
