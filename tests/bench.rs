//! `xdp-loader bench` works and reports sane numbers. These are not timed
//! tests: no time is compared with a limit (a shared machine can be slow
//! at any moment). Numbers must be positive and finite; counts that do not
//! depend on speed (bpf() calls per stats sample) must be exact.

mod common;

use std::process::Command;

use common::features::{feature_result, features_json};
use common::{loader, loader_path, privileged};
use serde_json::Value;

/// Runs `xdp-loader ARGS --json` and returns its rows; also checks that
/// the run left no veth pair or namespace behind (named `xb<pid>...`).
fn bench_rows(args: &[&str]) -> Vec<Value> {
    bench_run(args).0
}

/// `bench_rows`, and what the run printed on stderr (its notes).
fn bench_run(args: &[&str]) -> (Vec<Value>, String) {
    let child = Command::new(loader_path())
        .args(args)
        .arg("--json")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run xdp-loader");
    let prefix = format!("xb{:x}", child.id());
    let _cleanup = Cleanup(child.id());
    let out = child.wait_with_output().expect("wait for xdp-loader");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench {args:?} failed: {stderr}");
    assert_no_leftovers(&prefix);

    let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let machine = &report["machine"];
    assert!(machine["cpus"].as_u64().unwrap() >= 1, "{machine}");
    assert!(!machine["kernel"].as_str().unwrap().is_empty(), "{machine}");
    let rows = report["rows"].as_array().expect("rows").clone();
    (rows, stderr.into_owned())
}

/// Removes what a bench process with this pid may have left if it died
/// without cleaning up (it removes everything itself otherwise).
struct Cleanup(u32);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let pid = self.0;
        for tag in ["c", "l", "s", "o1", "o2", "o5", "x1", "x2", "x5"] {
            let name = format!("xb{pid:x}{tag}");
            let _ = Command::new("ip").args(["link", "del", &name]).output();
            let _ = Command::new("ip").args(["netns", "del", &name]).output();
            let _ = std::fs::remove_dir_all(format!("/sys/fs/bpf/{name}"));
        }
        let _ = std::fs::remove_file(format!("/sys/fs/bpf/xdp-bench-{pid}"));
        let _ = std::fs::remove_dir_all(std::env::temp_dir().join(format!("xdp-bench-{pid}")));
        let _ = std::fs::remove_dir_all(std::env::temp_dir().join(format!("xdp-bench-{pid}-d")));
    }
}

fn assert_no_leftovers(prefix: &str) {
    let links = common::sh("ip", &["-o", "link", "show"]);
    let namespaces = common::sh("ip", &["netns", "list"]);
    assert!(
        !links.contains(prefix),
        "veth {prefix}* left behind:\n{links}"
    );
    assert!(
        !namespaces.contains(prefix),
        "netns {prefix}* left behind:\n{namespaces}"
    );
    assert!(!std::path::Path::new(&format!("/sys/fs/bpf/{prefix}")).exists());
}

fn value(row: &Value) -> f64 {
    row["value"]
        .as_f64()
        .unwrap_or_else(|| panic!("no value: {row}"))
}

#[track_caller]
fn assert_positive(row: &Value) {
    let v = value(row);
    assert!(v.is_finite() && v > 0.0, "value not positive: {row}");
    if let Some(ratio) = row["ratio"].as_f64() {
        assert!(
            ratio.is_finite() && ratio > 0.0,
            "ratio not positive: {row}"
        );
    }
}

fn section<'a>(rows: &'a [Value], name: &str) -> Vec<&'a Value> {
    let found: Vec<_> = rows.iter().filter(|r| r["section"] == name).collect();
    assert!(!found.is_empty(), "no '{name}' rows in {rows:#?}");
    found
}

fn named<'a>(rows: &'a [Value], start: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["name"].as_str().unwrap().starts_with(start))
        .unwrap_or_else(|| panic!("no row '{start}' in {rows:#?}"))
}

