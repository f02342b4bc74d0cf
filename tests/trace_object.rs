//! `xdp-loader monitor FILE.o`: a student's own tracepoint object (the C
//! tutorial's trace_prog_kern.c shape) is loaded, attached and its maps
//! printed, as trace_load_and_stats does; XDP-only objects are refused.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::background::Background;
use common::{loader, path, RemoveOnDrop, TestNet};
use serde_json::Value;

/// tracing01's starter with its TODO done, as a student would.
const TRACE_PROG: &str = r#"
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__type(key, __s32);
	__type(value, __u64);
	__uint(max_entries, 10);
} xdp_stats_map SEC(".maps");

struct xdp_exception_ctx {
	__u64 __common;
	__s32 prog_id;
	__u32 act;
	__s32 ifindex;
};

SEC("tracepoint/xdp/xdp_exception")
int trace_xdp_exception(struct xdp_exception_ctx *ctx)
{
	__s32 key = ctx->ifindex;
	__u64 one = 1, *count = bpf_map_lookup_elem(&xdp_stats_map, &key);

	if (count)
		(*count)++;
	else
		bpf_map_update_elem(&xdp_stats_map, &key, &one, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
"#;

fn build(name: &str, source: &str) -> (PathBuf, RemoveOnDrop) {
    let dir = std::env::temp_dir().join(format!("xdp-traceobj-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let guard = RemoveOnDrop(dir.display().to_string());
    let c = dir.join(format!("{name}.bpf.c"));
    std::fs::write(&c, source).unwrap();
    let obj = dir.join(format!("{name}.bpf.o"));
    loader(&["build", path(&c), "-o", path(&obj)]).ok();
    (obj, guard)
}

/// The count in xdp_stats_map for `ifindex` in one JSON sample (0: none).
fn count_for(sample: &Value, ifindex: u64) -> u64 {
    let maps = sample["maps"]
        .as_array()
        .unwrap_or_else(|| panic!("no maps: {sample}"));
    let map = maps
        .iter()
        .find(|m| m["map"]["name"] == "xdp_stats_map")
        .unwrap_or_else(|| panic!("no xdp_stats_map: {sample}"));
    map["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["key"].as_u64() == Some(ifindex))
        .map(|e| e["sum"].as_u64().unwrap_or_else(|| panic!("no sum: {e}")))
        .sum()
}

/// The programs `bpftool perf` shows attached by process `pid`: (prog id, tracepoint).
fn perf_attachments(pid: u32) -> Vec<(u64, String)> {
    let out = Command::new("bpftool")
        .args(["-j", "perf", "show"])
        .output()
        .unwrap();
    let all: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    all.as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["pid"].as_u64() == Some(u64::from(pid)))
        .filter_map(|e| {
            Some((
                e["prog_id"].as_u64()?,
                e["tracepoint"].as_str()?.to_string(),
            ))
        })
        .collect()
}

#[test]
fn a_students_tracepoint_object_counts_each_aborted_packet() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let (obj, _guard) = build("trace_prog", TRACE_PROG);
    loader(&["load", net.host_if(), "xdp_prog", "-n", "xdp_abort_func"]).ok();
    net.settle();
    let ifindex: u64 = std::fs::read_to_string(format!("/sys/class/net/{}/ifindex", net.host_if()))
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    let mut monitor = Background::spawn(&["monitor", path(&obj), "--json", "--interval", "0.3"]);
    monitor.wait_stderr(
        "attached to tracepoint xdp:xdp_exception",
        Duration::from_secs(10),
    );
    let attached = perf_attachments(monitor.child.id());
    assert!(
        attached.iter().any(|(_, tp)| tp == "xdp_exception"),
        "bpftool perf shows the program on xdp:xdp_exception: {attached:?}"
    );

    assert!(!net.ping(5), "the abort program lets no ping through");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut counted = 0;
    while counted < 5 && Instant::now() < deadline {
        counted = count_for(&monitor.next_json(Duration::from_secs(5)), ifindex);
    }
    assert_eq!(
        counted, 5,
        "one event per aborted echo request, under the interface's ifindex"
    );

    monitor.signal(libc::SIGINT);
    assert_eq!(monitor.wait_exit(Duration::from_secs(5)), Some(0));
    for (id, _) in attached {
        let gone = Command::new("bpftool")
            .args(["prog", "show", "id", &id.to_string()])
            .output()
            .unwrap();
        assert!(
            !gone.status.success(),
            "program {id} unloaded when the monitor ended"
        );
    }
}

#[test]
fn an_object_without_tracepoint_programs_is_refused_with_its_programs_listed() {
    if !common::privileged() {
        return;
    }
    let (obj, _guard) = build(
        "only_xdp",
        "#include \"vmlinux_xdp.h\"\n#include <bpf/bpf_helpers.h>\n\
         SEC(\"xdp\") int just_xdp(struct xdp_md *ctx) { return XDP_PASS; }\n\
         char LICENSE[] SEC(\"license\") = \"GPL\";\n",
    );
    let run = loader(&["monitor", path(&obj), "--count", "1"]).fails_with(40);
    assert!(
        run.stderr
            .contains("no tracepoint program in object 'only_xdp'"),
        "{run:#?}"
    );
    assert!(run.stderr.contains("just_xdp (section xdp)"), "{run:#?}");
    assert!(
        run.hint().contains("xdp-loader load IFNAME FILE"),
        "{run:#?}"
    );
}
