//! `xdp-loader build`: students' C programs compiled with this project's
//! headers and libbpf's; the lesson starters against the built-in
//! reference solutions; clang's errors; the object loading for real.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{loader_path, path, RemoveOnDrop, Run, TestNet};
use libbpf_rs::ObjectBuilder;

/// Each lesson folder's starter, and the built-in holding its solution.
const STARTERS: &[(&str, &str, &str)] = &[
    ("basic01", "xdp_pass", "xdp_pass"),
    ("basic02", "xdp_prog", "xdp_prog"),
    ("basic03", "xdp_stats1", "xdp_stats1"),
    ("basic04", "xdp_prog", "xdp_prog"),
    ("packet01", "xdp_parser", "xdp_parser"),
    ("packet02", "xdp_rewrite", "xdp_rewrite"),
    ("packet03", "xdp_redirect", "xdp_redirect"),
    ("tracing01", "trace_prog", "xdp_monitor"),
    ("tracing02", "trace_prog", "xdp_monitor"),
    ("tracing03", "xdp_printk", "xdp_printk"),
    ("tracing04", "xdp_capture", "xdp_capture"),
    ("maps", "xdp_map_in_map", "xdp_map_in_map"),
];

/// A scratch directory, with its own header cache (XDG_CACHE_HOME), as a
/// user's first build of an installed binary has.
fn scratch(name: &str) -> (PathBuf, RemoveOnDrop) {
    let dir = std::env::temp_dir().join(format!("xdp-build-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let guard = RemoveOnDrop(dir.display().to_string());
    (dir, guard)
}

fn build(dir: &Path, source: &Path, output: &Path) -> Run {
    Run::from(
        Command::new(loader_path())
            .env("XDG_CACHE_HOME", dir.join("cache"))
            .args(["build", path(source), "-o", path(output)])
            .output()
            .expect("run xdp-loader build"),
    )
}

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn program_names(object: &Path) -> Vec<String> {
    let obj = ObjectBuilder::default()
        .open_file(object)
        .expect("open the object");
    obj.progs()
        .map(|p| p.name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn every_starter_builds_and_names_its_programs_as_the_solution_does() {
    let (dir, _guard) = scratch("starters");
    for (lesson, starter, builtin) in STARTERS {
        let source = repo(&format!("lessons/{lesson}/{starter}.bpf.c"));
        let object = dir.join(format!("{lesson}.o"));
        let run = build(&dir, &source, &object).ok();
        assert!(run.stdout.contains("Built "), "{run:#?}");
        assert!(
            run.stderr.is_empty(),
            "{lesson}: clang warned: {}",
            run.stderr
        );

        let solution = dir.join(format!("{builtin}.solution.o"));
        build(&dir, &repo(&format!("src/bpf/{builtin}.bpf.c")), &solution).ok();
        let expected = program_names(&solution);
        for name in program_names(&object) {
            assert!(
                expected.contains(&name),
                "{lesson}: starter program {name} is not in {builtin} ({expected:?})"
            );
        }
    }
    // The headers were written where the cache variable says.
    let cache = std::fs::read_dir(dir.join("cache/xdp-loader"))
        .unwrap()
        .count();
    assert_eq!(cache, 1, "one include directory in the cache");
}

#[test]
fn a_c_error_exits_1_with_clangs_own_message_and_leaves_no_object() {
    let (dir, _guard) = scratch("error");
    let source = dir.join("broken.bpf.c");
    std::fs::write(
        &source,
        "#include \"vmlinux_xdp.h\"\n#include <bpf/bpf_helpers.h>\n\
         SEC(\"xdp\") int f(struct xdp_md *ctx) { return XDP_PASS }\n",
    )
    .unwrap();
    let object = dir.join("broken.bpf.o");
    std::fs::write(&object, b"an older object").unwrap();

    let run = build(&dir, &source, &object).fails_with(1);
    assert!(
        run.stderr.contains("broken.bpf.c:3:") && run.stderr.contains("error: expected ';'"),
        "clang's diagnostic with file and line: {run:#?}"
    );
    assert!(
        !object.exists(),
        "a stale object would load as if the edit had worked"
    );
}

#[test]
fn a_missing_or_non_c_file_is_a_usage_error() {
    let (dir, _guard) = scratch("usage");
    let run = build(&dir, &dir.join("nothere.bpf.c"), &dir.join("x.o")).fails_with(2);
    assert!(run.stderr.contains("nothere.bpf.c"), "{run:#?}");
    run.hint();
    let object = dir.join("prog.o");
    std::fs::write(&object, b"x").unwrap();
    let run = build(&dir, &object, &dir.join("y.o")).fails_with(2);
    assert!(run.stderr.contains("not a C file"), "{run:#?}");
}

#[test]
fn the_built_starter_loads_and_packet01s_deliberate_bug_is_refused() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let (dir, _guard) = scratch("load");
    let pass = dir.join("basic01.o");
    build(&dir, &repo("lessons/basic01/xdp_pass.bpf.c"), &pass).ok();
    common::loader(&["load", net.host_if(), path(&pass)]).ok();
    let xdp = net.ip_link_xdp().expect("ip link shows an XDP program");
    assert_eq!(xdp["prog"]["name"], "xdp_prog_simple", "{xdp}");
    assert!(net.ping(2), "XDP_PASS lets the pings through");
    common::loader(&["unload", net.host_if()]).ok();

    // packet01's starter checks one byte and reads 14: the verifier says no.
    let parser = dir.join("packet01.o");
    build(&dir, &repo("lessons/packet01/xdp_parser.bpf.c"), &parser).ok();
    let run = common::loader(&["load", net.host_if(), path(&parser)]).fails_with(40);
    assert!(run.stderr.contains("verifier"), "{run:#?}");
    assert!(
        net.ip_link_xdp().is_none(),
        "nothing attached after a refusal"
    );
}

#[test]
fn version_names_this_project_not_xdp_tools() {
    let run = common::loader(&["--version"]).ok();
    assert!(
        run.stdout.starts_with("xdp-loader ") && run.stdout.contains("xdp-tutorial in Rust"),
        "{run:#?}"
    );
}
