//! `xdp-loader check` can fail: the built-in solutions pass every
//! assignment, and wrong programs fail exactly the assignment they break.
//!
//! Each wrong variant is a lesson's reference solution (src/bpf/*.bpf.c,
//! its local headers inlined) with one deliberate bug, a text patch below,
//! compiled with clang as a student's object would be. A variant that no
//! longer finds its text (the reference changed) fails loudly.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::{compile_lesson_bpf, loader_path, privileged};
use serde_json::Value;

/// One deliberate bug: (name, the assignment it breaks, [(text, replacement)]).
type Variant = (&'static str, usize, &'static [(&'static str, &'static str)]);

/// `check LESSON [FILE] --json`: (exit code, the report). Also asserts
/// that the run left none of its namespaces behind.
fn check(lesson: &str, file: Option<&Path>) -> (i32, Value) {
    let mut cmd = Command::new(loader_path());
    cmd.args(["check", lesson, "--json"]);
    if let Some(file) = file {
        cmd.arg(file);
    }
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        leftover_namespaces(pid),
        Vec::<String>::new(),
        "check left namespaces behind"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|_| {
        panic!(
            "no JSON report: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

fn leftover_namespaces(pid: u32) -> Vec<String> {
    let prefix = format!("xdpcheck-{pid}-");
    std::fs::read_dir("/run/netns")
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default()
}

fn failed(report: &Value) -> BTreeSet<usize> {
    report["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["pass"] == false)
        .map(|a| a["number"].as_u64().unwrap() as usize)
        .collect()
}

/// The source of a built-in with its local headers ("x.h" in src/bpf)
/// inlined, so a patch can reach into them.
fn reference_source(builtin: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bpf");
    let mut seen = BTreeSet::new();
    inline(
        &std::fs::read_to_string(dir.join(format!("{builtin}.bpf.c"))).unwrap(),
        &dir,
        &mut seen,
    )
}

fn inline(text: &str, dir: &Path, seen: &mut BTreeSet<String>) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let header = line
            .trim()
            .strip_prefix("#include \"")
            .and_then(|rest| rest.split('"').next());
        match header {
            Some(name) if name != "vmlinux_xdp.h" && dir.join(name).is_file() => {
                if seen.insert(name.to_owned()) {
                    out += &inline(&std::fs::read_to_string(dir.join(name)).unwrap(), dir, seen);
                }
            }
            _ => {
                out += line;
                out += "\n";
            }
        }
    }
    out
}

fn patched(source: &str, patches: &[(&str, &str)], variant: &str) -> String {
    let mut text = source.to_owned();
    for (from, to) in patches {
        // An empty `from`: `to` goes in front (a #define before the headers).
        if from.is_empty() {
            text.insert_str(0, to);
            continue;
        }
        assert_eq!(
            text.matches(from).count(),
            1,
            "variant {variant}: the reference must contain `{from}` exactly once (did it change?)"
        );
        text = text.replacen(from, to, 1);
    }
    text
}

/// The built-in passes everything; each variant fails only what it breaks.
fn lesson_can_fail(lesson: &str, builtin: &str, variants: &[Variant]) {
    if !privileged() {
        return;
    }
    let (code, report) = check(lesson, None);
    assert_eq!(
        (code, failed(&report)),
        (0, BTreeSet::new()),
        "the built-in solution must pass: {report:#}"
    );
    assert_eq!(report["passed"], report["total"]);

    let source = reference_source(builtin);
    for (name, breaks, patches) in variants {
        let object = compile_lesson_bpf(
            &format!("check-{lesson}-{name}"),
            &patched(&source, patches, name),
        );
        let (code, report) = check(lesson, Some(&object));
        assert_eq!(code, 1, "variant {name}: a FAIL exits 1: {report:#}");
        assert_eq!(
            failed(&report),
            BTreeSet::from([*breaks]),
            "variant {name} must fail assignment {breaks} only: {report:#}"
        );
    }
}

#[test]
fn basic02_can_fail() {
    lesson_can_fail(
        "basic02",
        "xdp_prog",
        &[
            (
                "drop_passes",
                1,
                &[(
                    "record_action(ctx, XDP_DROP)",
                    "record_action(ctx, XDP_PASS)",
                )],
            ),
            (
                "abort_drops",
                2,
                &[(
                    "record_action(ctx, XDP_ABORTED)",
                    "record_action(ctx, XDP_DROP)",
                )],
            ),
            (
                "abort_missing",
                2,
                &[("int xdp_abort_func(", "int xdp_abort_fn(")],
            ),
        ],
    );
}

#[test]
fn basic03_can_fail() {
    lesson_can_fail(
        "basic03",
        "xdp_stats1",
        &[
            (
                "no_rx_bytes",
                1,
                &[
                    ("\t__u64 rx_bytes;\n", ""),
                    ("rec->rx_bytes += data_end - data;", ""),
                ],
            ),
            (
                "bytes_without_ethernet",
                1,
                &[(
                    "rec->rx_bytes += data_end - data;",
                    "rec->rx_bytes += data_end - data - 14;",
                )],
            ),
            (
                "always_slot_0",
                2,
                &[(
                    "bpf_map_lookup_elem(&xdp_stats_map, &action)",
                    "bpf_map_lookup_elem(&xdp_stats_map, &(__u32){0})",
                )],
            ),
            (
                "shared_array",
                3,
                &[("BPF_MAP_TYPE_PERCPU_ARRAY", "BPF_MAP_TYPE_ARRAY")],
            ),
        ],
    );
}

#[test]
fn packet01_can_fail() {
    lesson_can_fail(
        "packet01",
        "xdp_parser",
        &[
            (
                "ipv6_udp_dropped",
                2,
                &[(
                    "sequence = icmp6h->icmp6_dataun.u_echo.sequence;\n\t\t} else if (ip_type == IPPROTO_UDP) {",
                    "sequence = icmp6h->icmp6_dataun.u_echo.sequence;\n\t\t} else if (ip_type == IPPROTO_UDP) {\n\t\t\taction = XDP_DROP;",
                )],
            ),
            ("even_replies_dropped", 3, &[("parse_icmp6hdr(&nh, data_end, &icmp6h) !=\n\t\t\t    ICMPV6_ECHO_REQUEST)", "parse_icmp6hdr(&nh, data_end, &icmp6h) < 0)")]),
            ("one_vlan_tag", 4, &[("", "#define VLAN_MAX_DEPTH 1\n")]),
            ("fixed_ihl", 5, &[("hdrsize = iph->ihl * 4;", "hdrsize = sizeof(*iph);")]),
        ],
    );
}

#[test]
fn packet02_can_fail() {
    lesson_can_fail(
        "packet02",
        "xdp_rewrite",
        &[
            (
                "udp_port_kept",
                1,
                &[("udph->dest = bpf_htons(bpf_ntohs(old_port) - 1);", "")],
            ),
            (
                "udp_checksum_stale",
                1,
                &[("csum_replace2(&udph->check, old_port, udph->dest);", "")],
            ),
            ("pop_missing", 2, &[("vlan_tag_pop(ctx, eth);", ";")]),
            (
                "push_vlan_2",
                3,
                &[("vlan_tag_push(ctx, eth, 1);", "vlan_tag_push(ctx, eth, 2);")],
            ),
            (
                "push_8021ad",
                3,
                &[(
                    "eth->h_proto = bpf_htons(ETH_P_8021Q);",
                    "eth->h_proto = bpf_htons(ETH_P_8021AD);",
                )],
            ),
        ],
    );
}

#[test]
fn packet03_can_fail() {
    lesson_can_fail(
        "packet03",
        "xdp_redirect",
        &[
            (
                "echo_checksum_stale",
                1,
                &[(
                    "csum_replace2(&icmp6h->icmp6_cksum, old_word, *(__be16 *)icmp6h);",
                    "",
                )],
            ),
            (
                "echo_macs_kept",
                1,
                &[(
                    "\tswap_src_dst_mac(eth);\n\taction = XDP_TX;",
                    "\taction = XDP_TX;",
                )],
            ),
            (
                "redirect_mac_kept",
                2,
                &[(
                    "__builtin_memcpy(eth->h_dest, target->dest_mac, ETH_ALEN);",
                    "",
                )],
            ),
            (
                "redirect_map_mac_kept",
                3,
                &[("__builtin_memcpy(eth->h_dest, dst, ETH_ALEN);", "")],
            ),
            (
                "router_ttl_kept",
                4,
                &[("\t\t\tip_decrease_ttl(iph);", "\t\t\t;")],
            ),
            (
                "router_leaves_it_to_the_kernel",
                4,
                &[(
                    "action = bpf_redirect(fib.ifindex, 0);\n\t\tbreak;",
                    "break;",
                )],
            ),
        ],
    );
}

#[test]
fn maps_can_fail() {
    lesson_can_fail(
        "maps",
        "xdp_map_in_map",
        &[
            ("counters_protocol_0", 1, &[("inner = bpf_map_lookup_elem(&counters, &slot);\n\tif (inner)\n\t\tcount(inner, proto, bytes);", "inner = bpf_map_lookup_elem(&counters, &slot);\n\tif (inner)\n\t\tcount(inner, 0, bytes);")]),
            ("by_ifindex_key_0", 2, &[("bpf_map_lookup_elem(&counters_by_ifindex, &ifindex)", "bpf_map_lookup_elem(&counters_by_ifindex, &slot)")]),
            (
                "by_ifindex_counted_twice",
                2,
                &[(
                    "inner = bpf_map_lookup_elem(&counters_by_ifindex, &ifindex);\n\tif (inner)\n\t\tcount(inner, proto, bytes);",
                    "inner = bpf_map_lookup_elem(&counters_by_ifindex, &ifindex);\n\tif (inner) {\n\t\tcount(inner, proto, bytes);\n\t\tcount(inner, proto, bytes);\n\t}",
                )],
            ),
        ],
    );
}

#[test]
fn tracing04_can_fail() {
    lesson_can_fail(
        "tracing04",
        "xdp_capture",
        &[
            (
                "meta_only",
                1,
                &[(
                    "flags = BPF_F_CURRENT_CPU | ((__u64)meta.cap_len << 32);",
                    "flags = BPF_F_CURRENT_CPU;",
                )],
            ),
            (
                "pkt_len_without_ethernet",
                1,
                &[(
                    "meta.pkt_len = data_end - data;",
                    "meta.pkt_len = data_end - data - 14;",
                )],
            ),
            (
                "no_output",
                1,
                &[(
                    "if (bpf_perf_event_output(ctx, &capture_events, flags, &meta, sizeof(meta)))",
                    "(void)flags; if (0)",
                )],
            ),
        ],
    );
}

/// tracing03: the lines are found by a source MAC unique to the run, so
/// other programs printing at the same time do not change the verdict.
#[test]
fn tracing03_can_fail() {
    lesson_can_fail(
        "tracing03",
        "xdp_printk",
        &[
            (
                "no_printk",
                1,
                &[(
                    "bpf_printk(\"src: %llu, dst: %llu, proto: %u\\n\",\n\t\t   ether_addr_to_u64(eth->h_source),\n\t\t   ether_addr_to_u64(eth->h_dest),\n\t\t   bpf_ntohs(eth->h_proto));",
                    "(void)ether_addr_to_u64;",
                )],
            ),
            (
                "proto_network_order",
                1,
                &[("bpf_ntohs(eth->h_proto));", "eth->h_proto);")],
            ),
            (
                "macs_swapped",
                1,
                &[(
                    "ether_addr_to_u64(eth->h_source),\n\t\t   ether_addr_to_u64(eth->h_dest),",
                    "ether_addr_to_u64(eth->h_dest),\n\t\t   ether_addr_to_u64(eth->h_source),",
                )],
            ),
        ],
    );
}

/// tracing01 has no built-in in the lesson's shape: the reference is
/// this, the C tutorial's solution (its starter leaves the body empty).
const TRACING01_SOLUTION: &str = r#"
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
	__u64 *count = bpf_map_lookup_elem(&xdp_stats_map, &key);
	__u64 one = 1;

	if (count) {
		*count += 1;
		return 0;
	}
	bpf_map_update_elem(&xdp_stats_map, &key, &one, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
"#;

#[test]
fn tracing01_can_fail() {
    if !privileged() {
        return;
    }
    // No built-in: a usage error that says to give the object.
    let run = common::loader(&["check", "tracing01"]).fails_with(2);
    assert!(run.hint().contains("check tracing01 FILE.o"), "{run:?}");
    let variants: &[(&str, &[(&str, &str)])] = &[
        ("solution", &[]),
        ("key_0", &[("__s32 key = ctx->ifindex;", "__s32 key = 0;")]),
        ("counted_twice", &[("*count += 1;", "*count += 2;")]),
        (
            "never_inserted",
            &[(
                "bpf_map_update_elem(&xdp_stats_map, &key, &one, BPF_NOEXIST);",
                "",
            )],
        ),
        (
            "other_tracepoint",
            &[(
                "tracepoint/xdp/xdp_exception",
                "tracepoint/xdp/xdp_redirect",
            )],
        ),
    ];
    for (name, patches) in variants {
        let object = compile_lesson_bpf(
            &format!("check-tracing01-{name}"),
            &patched(TRACING01_SOLUTION, patches, name),
        );
        let (code, report) = check("tracing01", Some(&object));
        let want = if *name == "solution" {
            BTreeSet::new()
        } else {
            BTreeSet::from([1])
        };
        assert_eq!(failed(&report), want, "variant {name}: {report:#}");
        assert_eq!(code, if want.is_empty() { 0 } else { 1 }, "variant {name}");
    }
}

/// tracing02 has no built-in in the lesson's shape either: the reference
/// is the lesson's starter with its TODOs done (exceptions left out).
const TRACING02_SOLUTION: &str = r#"
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 2);
} redirect_err_cnt SEC(".maps");

struct devmap_xmit_rec {
	__u64 sent;
	__u64 drops;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct devmap_xmit_rec);
	__uint(max_entries, 1);
} devmap_xmit_cnt SEC(".maps");

