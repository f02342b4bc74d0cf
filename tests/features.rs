//! `xdp-loader features` against what the kernel really does: every "yes"
//! is followed by using the feature for real, every "no" checked against
//! bpftool's own probes, the JSON against its documented schema (with
//! documents the schema check must reject), and a device's XDP features
//! against the veth driver's behaviour.

mod common;

use common::features::*;
use common::*;
use serde_json::Value;

const KEYS: [&str; 12] = [
    "btf",
    "kernel_btf",
    "bpffs",
    "tracefs",
    "map_batch",
    "ringbuf",
    "xdp_replace",
    "xdp_link",
    "freplace",
    "fentry",
    "xdp_frags",
    "live_frames",
];

/// The README's schema for `features --json`; Err says what is wrong.
fn check_schema(doc: &Value) -> Result<(), String> {
    doc["kernel"].as_str().ok_or("kernel is not a string")?;
    let features = doc["features"]
        .as_object()
        .ok_or("features is not an object")?;
    for key in KEYS {
        let f = features.get(key).ok_or(format!("{key} missing"))?;
        for text in ["title", "since", "used_by", "detail"] {
            f[text]
                .as_str()
                .ok_or(format!("{key}.{text} is not a string"))?;
        }
        let since = f["since"].as_str().unwrap();
        if !since.split('.').all(|n| n.parse::<u32>().is_ok()) {
            return Err(format!("{key}.since {since} is not a version"));
        }
        match f["result"].as_str() {
            Some("yes") | Some("unknown") => {
                if !f["errno"].is_null() || !f["step"].is_null() {
                    return Err(format!("{key}: errno/step without a refusal"));
                }
            }
            Some("no") => {
                f["step"]
                    .as_str()
                    .ok_or(format!("{key}: no without a step"))?;
                if f["errno"].is_u64() != f["errno_name"].is_string() {
                    return Err(format!("{key}: errno and errno_name disagree"));
                }
            }
            other => return Err(format!("{key}.result is {other:?}")),
        }
    }
    match &doc["device"] {
        Value::Null => Ok(()),
        device => {
            device["ifname"].as_str().ok_or("device.ifname")?;
            device["ifindex"].as_u64().ok_or("device.ifindex")?;
            match device["reported"].as_bool() {
                Some(true) => {
                    device["xdp_features"].as_array().ok_or("xdp_features")?;
                    device["xdp_features_mask"].as_u64().ok_or("mask")?;
                    Ok(())
                }
                Some(false) => device["reason"].as_str().map(|_| ()).ok_or("reason".into()),
                None => Err("device.reported is not a bool".into()),
            }
        }
    }
}

#[test]
fn json_follows_the_schema_and_the_check_rejects_broken_documents() {
    if !privileged() {
        return;
    }
    let doc = features_json(&[]);
    check_schema(&doc).unwrap();
    assert_eq!(doc["kernel"], sh("uname", &["-r"]).trim());
    assert!(doc["device"].is_null());

    // The checker must refuse what the schema forbids.
    let mut bad = doc.clone();
    bad["features"]["freplace"]["result"] = "maybe".into();
    assert!(check_schema(&bad).is_err());
    let mut bad = doc.clone();
    bad["features"].as_object_mut().unwrap().remove("xdp_link");
    assert!(check_schema(&bad).is_err());
    let mut bad = doc.clone();
    bad["features"]["ringbuf"]["since"] = "recent".into();
    assert!(check_schema(&bad).is_err());
    let mut bad = doc;
    bad["features"]["btf"]["result"] = "no".into();
    assert!(check_schema(&bad).is_err(), "a refusal needs its step");
}

#[test]
fn probes_agree_with_bpftool() {
    if !privileged() {
        return;
    }
    check_probes_against_bpftool();
}

/// This host (6.18 without trampolines) refuses freplace and fentry, and
/// the answer says where and why.
#[test]
fn a_refusal_names_the_step_and_the_errno() {
    if !privileged() {
        return;
    }
    let doc = features_json(&[]);
    for key in ["freplace", "fentry"] {
        let f = &doc["features"][key];
        if f["result"] != "no" {
            continue; // a kernel with trampolines: nothing to check here
        }
        assert!(["load", "attach"].contains(&f["step"].as_str().unwrap()));
        assert!(f["errno"].as_u64().unwrap() > 0);
        assert!(f["detail"]
            .as_str()
            .unwrap()
            .starts_with(f["errno_name"].as_str().unwrap()));
    }
    let table = loader(&["features"]).ok().stdout;
    assert!(table.contains("FEATURE") && table.contains("SINCE"));
    assert!(table.contains("BPF trampolines: freplace"));
}

/// A "yes" must hold when the feature is used: attach through a bpf_link
/// (bpftool sees the link) and load an xdp.frags program.
#[test]
fn yes_means_it_works() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    check_yes_means_it_works(&net);
}

/// veth reports basic, redirect and rx-sg, and becomes a redirect target
/// (ndo-xmit) only when its peer runs an XDP program; lo reports nothing,
/// and native XDP on lo is indeed refused.
#[test]
fn device_features_follow_the_driver() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let before = features_json(&[net.host_if()]);
    check_schema(&before).unwrap();
    let device = &before["device"];
    let ip_index = json("ip", &["-j", "link", "show", "dev", net.host_if()])[0]["ifindex"].clone();
    assert_eq!(device["ifindex"], ip_index);
    if device["reported"] == false {
        // A kernel before 6.3: the reason says so.
        assert!(device["reason"].as_str().unwrap().contains("6.3"));
        return;
    }
    let names = |d: &Value| -> Vec<String> {
        d["device"]["xdp_features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let had = names(&before);
    for expected in ["basic", "redirect", "rx-sg"] {
        assert!(had.contains(&expected.to_string()), "{had:?}");
    }
    assert!(!had.contains(&"ndo-xmit".to_string()), "{had:?}");

    net.loader_inside(&["load", "veth0", "xdp_pass"]).ok();
    let after = names(&features_json(&[net.host_if()]));
    assert!(after.contains(&"ndo-xmit".to_string()), "{after:?}");

    let lo = net.loader_inside(&["features", "lo", "--json"]).ok();
    let lo: Value = serde_json::from_str(&lo.stdout).unwrap();
    assert_eq!(lo["device"]["xdp_features_mask"], 0);
    net.loader_inside(&["load", "-m", "native", "lo", "xdp_pass"])
        .fails_with(30);
}

#[test]
fn unknown_interface_is_a_usage_error_with_the_interfaces_listed() {
    if !privileged() {
        return;
    }
    let run = loader(&["features", "no-such-if9"]).fails_with(2);
    assert!(run.stderr.contains("no-such-if9"));
    assert!(run.hint().contains("lo"));
    assert!(run.stdout.is_empty(), "nothing probed for a typo");
}
