//! The spellings users bring from bpftool, ip and xdp-tools: attaching a
//! program that is already loaded (`id:N`, a pinned path), `-v`/`-vv`,
//! `--version` on subcommands, `map list --all`, and `status` naming the
//! tc and flow dissector programs it does not manage. Each is checked
//! against bpftool, ip or tc, not against xdp-loader's own words.

mod common;

use common::*;
use serde_json::Value;

const PASS: &str = r#"
#define SEC(name) __attribute__((section(name), used))
struct xdp_md;
struct __sk_buff;
SEC("xdp") int loaded_pass(struct xdp_md *ctx) { return 2; /* XDP_PASS */ }
SEC("tc") int tc_count(struct __sk_buff *skb) { return 0; }
SEC("flow_dissector") int dissect_min(struct __sk_buff *skb) { return 0; }
char LICENSE[] SEC("license") = "GPL";
"#;

/// The objects of PASS loaded and pinned by bpftool under a directory of
/// this test's own (removed on drop): bpftool, not xdp-loader, owns them.
struct Pinned {
    dir: RemoveOnDrop,
}

impl Pinned {
    fn load(tag: &str, prog_type: &str) -> Pinned {
        let obj = compile_bpf(&format!("parity_{tag}"), PASS);
        let dir = format!("/sys/fs/bpf/xt-parity-{}-{tag}", std::process::id());
        let pinned = Pinned {
            dir: RemoveOnDrop(dir.clone()),
        };
        sh(
            "bpftool",
            &["prog", "loadall", path(&obj), &dir, "type", prog_type],
        );
        pinned
    }

    fn path(&self, program: &str) -> String {
        format!("{}/{program}", self.dir.0)
    }

    /// The program's id, as bpftool reads it from the pin.
    fn id(&self, program: &str) -> u64 {
        json(
            "bpftool",
            &["-j", "prog", "show", "pinned", &self.path(program)],
        )["id"]
            .as_u64()
            .expect("bpftool shows the pinned program's id")
    }
}

fn attached_id(net: &TestNet) -> Option<u64> {
    net.ip_link_xdp().and_then(|xdp| xdp["prog"]["id"].as_u64())
}

#[test]
fn load_attaches_a_program_loaded_elsewhere_by_pin_and_by_id() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let pinned = Pinned::load("attach", "xdp");
    let id = pinned.id("loaded_pass");

    // As `ip link set dev IF xdp pinned PATH`.
    let run = loader(&[
        "load",
        "-m",
        "skb",
        net.host_if(),
        &pinned.path("loaded_pass"),
    ])
    .ok();
    assert!(run.stdout.contains("loaded_pass"), "{run:#?}");
    assert_eq!(attached_id(&net), Some(id), "ip shows the pinned program");
    assert!(net.ping(2), "the pass program passes");
    loader(&["unload", net.host_if()]).ok();
    assert_eq!(net.ip_link_xdp(), None);
    // The program was bpftool's: unloading detached it, and its pin stays.
    assert_eq!(pinned.id("loaded_pass"), id);

    // As `bpftool net attach xdp id N dev IF`, through a bpf_link.
    let arg = format!("id:{id}");
    loader(&["load", "-m", "skb", "--attach", "link", net.host_if(), &arg]).ok();
    assert_eq!(attached_id(&net), Some(id));
    assert_bpftool_xdp_link(&Value::from(id));
    loader(&["unload", net.host_if()]).ok();
    assert_eq!(net.ip_link_xdp(), None);
    assert_eq!(pinned.id("loaded_pass"), id);
}

#[test]
fn load_refuses_what_is_not_a_loaded_xdp_program() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let tc = Pinned::load("refuse", "tc");
    let tc_id = format!("id:{}", tc.id("tc_count"));
    let ifname = net.host_if();

    for bad in ["id:0", "id:x", "id:"] {
        let run = loader(&["load", ifname, bad]).fails_with(2);
        assert!(run.stderr.contains("not a program id"), "{run:#?}");
    }
    let run = loader(&["load", ifname, "id:4294967295"]).fails_with(40);
    assert!(run.hint().contains("bpftool prog show"), "{run:#?}");
    let run = loader(&["load", ifname, &tc_id]).fails_with(40);
    assert!(run.stderr.contains("not an XDP program"), "{run:#?}");
    let run = loader(&["load", ifname, &tc.dir.0]).fails_with(40);
    assert!(run.stderr.contains("is a directory on bpffs"), "{run:#?}");
    let run = loader(&["load", "-n", "x", ifname, &tc_id]).fails_with(2);
    assert!(run.stderr.contains("already loaded"), "{run:#?}");

    // A pinned map is named as a map.
    loader(&["load", "-m", "skb", ifname, "xdp_stats1"]).ok();
    let map_pin = format!("/sys/fs/bpf/{ifname}/xdp_stats_map");
    loader(&["unload", "--keep-maps", ifname]).ok();
    let _map = RemoveOnDrop(format!("/sys/fs/bpf/{ifname}"));
    let run = loader(&["load", ifname, &map_pin]).fails_with(40);
    assert!(
        run.stderr.contains("is a pinned map, not a program"),
        "{run:#?}"
    );
    assert_eq!(net.ip_link_xdp(), None, "nothing was attached");
}