#[test]
fn quick_suite_measures_everything() {
    if !privileged() {
        return;
    }
    let (rows, notes) = bench_run(&["bench", "suite", "--quick"]);

    for row in section(&rows, "data plane") {
        assert_eq!(row["unit"], "ns/pkt", "{row}");
        assert_positive(row);
        assert!((1e3 / value(row)).is_finite(), "Mpps: {row}");
    }
    // Dispatcher rows where the kernel has BPF trampolines, else a note.
    let dispatcher: Vec<_> = rows
        .iter()
        .filter(|r| r["section"] == "dispatcher")
        .collect();
    match has_trampolines() {
        true => assert_eq!(dispatcher.len(), 7, "{dispatcher:#?}"),
        false => {
            assert!(dispatcher.is_empty(), "{dispatcher:#?}");
            assert!(
                notes.contains("Note: no dispatcher rows: this kernel has no BPF trampolines"),
                "{notes}"
            );
        }
    }
    // The baseline's own row is the baseline.
    let bare = named(&rows, "xdp_bare_pass");
    assert_eq!(bare["ratio"].as_f64(), Some(1.0), "{bare}");

    for row in section(&rows, "live veth") {
        assert_eq!(row["unit"], "Mpps", "{row}");
        assert_positive(row);
        // The drop program counts every frame sent (see the note).
        if row["name"].as_str().unwrap().starts_with("xdp_drop_func") {
            assert!(row["note"].as_str().unwrap().ends_with("lost 0"), "{row}");
        }
    }
    // The AF_XDP socket on the same pair: what it missed is counted as lost.
    let afxdp = named(&rows, "AF_XDP socket, copy mode");
    assert_eq!(afxdp["section"], "live veth", "{afxdp}");
    let note: Vec<u64> = afxdp["note"]
        .as_str()
        .unwrap()
        .split(' ')
        .filter_map(|w| w.parse().ok())
        .collect();
    let [sent, counted, lost] = note[..] else {
        panic!("note 'sent S counted C lost L': {afxdp}")
    };
    assert!(counted > 0 && counted + lost == sent, "{afxdp}");

    // Capture: whatever it did not write it counted as lost (the arrived
    // count is the inside end's, from netlink).
    let capture = section(&rows, "capture");
    assert!(named(&rows, "capture, own program")["name"].is_string());
    for row in capture {
        assert_eq!(row["unit"], "Mpps", "{row}");
        assert_positive(row);
        let note = row["note"].as_str().unwrap();
        assert!(
            note.ends_with("every packet written or counted lost"),
            "{row}"
        );
    }

    for row in section(&rows, "control") {
        assert_eq!(row["unit"], "ms", "{row}");
        assert_positive(row);
    }

    let stats: Vec<Value> = section(&rows, "stats").into_iter().cloned().collect();
    for row in &stats {
        match row["value"].as_f64() {
            Some(_) => assert_positive(row),
            // Syscalls are counted only where strace is installed.
            None => assert!(row["note"].as_str().unwrap().contains("strace"), "{row}"),
        }
    }
    // Counts, not times: exact wherever strace could count them.
    let batch = stats
        .iter()
        .find(|r| r["name"] == "bpf() calls per sample, batch reader");
    if let Some(batch) = batch {
        assert_eq!(
            value(batch),
            1.0,
            "one BPF_MAP_LOOKUP_BATCH per sample: {batch}"
        );
        assert_eq!(
            batch["ratio"].as_f64(),
            Some(0.2),
            "the per-key reader makes 5: {batch}"
        );
        // The command's first sample walks every program on the machine
        // to find the interface's maps; programs that other tests load or
        // unload between the 1-sample and the (1+N)-sample run shift the
        // difference by a few calls over N (seen: 0.96, 1.04 with N = 100).
        let command = named(&stats, "xdp-loader stats IF: bpf() calls per sample");
        assert!((value(command) - 1.0).abs() <= 0.1, "{command}");
    }
    // The student's loop: build and load succeeded (a failing step ends
    // the suite), timed in seconds.
    let student = section(&rows, "student loop");
    let edit = named(&rows, "edit -> xdp-loader build -> load --force");
    assert_eq!(edit["unit"], "s", "{edit}");
    assert_positive(edit);
    assert_eq!(
        student.len(),
        1,
        "no cargo row without XDP_BENCH_CARGO_BUILD_S: {student:#?}"
    );
}

#[test]
fn one_program_at_1500_bytes() {
    if !privileged() {
        return;
    }
    let rows = bench_rows(&[
        "bench",
        "xdp_parser_func",
        "--size",
        "1500",
        "--repeat",
        "1000",
    ]);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert!(
        rows[0]["name"].as_str().unwrap().contains("1500 B"),
        "{rows:#?}"
    );
    assert_positive(&rows[0]);
}

#[test]
fn unknown_program_is_a_usage_error() {
    if !privileged() {
        return;
    }
    let run = loader(&["bench", "xdp_no_such_func"]).fails_with(2);
    assert!(run.hint().contains("xdp_parser_func"), "{run:#?}");
    assert_eq!(loader(&["bench", "all", "--size", "100"]).code, 2);
}

fn has_trampolines() -> bool {
    feature_result(&features_json(&[]), "freplace") == "yes"
}

/// `bench dispatcher` needs BPF trampolines: without them (this host) it
/// refuses as `load` of several programs does, having made nothing.
#[test]
fn dispatcher_bench_refuses_without_trampolines() {
    if !privileged() || has_trampolines() {
        return;
    }
    let run = loader(&["bench", "dispatcher", "--repeat", "100"]).fails_with(30);
    assert!(
        run.stderr
            .contains("several XDP programs to one interface: BPF trampolines unavailable"),
        "{run:#?}"
    );
    assert!(run.stdout.is_empty(), "no table without rows: {run:#?}");
}
