//! A student's loop on one lesson: edit the program, `xdp-loader build`
//! it, `xdp-loader load --force` it, timed end to end, beside the same
//! change made to the built-in (touch src/bpf/xdp_parser.bpf.c, then
//! `cargo build`: build.rs compiles every program again and the binary is
//! relinked). `make bench` times the cargo side, which needs the source
//! tree and the user's toolchain, and hands it over in
//! XDP_BENCH_CARGO_BUILD_S.

use std::path::PathBuf;

use super::control::time;
use super::table::Row;
use super::veth::VethPair;
use super::{check_interrupted, loader_exe, median};
use crate::error::{Exit, Failure};

/// packet01's program, as a student's file: its headers come from the
/// include directory `build` writes, not from the source tree.
const LESSON_SOURCE: &str = include_str!("../bpf/xdp_parser.bpf.c");

/// Seconds of `cargo build` after touching the built-in's source.
const CARGO_TIME_VAR: &str = "XDP_BENCH_CARGO_BUILD_S";

/// The loop's target (issue 16): at most a second.
const TARGET_S: f64 = 1.0;

pub fn measure(runs: u32) -> Result<Vec<Row>, Failure> {
    let pair = VethPair::create("s")?;
    let dir = Scratch::create()?;
    let source = dir.0.join("xdp_parser.bpf.c");
    let object = dir.0.join("xdp_parser.bpf.o");
    let exe = loader_exe()?;
    let (src, obj) = (source.display().to_string(), object.display().to_string());
    let steps = vec![
        vec![exe.clone(), "build".into(), src, "-o".into(), obj.clone()],
        vec![
            exe.clone(),
            "load".into(),
            "--force".into(),
            pair.name.clone(),
            obj,
        ],
    ];
    let mut seconds = Vec::new();
    // Run 0 writes the header cache and warms clang: not counted.
    for run in 0..=runs {
        check_interrupted()?;
        // The edit: new contents each time, so nothing can be reused.
        let edited = format!("{LESSON_SOURCE}\n/* edit {run} */\n");
        let started = std::time::Instant::now();
        std::fs::write(&source, edited).map_err(|e| {
            Failure::new(
                Exit::Fail,
                format!("cannot write {}: {e}", source.display()),
            )
        })?;
        time(&steps)?;
        if run > 0 {
            seconds.push(started.elapsed().as_secs_f64());
        }
    }
    time(&[vec![exe, "unload".into(), pair.name.clone()]])?;

    let ours = median(&seconds);
    let verdict = if ours <= TARGET_S { "met" } else { "NOT met" };
    let mut row = Row::new(
        "student loop",
        "edit -> xdp-loader build -> load --force (packet01)".into(),
        ours,
        "s",
    );
    let cargo = std::env::var(CARGO_TIME_VAR)
        .ok()
        .and_then(|s| s.parse::<f64>().ok());
    row = match cargo {
        Some(cargo) => row
            .versus("cargo build", ours / cargo)
            .note(format!("target <= {TARGET_S} s: {verdict}")),
        None => row.note(format!(
            "target <= {TARGET_S} s: {verdict}; make bench adds the cargo build row"
        )),
    };
    let mut rows = Vec::new();
    if let Some(cargo) = cargo {
        rows.push(
            Row::new(
                "student loop",
                "touch src/bpf/xdp_parser.bpf.c; cargo build (the built-in)".into(),
                cargo,
                "s",
            )
            .note("every built-in program compiled again, the binary relinked"),
        );
    }
    rows.push(row);
    Ok(rows)
}

/// A private directory for the student's file, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn create() -> Result<Scratch, Failure> {
        let dir = std::env::temp_dir().join(format!("xdp-bench-loop-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| {
            Failure::new(Exit::Fail, format!("cannot create {}: {e}", dir.display()))
        })?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
