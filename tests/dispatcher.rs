//! Several programs per interface, on the host kernel: what does not need
//! BPF trampolines (refusals, option checks, `clean` of stale dispatcher
//! pins). The dispatcher itself is tested on the guests (tests/guest.rs).

mod common;

use std::path::PathBuf;

use common::features::{feature_result, features_json};
use common::*;

const NO_TRAMPOLINES: &str =
    "this kernel cannot attach several XDP programs to one interface: BPF trampolines unavailable";

fn has_trampolines() -> bool {
    feature_result(&features_json(&[]), "freplace") == "yes"
}

#[test]
fn several_programs_are_refused_without_trampolines_and_nothing_attaches() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    if has_trampolines() {
        eprintln!("this kernel has trampolines: tests/guest.rs covers the dispatcher");
        return;
    }
    let run = loader(&["load", net.host_if(), "xdp_pass", "xdp_stats1"]).fails_with(30);
    assert!(
        run.stderr.contains(&format!("Error: {NO_TRAMPOLINES}")),
        "{run:#?}"
    );
    assert!(run.hint().contains("one program at a time"));
    assert_eq!(net.ip_link_xdp(), None, "nothing may be attached");
    // `features` says the same, in the table and in JSON.
    let table = loader(&["features"]).ok();
    assert!(table.stdout.contains(&format!(
        "Several XDP programs per interface: no: {NO_TRAMPOLINES}"
    )));
    let doc = features_json(&[]);
    assert_eq!(doc["multi_program"], format!("no: {NO_TRAMPOLINES}"));
}

#[test]
fn multi_with_one_program_attaches_directly_with_a_note() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    if has_trampolines() {
        return;
    }
    let run = loader(&["load", "--multi", net.host_if(), "xdp_pass"]).ok();
    assert!(
        run.stderr.contains(&format!("Note: {NO_TRAMPOLINES}")),
        "{run:#?}"
    );
    let xdp = net.ip_link_xdp().expect("attached");
    assert_eq!(xdp["prog"]["name"], "xdp_prog_simple", "{xdp}");
}

#[test]
fn bad_actions_and_too_many_names_are_usage_errors() {
    if !privileged() {
        return;
    }
    let run = loader(&[
        "load",
        "lo",
        "xdp_pass",
        "xdp_stats1",
        "--actions",
        "pass,bogus",
    ])
    .fails_with(2);
    assert!(
        run.stderr.contains("unknown XDP action 'bogus'"),
        "{run:#?}"
    );
    assert!(run.hint().contains("--actions pass,drop"));
    let run = loader(&["load", "lo", "xdp_pass", "-n", "a", "-n", "b"]).fails_with(2);
    assert!(run.stderr.contains("more -n/-s than files"), "{run:#?}");
}

/// A fabricated libxdp-like pin dir: `dispatch-IFINDEX-ID/prog0-prog`
/// holding a real program (pinned by bpftool), removed on drop.
struct FakeDispatcherPins {
    dir: PathBuf,
}

impl FakeDispatcherPins {
    fn new(ifindex: u64, dispatcher_id: u64) -> FakeDispatcherPins {
        let object = compile_lesson_bpf(
            "fake_component",
            "#include \"vmlinux_xdp.h\"\n#include <bpf/bpf_helpers.h>\n\
             SEC(\"xdp\") int fake_component(struct xdp_md *ctx) { return XDP_PASS; }\n\
             char LICENSE[] SEC(\"license\") = \"GPL\";\n",
        );
        let dir = PathBuf::from(format!(
            "/sys/fs/bpf/xdp/dispatch-{ifindex}-{dispatcher_id}"
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let pins = FakeDispatcherPins { dir };
        sh(
            "bpftool",
            &[
                "prog",
                "load",
                path(&object),
                path(&pins.dir.join("prog0-prog")),
            ],
        );
        pins
    }
}

impl Drop for FakeDispatcherPins {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn ifindex_of(ifname: &str) -> u64 {
    json("ip", &["-j", "link", "show", "dev", ifname])[0]["ifindex"]
        .as_u64()
        .unwrap()
}

#[test]
fn clean_removes_stale_dispatcher_pins_by_name_and_keeps_attached_ones() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let ifindex = ifindex_of(net.host_if());
    // A program id no dispatcher has: ids are never reused while the
    // kernel runs, and this one is far above any the host has handed out.
    let stale = FakeDispatcherPins::new(ifindex, 4_000_000_000 + std::process::id() as u64);
    // An attached program's id: its dir must stay.
    loader(&["load", net.host_if(), "xdp_pass"]).ok();
    let attached_id = net.ip_link_xdp().unwrap()["prog"]["id"].as_u64().unwrap();
    let live = FakeDispatcherPins::new(ifindex, attached_id);

    let run = loader(&["clean", net.host_if()]).ok();
    assert!(
        run.stdout.contains(&format!(
            "Removed stale dispatcher pins {}: dispatcher id",
            stale.dir.display()
        )),
        "{run:#?}"
    );
    assert!(
        run.stdout.contains("it held fake_component (id "),
        "{run:#?}"
    );
    assert!(!stale.dir.exists(), "the stale dir is gone");
    assert!(
        live.dir.join("prog0-prog").exists(),
        "an attached dispatcher's pins stay"
    );
    assert!(!run.stdout.contains(&live.dir.display().to_string()));
}

/// A program that looks like a dispatcher of protocol version 4 (magic
/// 236, version 4 in its one .rodata map): attached directly, it must be
/// shown and refused by name, and `unload --all` must still remove it.
#[test]
fn a_newer_dispatcher_version_is_refused_by_name() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let object = compile_lesson_bpf(
        "newer_dispatcher",
        "#include \"vmlinux_xdp.h\"\n#include <bpf/bpf_helpers.h>\n\
         struct config { __u8 magic, version, num, frags; __u32 a[10], p[10], f[10]; __u8 devbound; };\n\
         const volatile struct config conf = { .magic = 236, .version = 4 };\n\
         SEC(\"xdp\") int xdp_dispatcher(struct xdp_md *ctx) { return conf.num ? XDP_DROP : XDP_PASS; }\n\
         char LICENSE[] SEC(\"license\") = \"GPL\";\n",
    );
    loader(&["load", net.host_if(), path(&object)]).ok();
    let id = net.ip_link_xdp().unwrap()["prog"]["id"].as_u64().unwrap();
    let run = loader(&["load", net.host_if(), "xdp_pass"]).fails_with(30);
    assert!(
        run.stderr.contains(&format!(
            "the dispatcher (id {id}) on {} cannot be changed: dispatcher protocol version 4 is newer than this loader reads (up to 3)",
            net.host_if()
        )),
        "{run:#?}"
    );
    assert_eq!(net.ip_link_xdp().unwrap()["prog"]["id"].as_u64(), Some(id));
    let status = loader(&["status", net.host_if()]).ok();
    assert!(status.stdout.contains("version 4 is newer"), "{status:#?}");
    let run = loader(&["unload", net.host_if(), "--id", "1"]).fails_with(30);
    assert!(run.hint().contains("--all"));
    loader(&["unload", net.host_if(), "--all"]).ok();
    assert_eq!(net.ip_link_xdp(), None);
}
