//! The user-space grader (src/check_user): the reference programs
//! (examples/) pass every assignment, the starters (lessons/*/user/) fail
//! the ones they leave open, and wrong variants fail exactly what they
//! break. Each run uses its own private network (check_user::net).
//!
//! The programs are cargo examples: `cargo test` builds them; running
//! this file alone needs `cargo build --examples` first.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{compile_bpf, example_path, loader, path, privileged};
use xdp_tutorial::check_user::{grade, UserCheck};

/// A shell script wrapping a program: a wrong variant of it.
fn variant(name: &str, script: &str) -> (PathBuf, common::RemoveOnDrop) {
    let dir = std::env::temp_dir().join(format!("xdp-check-user-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let remove = common::RemoveOnDrop(path.to_str().unwrap().to_owned());
    (path, remove)
}

/// Which assignments passed, in order.
fn passed(lesson: &str, programs: &[&Path]) -> Vec<bool> {
    let checks: Vec<UserCheck> = grade(lesson, programs).expect("a known lesson");
    eprintln!("{lesson} {programs:?}:\n{checks:#?}");
    checks.iter().map(|c| c.result.is_ok()).collect()
}

#[test]
fn unknown_lessons_and_wrong_program_counts_are_refused() {
    let err = grade("basic02", &[Path::new("/bin/true")]).unwrap_err();
    assert!(err.contains("basic03, basic04, packet03"), "{err}");
    let err = grade("basic04", &[Path::new("/bin/true")]).unwrap_err();
    assert!(err.contains("loader, stats reader"), "{err}");
}

#[test]
fn basic03_reference_passes_starter_and_variants_fail() {
    if !common::privileged() {
        return;
    }
    let reference = example_path("basic03_stats");
    assert_eq!(passed("basic03", &[&reference]), [true, true, true]);
    // The starter: CPU 0 only, XDP_PASS only, no bytes.
    assert_eq!(
        passed("basic03", &[&example_path("basic03_user_stats")]),
        [false, false, false]
    );
    // Wrong bytes only (a 1 in front of each byte count).
    let (wrong_bytes, _rm) = variant(
        "basic03-bytes",
        &format!(
            "{} \"$@\" | sed -u 's/ \\([0-9]*\\) bytes$/ 1\\1 bytes/'",
            reference.display()
        ),
    );
    assert_eq!(passed("basic03", &[&wrong_bytes]), [false, true, true]);
    // XDP_TX's line left out.
    let (no_tx, _rm) = variant(
        "basic03-no-tx",
        &format!("{} \"$@\" | sed -u '/^XDP_TX /d'", reference.display()),
    );
    assert_eq!(passed("basic03", &[&no_tx]), [true, false, true]);
}

#[test]
fn basic04_loader_and_reader_are_graded_each_on_its_own() {
    if !common::privileged() {
        return;
    }
    let (load, stats) = (example_path("basic04_load"), example_path("basic04_stats"));
    let (user_load, user_stats) = (
        example_path("basic04_user_load"),
        example_path("basic04_user_stats"),
    );
    // [reader follows the map id, loader reuses the pin]
    assert_eq!(passed("basic04", &[&load, &stats]), [true, true]);
    assert_eq!(
        passed("basic04", &[&user_load, &user_stats]),
        [false, false]
    );
    assert_eq!(passed("basic04", &[&load, &user_stats]), [false, true]);
    assert_eq!(passed("basic04", &[&user_load, &stats]), [true, false]);
}

#[test]
fn packet03_reference_passes_starter_and_swapped_macs_fail() {
    if !common::privileged() {
        return;
    }
    let reference = example_path("packet03_redirect");
    assert_eq!(passed("packet03", &[&reference]), [true, true]);
    // The starter: parse_mac not written, maps not filled.
    assert_eq!(
        passed("packet03", &[&example_path("packet03_user_redirect")]),
        [false, false]
    );
    // Source and destination MAC swapped: parsing fine, the map wrong.
    let (swapped, _rm) = variant(
        "packet03-swapped",
        &format!(
            "exec {} \"$1\" \"$2\" \"$3\" \"$4\" \"$5\" \"$8\" \"$7\" \"$6\"",
            reference.display()
        ),
    );
    assert_eq!(passed("packet03", &[&swapped]), [true, false]);
}

/// The same grading through the command line: `check LESSON --user PROG`,
/// one line per assignment, exit 1 on any FAIL, usage errors exit 2.
#[test]
fn check_command_grades_user_space_programs() {
    if !privileged() {
        return;
    }
    let reference = example_path("basic03_stats");
    let starter = example_path("basic03_user_stats");
    let run = loader(&["check", "basic03", "--user", path(&reference)]).ok();
    assert_eq!(run.stdout.matches(": PASS").count(), 3, "{run:#?}");
    let run = loader(&["check", "basic03", "--user", path(&starter), "--json"]);
    assert_eq!(run.code, 1, "{run:#?}");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["passed"], 0, "{report:#}");
    assert_eq!(report["total"], 3, "{report:#}");
    // basic04 takes the loader and the reader.
    let run = loader(&["check", "basic04", "--user", path(&reference)]).fails_with(2);
    assert!(run.hint().contains("loader, stats reader"), "{run:#?}");
    loader(&["check", "basic03", "--user", "/nonexistent/prog"]).fails_with(2);
}

/// advanced03's kernel-side assignment through `check`: the built-in
/// passes; a program that passes everything fails it.
#[test]
fn check_advanced03_grades_the_every_other_program() {
    if !privileged() {
        return;
    }
    let run = loader(&["check", "advanced03"]).ok();
    assert!(
        run.stdout.contains("assignment 2: ") && run.stdout.contains(": PASS"),
        "{run:#?}"
    );
    let pass_all = compile_bpf(
        "afxdp_pass_all",
        "#define SEC(n) __attribute__((section(n), used))\nstruct xdp_md;\n\
         SEC(\"xdp\") int xdp_sock_prog(struct xdp_md *ctx) { return 2; }\n\
         char LICENSE[] SEC(\"license\") = \"GPL\";\n",
    );
    let run = loader(&["check", "advanced03", path(&pass_all)]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stdout.contains("assignment 2: ") && run.stdout.contains("FAIL"),
        "{run:#?}"
    );
}