#[test]
fn verbosity_levels() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let quiet = loader(&["load", "-m", "skb", net.host_if(), "xdp_pass"]).ok();
    loader(&["unload", net.host_if()]).ok();
    let v = loader(&["load", "-v", "-m", "skb", net.host_if(), "xdp_pass"]).ok();
    loader(&["unload", net.host_if()]).ok();
    let vv = loader(&["load", "-vv", "-m", "skb", net.host_if(), "xdp_pass"]).ok();
    loader(&["unload", net.host_if()]).ok();

    assert!(!quiet.stderr.contains("libbpf:"), "{quiet:#?}");
    // -v: libbpf's own debug lines stay quiet on an accepted program.
    assert!(!v.stderr.contains("libbpf: elf:"), "{v:#?}");
    // -vv: libbpf's debug output, and the verifier's log of the accepted
    // program with register states.
    assert!(vv.stderr.contains("libbpf: elf:"), "{vv:#?}");
    assert!(vv.stderr.contains("BEGIN PROG LOAD LOG"), "{vv:#?}");
    assert!(vv.stderr.contains("R1=ctx"), "{vv:#?}");
}

#[test]
fn version_on_every_subcommand() {
    for command in ["load", "unload", "status", "map", "capture"] {
        let run = loader(&[command, "--version"]).ok();
        assert!(
            run.stdout.contains(env!("CARGO_PKG_VERSION")),
            "{command}: {run:#?}"
        );
    }
}

#[test]
fn map_list_all_shows_every_map_bpftool_shows() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    loader(&["load", "-m", "skb", net.host_if(), "xdp_stats1"]).ok();
    let pin = format!("/sys/fs/bpf/{}/xdp_stats_map", net.host_if());
    let id = json("bpftool", &["-j", "map", "show", "pinned", &pin])["id"].clone();
    let run = loader(&["map", "list", "--all", "--json"]).ok();
    let rows: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let ours = rows
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("map id {id} not listed: {run:#?}"));
    assert_eq!(ours["type"], "percpu_array");
    // Maps of no XDP program are listed too: bpftool's first map, whatever it is.
    let every = json("bpftool", &["-j", "map", "show"]);
    let listed = |id: &Value| rows.iter().any(|r| &r["id"] == id);
    let seen = every
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| listed(&m["id"]))
        .count();
    assert!(seen >= every.as_array().unwrap().len().min(2), "{rows:#?}");

    loader(&["map", "list", "--all", net.host_if()]).fails_with(2);
    loader(&["unload", net.host_if()]).ok();
}

#[test]
fn status_names_tc_and_flow_dissector_programs_and_leaves_them() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let obj = compile_bpf("parity_tc", PASS);
    let pinned = Pinned::load("dissector", "flow_dissector");
    let ns = format!("--net=/run/netns/{}", net.name);
    // Inside the test's namespace: a cls_bpf filter on veth0's ingress and
    // a flow dissector for the namespace.
    let inside = |args: &[&str]| {
        let mut full = vec![ns.as_str()];
        full.extend_from_slice(args);
        sh("nsenter", &full)
    };
    inside(&["tc", "qdisc", "add", "dev", "veth0", "clsact"]);
    inside(&[
        "tc",
        "filter",
        "add",
        "dev",
        "veth0",
        "ingress",
        "bpf",
        "da",
        "obj",
        path(&obj),
        "sec",
        "tc",
    ]);
    inside(&[
        "bpftool",
        "prog",
        "attach",
        "pinned",
        &pinned.path("dissect_min"),
        "flow_dissector",
    ]);
    // bpftool's text, not its JSON: bpftool 7.1 prints `["id":N]` for a
    // flow dissector, which is not JSON.
    let net_show = || inside(&["bpftool", "net", "show"]);
    let (tc_id, dissector_id) = tc_and_dissector_ids(&net_show());
    let run = net.loader_inside(&["status", "veth0", "--json"]).ok();
    let status: Value = serde_json::from_str(&run.stdout).unwrap();
    let (tc_id, dissector_id) = (Value::from(tc_id), Value::from(dissector_id));
    assert_eq!(status[0]["tc"][0]["id"], tc_id, "{status:#}");
    assert_eq!(status[0]["tc"][0]["hook"], "tc ingress");
    assert_eq!(
        status[0]["flow_dissector"]["id"], dissector_id,
        "{status:#}"
    );
    let table = net.loader_inside(&["status", "veth0"]).ok().stdout;
    assert!(table.contains("also on tc ingress: tc_count"), "{table}");
    assert!(table.contains("flow dissector: dissect_min"), "{table}");

    // An XDP program comes and goes; the others stay, as bpftool sees them.
    net.loader_inside(&["load", "-m", "skb", "veth0", "xdp_pass"])
        .ok();
    net.loader_inside(&["unload", "veth0"]).ok();
    assert_eq!(
        tc_and_dissector_ids(&net_show()),
        (tc_id.as_u64().unwrap(), dissector_id.as_u64().unwrap())
    );
}

/// The ids in `bpftool net show`'s text: the tc line ends in `id N`, the
/// flow dissector's section is a line `id N`.
fn tc_and_dissector_ids(text: &str) -> (u64, u64) {
    let id_at_end = |line: &str| -> Option<u64> { line.rsplit_once("id ")?.1.trim().parse().ok() };
    let tc = text
        .lines()
        .find(|l| l.contains("clsact/ingress"))
        .and_then(id_at_end);
    let dissector = text
        .split("flow_dissector:")
        .nth(1)
        .and_then(|rest| rest.lines().find(|l| l.starts_with("id ")))
        .and_then(id_at_end);
    match (tc, dissector) {
        (Some(tc), Some(dissector)) => (tc, dissector),
        _ => panic!("bpftool net show: no tc or flow dissector id in\n{text}"),
    }
}
