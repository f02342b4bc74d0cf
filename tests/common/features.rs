//! `xdp-loader features` checked against what the kernel really does: run
//! by tests/features.rs on the host and by tests/guest.rs on each kernel of
//! the lane.

use serde_json::Value;

use super::*;

pub fn features_json(args: &[&str]) -> Value {
    let mut all = vec!["features", "--json"];
    all.extend_from_slice(args);
    let run = loader(&all).ok();
    serde_json::from_str(&run.stdout).expect("features --json is JSON")
}

pub fn feature_result<'a>(doc: &'a Value, key: &str) -> &'a str {
    doc["features"][key]["result"].as_str().unwrap()
}

/// Our probes against bpftool's own (`bpftool feature probe`).
pub fn check_probes_against_bpftool() {
    let ours = features_json(&[]);
    let theirs = json("bpftool", &["feature", "probe", "-j"]);
    let has = |section: &str, key: &str| theirs[section][key].as_bool().unwrap();
    assert_eq!(
        feature_result(&ours, "ringbuf") == "yes",
        has("map_types", "have_ringbuf_map_type")
    );
    // bpftool loads a program of the type; we also attach it, so our
    // "yes" needs bpftool's, and bpftool's "no" makes ours a no.
    for (key, prog_type) in [
        ("freplace", "have_ext_prog_type"),
        ("fentry", "have_tracing_prog_type"),
    ] {
        let bpftool_has = has("program_types", prog_type);
        match feature_result(&ours, key) {
            "yes" => assert!(bpftool_has, "{key}: yes, but bpftool has no {prog_type}"),
            "no" => {}
            other => panic!("{key}: {other}"),
        }
        if !bpftool_has {
            assert_eq!(feature_result(&ours, key), "no", "{key}");
        }
    }
    assert_eq!(
        feature_result(&ours, "kernel_btf") == "yes",
        std::path::Path::new("/sys/kernel/btf/vmlinux").exists()
    );
}

/// A "yes" must hold when the feature is used: attach through a bpf_link
/// (bpftool sees the link) and load an xdp.frags program; a "no" must be
/// the command's refusal, with the documented exit code.
pub fn check_yes_means_it_works(net: &TestNet) {
    let doc = features_json(&[]);

    let link = loader(&["load", "--attach", "link", net.host_if(), "xdp_pass"]);
    if feature_result(&doc, "xdp_link") == "yes" {
        link.ok();
        let xdp = net.ip_link_xdp().expect("ip link shows the program");
        assert_bpftool_xdp_link(&xdp["prog"]["id"]);
        loader(&["unload", net.host_if()]).ok();
    } else {
        let refused = link.fails_with(30);
        assert!(refused.stderr.contains("XDP bpf_link"));
    }

    let frags = compile_lesson_bpf(
        "frags_probe_check",
        "#include \"vmlinux_xdp.h\"\n\
         #include <bpf/bpf_helpers.h>\n\
         SEC(\"xdp.frags\") int frags_pass(struct xdp_md *ctx) { return XDP_PASS; }\n\
         char LICENSE[] SEC(\"license\") = \"GPL\";\n",
    );
    let load = loader(&["load", "-m", "skb", net.host_if(), path(&frags)]);
    if feature_result(&doc, "xdp_frags") == "yes" {
        load.ok();
        let xdp = net.ip_link_xdp().expect("ip link shows the program");
        assert!(xdp.to_string().contains("frags_pass"), "{xdp}");
        loader(&["unload", net.host_if()]).ok();
    } else {
        let refused = load.fails_with(40);
        assert!(refused.stderr.contains("xdp.frags"));
    }
}