struct xdp_redirect_ctx {
	__u64 __common;
	__s32 prog_id;
	__u32 act;
	__s32 ifindex;
	__s32 err;
	__s32 to_ifindex;
	__u32 map_id;
	__s32 map_index;
};

struct xdp_devmap_xmit_ctx {
	__u64 __common;
	__s32 from_ifindex;
	__u32 act;
	__s32 to_ifindex;
	__s32 drops;
	__s32 sent;
	__s32 err;
};

static __always_inline int count_redirect(struct xdp_redirect_ctx *ctx)
{
	__u32 key = ctx->err ? 1 : 0;
	__u64 *count = bpf_map_lookup_elem(&redirect_err_cnt, &key);

	if (count)
		(*count)++;
	return 0;
}

SEC("tracepoint/xdp/xdp_redirect")
int trace_xdp_redirect(struct xdp_redirect_ctx *ctx)
{
	return count_redirect(ctx);
}

SEC("tracepoint/xdp/xdp_redirect_err")
int trace_xdp_redirect_err(struct xdp_redirect_ctx *ctx)
{
	return count_redirect(ctx);
}

SEC("tracepoint/xdp/xdp_devmap_xmit")
int trace_xdp_devmap_xmit(struct xdp_devmap_xmit_ctx *ctx)
{
	__u32 key = 0;
	struct devmap_xmit_rec *rec = bpf_map_lookup_elem(&devmap_xmit_cnt, &key);

	if (rec) {
		rec->sent += ctx->sent;
		rec->drops += ctx->drops;
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
"#;

/// tracing02's programs run on records, not on the live tracepoints, so
/// redirects by other tests running now cannot change the verdicts.
#[test]
fn tracing02_can_fail() {
    if !privileged() {
        return;
    }
    let run = common::loader(&["check", "tracing02"]).fails_with(2);
    assert!(run.hint().contains("check tracing02 FILE.o"), "{run:?}");
    let solution = compile_lesson_bpf("check-tracing02-solution", TRACING02_SOLUTION);
    let (code, report) = check("tracing02", Some(&solution));
    assert_eq!((code, failed(&report)), (0, BTreeSet::new()), "{report:#}");
    let variants: &[Variant] = &[
        (
            "err_ignored",
            1,
            &[("__u32 key = ctx->err ? 1 : 0;", "__u32 key = 0;")],
        ),
        (
            "err_program_on_xdp_redirect",
            1,
            &[(
                "SEC(\"tracepoint/xdp/xdp_redirect_err\")",
                "SEC(\"tracepoint/xdp/xdp_redirect\")",
            )],
        ),
        (
            "drops_counted_as_sent",
            2,
            &[("rec->drops += ctx->drops;", "rec->drops += ctx->sent;")],
        ),
        (
            "devmap_fields_swapped",
            2,
            &[(
                "\t__s32 drops;\n\t__s32 sent;",
                "\t__s32 sent;\n\t__s32 drops;",
            )],
        ),
    ];
    for (name, breaks, patches) in variants {
        let object = compile_lesson_bpf(
            &format!("check-tracing02-{name}"),
            &patched(TRACING02_SOLUTION, patches, name),
        );
        let (code, report) = check("tracing02", Some(&object));
        assert_eq!(code, 1, "variant {name}: {report:#}");
        assert_eq!(
            failed(&report),
            BTreeSet::from([*breaks]),
            "variant {name}: {report:#}"
        );
    }
}

/// A program that does not load fails assignment 1 with the verifier's
/// reason, and every other assignment says it was not checked.
#[test]
fn a_program_that_does_not_load_fails_everything() {
    if !privileged() {
        return;
    }
    let source = patched(&reference_source("xdp_parser"), &[("if (nh->pos + hdrsize > data_end)\n\t\treturn -1;\n\n\tnh->pos += hdrsize;\n\t*ethhdr = eth;", "if (nh->pos + 1 > data_end)\n\t\treturn -1;\n\n\tnh->pos += hdrsize;\n\t*ethhdr = eth;")], "short_bounds");
    let object = compile_lesson_bpf("check-packet01-short-bounds", &source);
    let (code, report) = check("packet01", Some(&object));
    assert_eq!(code, 1);
    assert_eq!(failed(&report), (1..=5).collect());
    let details: Vec<&str> = report["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["detail"].as_str().unwrap())
        .collect();
    assert!(details[0].contains("does not load"), "{details:?}");
    assert!(
        details[1..].iter().all(|d| d.starts_with("not checked")),
        "{details:?}"
    );
}

/// Errors a student can make on the command line: one Error line, exit 2.
#[test]
fn usage_errors() {
    let run = common::loader(&["check", "packet99"]).fails_with(2);
    assert!(run.hint().contains("packet01"), "{run:?}");
    common::loader(&["check", "packet01", "/nonexistent/x.o"]).fails_with(2);
}

/// Ctrl-C in the middle: the run stops, and its namespaces are gone.
#[test]
fn interrupted_check_cleans_up() {
    if !privileged() {
        return;
    }
    let mut child = Command::new(loader_path())
        .args(["check", "basic02"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    while leftover_namespaces(pid).is_empty() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "check ended before its lab was seen"
        );
        std::thread::yield_now();
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert_eq!(leftover_namespaces(pid), Vec::<String>::new());
}

/// When the lesson folders are in the tree: their titles are the
/// checker's, and each starter fails exactly the assignments it leaves
/// open (all of them, except basic02's first, which is about loading
/// the given xdp_drop_func, and basic03's second: see README, Testing).
#[test]
fn starters_fail_what_they_leave_open() {
    let lessons = Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons");
    if !lessons.is_dir() || !privileged() {
        return;
    }
    let open: &[(&str, &str, &[usize])] = &[
        ("basic02", "xdp_prog", &[2]),
        ("basic03", "xdp_stats1", &[1, 3]),
        ("packet01", "xdp_parser", &[1, 2, 3, 4, 5]),
        ("packet02", "xdp_rewrite", &[1, 2, 3]),
        ("packet03", "xdp_redirect", &[1, 2, 3, 4]),
        ("maps", "xdp_map_in_map", &[1, 2]),
        ("tracing01", "trace_prog", &[1]),
        ("tracing02", "trace_prog", &[1, 2]),
        ("tracing03", "xdp_printk", &[1]),
        ("tracing04", "xdp_capture", &[1]),
    ];
    for (lesson, program, open) in open {
        let dir = lessons.join(lesson);
        let starter = std::fs::read_to_string(dir.join(format!("{program}.bpf.c"))).unwrap();
        let object = compile_lesson_bpf(&format!("starter-{lesson}"), &starter);
        let (code, report) = check(lesson, Some(&object));
        assert_eq!(code, 1, "{lesson}: the starter must fail");
        assert_eq!(
            failed(&report),
            open.iter().copied().collect(),
            "{lesson}: {report:#}"
        );
        let titles: Vec<String> = report["assignments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| format!("{}\t{}", a["number"], a["title"].as_str().unwrap()))
            .collect();
        let listed = std::fs::read_to_string(dir.join("assignments.txt")).unwrap();
        assert_eq!(
            listed.lines().collect::<Vec<_>>(),
            titles,
            "{lesson}: assignments.txt and the checker disagree"
        );
    }
}
