//! `xdp-loader check LESSON [FILE.o]`: grades a lesson's assignments on
//! real traffic, in a private test environment of its own (`lab`).
//!
//! Each lesson family has a module: `basic` (basic02, basic03), `parsing`
//! (packet01), `rewriting` (packet02), `redirecting` (packet03),
//! `map_in_map` (the maps lesson), `tracing` (tracing01), `tracepoints`
//! (tracing02), `printk` (tracing03), `capture` (tracing04). Each
//! lists its assignments' titles (the C tutorial's assignments, as in
//! `lessons/<lesson>/assignments.txt`) and checks one by number, with
//! frames built in `frames`, sent and watched through packet sockets
//! (`wire`): what the program passed, sent back or redirected is seen by
//! the kernel's own sockets, not reported by the program.

mod afxdp;
mod basic;
mod capture;
pub mod frames;
mod lab;
mod map_in_map;
mod parsing;
mod printk;
mod redirecting;
mod rewriting;
mod trace_events;
mod tracepoints;
mod tracing;
mod user;
pub(crate) mod wire;

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

use crate::builtin;
use crate::cli::CheckArgs;
use crate::error::{Exit, Failure};
use crate::object::{self, Loaded, Selection, Source};
use crate::signals;
use lab::Lab;

/// A lesson that has kernel-side assignments.
pub struct Lesson {
    pub name: &'static str,
    /// The built-in reference solution checked when no file is given
    /// (None: the lesson's shape has no built-in; FILE is needed).
    pub builtin: Option<&'static str>,
    /// Titles of assignments 1, 2, ...
    pub assignments: &'static [&'static str],
    check: fn(&Subject, usize) -> Result<(), String>,
}

pub const LESSONS: &[Lesson] = &[
    basic::BASIC02,
    basic::BASIC03,
    parsing::PACKET01,
    rewriting::PACKET02,
    redirecting::PACKET03,
    map_in_map::MAPS,
    tracing::TRACING01,
    tracepoints::TRACING02,
    printk::TRACING03,
    capture::TRACING04,
];

/// Lessons `check` has nothing to grade in, and why.
const NOTHING_TO_CHECK: &[(&str, &str)] = &[
    ("basic01", "its only assignment is following the README"),
    (
        "basic04",
        "its assignments are user space: xdp-loader check basic04 --user LOADER,READER grades them (make check-user in lessons/basic04)",
    ),
];

pub fn find(name: &str) -> Option<&'static Lesson> {
    LESSONS.iter().find(|l| l.name == name)
}

/// The object under test, loaded program by program (each once), and the lab.
pub struct Subject {
    source: Source,
    lab: Lab,
    loaded: RefCell<HashMap<String, Rc<Loaded>>>,
}

impl Subject {
    /// Program `name` of the object, loaded; or why it cannot be.
    fn program(&self, name: &str) -> Result<Rc<Loaded>, String> {
        if let Some(loaded) = self.loaded.borrow().get(name) {
            return Ok(loaded.clone());
        }
        let selection = Selection {
            prog_name: Some(name),
            section: None,
        };
        let loaded =
            object::load(&self.source, selection, None, None).map_err(|f| not_loaded(name, &f))?;
        let loaded = Rc::new(loaded);
        self.loaded
            .borrow_mut()
            .insert(name.to_owned(), loaded.clone());
        Ok(loaded)
    }

    /// Program `name` attached to `tested` (it replaces the one before).
    fn attach(&self, name: &str) -> Result<Rc<Loaded>, String> {
        let loaded = self.program(name)?;
        self.lab
            .attach(lab::Watch::Xdp, loaded.program_fd())
            .map_err(|f| format!("{name} loads but does not attach: {}", f.message))?;
        Ok(loaded)
    }
}

impl Subject {
    /// Sends `frames` and returns those seen at `watch`, waiting for all of them.
    fn expect_all(
        &self,
        frames: &[(u32, Vec<u8>)],
        watch: lab::Watch,
    ) -> Result<HashMap<u32, Vec<u8>>, String> {
        self.lab
            .exchange(frames, watch, frames.len())
            .map_err(|f| f.message)
    }
}

/// "xdp_parser_func does not load: <why> (the verifier's reason)".
fn not_loaded(name: &str, failure: &Failure) -> String {
    let mut text = format!("{name} does not load: {}", failure.message);
    let reason = verifier_reason(&failure.details);
    if !reason.is_empty() {
        text += &format!(" ({})", reason.join("; "));
    }
    text
}

/// The verifier's own words: the last lines of its log that are neither
/// instructions (`6: (69) ...`), source lines (`; ...`) nor its statistics.
fn verifier_reason(log: &[String]) -> Vec<String> {
    let is_reason = |line: &&str| {
        let instruction = line
            .split(':')
            .next()
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        let noise = [
            "processed ",
            "verification time",
            "stack depth",
            ";",
            "verifier log",
            "failed at instruction",
        ];
        !line.is_empty() && !instruction && !noise.iter().any(|n| line.starts_with(n))
    };
    let mut reason: Vec<String> = log
        .iter()
        .rev()
        .map(|l| l.trim())
        .filter(is_reason)
        .take(2)
        .map(str::to_owned)
        .collect();
    reason.reverse();
    reason
}

/// One assignment's result.
pub struct Outcome {
    pub number: usize,
    pub title: &'static str,
    pub result: Result<(), String>,
}

pub fn run(args: &CheckArgs) -> anyhow::Result<()> {
    if let Some(programs) = &args.user {
        return user::run(&args.lesson, programs, args.json);
    }
    if args.lesson == afxdp::NAME {
        crate::commands::require_root("xdp-loader check")?;
        if let Some(path) = &args.file {
            refuse_missing(path)?;
        }
        return afxdp::run(args.file.as_deref(), args.json);
    }
    if let Some((name, why)) = NOTHING_TO_CHECK
        .iter()
        .find(|(name, _)| *name == args.lesson)
    {
        match args.json {
            true => println!(
                "{}",
                serde_json::json!({"lesson": name, "passed": 0, "total": 0, "assignments": [], "note": why})
            ),
            false => println!("{name}: nothing to check: {why}"),
        }
        return Ok(());
    }
    let lesson = find(&args.lesson).ok_or_else(|| {
        Failure::new(
            Exit::Usage,
            format!("no checkable lesson '{}'", args.lesson),
        )
        .hint(format!(
            "check grades: {} (basic01, basic04: nothing it grades)",
            LESSONS
                .iter()
                .map(|l| l.name)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let source = match &args.file {
        Some(path) => Source::File(path.clone()),
        None => match lesson.builtin {
            Some(name) => Source::Builtin(builtin::find(name).expect("a lesson's built-in exists")),
            None => {
                return Err(Failure::new(
                    Exit::Usage,
                    format!(
                        "{} has no built-in solution in the lesson's shape",
                        lesson.name
                    ),
                )
                .hint(format!(
                    "check your object: xdp-loader check {} FILE.o",
                    lesson.name
                ))
                .into())
            }
        },
    };
    if let Source::File(path) = &source {
        refuse_missing(path)?;
    }
    crate::commands::require_root("xdp-loader check")?;

    // Ctrl-C waits until the lab is gone; it stops before the next assignment.
    let deferred = signals::defer_termination();
    let subject = Subject {
        source,
        lab: Lab::create()?,
        loaded: RefCell::default(),
    };
    let mut outcomes = Vec::new();
    for (index, title) in lesson.assignments.iter().enumerate() {
        if signals::termination_pending() {
            break;
        }
        let number = index + 1;
        let result = (lesson.check)(&subject, number);
        if !args.json {
            print_line(number, title, &result);
        }
        outcomes.push(Outcome {
            number,
            title,
            result,
        });
    }
    let object = subject.source.name();
    drop(subject);
    drop(deferred);
    finish(lesson.name, &object, outcomes, args.json)
}

/// After the assignments (each line printed as it was graded): the JSON
/// report or the summary line, and the exit status.
fn finish(lesson: &str, object: &str, outcomes: Vec<Outcome>, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", to_json(lesson, object, &outcomes));
    }
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| o.result.is_err())
        .map(|o| o.number.to_string())
        .collect();
    if failed.is_empty() {
        if !json {
            println!(
                "{lesson}: all {} assignments pass ({object})",
                outcomes.len()
            );
        }
        return Ok(());
    }
    Err(Failure::new(
        Exit::Fail,
        format!(
            "{lesson}: assignment(s) {} of {} fail ({object})",
            failed.join(", "),
            outcomes.len()
        ),
    )
    .hint("each FAIL line says what was expected and what was seen")
    .into())
}

fn refuse_missing(path: &Path) -> Result<(), Failure> {
    if path.is_file() {
        return Ok(());
    }
    Err(Failure::new(Exit::Usage, format!("no such object file: {}", path.display()))
        .hint("build it first (make in the lesson folder, or xdp-loader build FILE.bpf.c), or leave it out to check the built-in solution"))
}

pub fn line(number: usize, title: &str, result: &Result<(), String>) -> String {
    match result {
        Ok(()) => format!("assignment {number}: {title}: PASS"),
        Err(why) => format!("assignment {number}: {title}: FAIL, {why}"),
    }
}

fn print_line(number: usize, title: &str, result: &Result<(), String>) {
    println!("{}", line(number, title, result));
}

fn to_json(lesson: &str, object: &str, outcomes: &[Outcome]) -> serde_json::Value {
    let items: Vec<_> = outcomes
        .iter()
        .map(|o| {
            serde_json::json!({
                "number": o.number,
                "title": o.title,
                "pass": o.result.is_ok(),
                "detail": o.result.as_ref().err(),
            })
        })
        .collect();
    serde_json::json!({
        "lesson": lesson,
        "object": object,
        "passed": outcomes.iter().filter(|o| o.result.is_ok()).count(),
        "total": outcomes.len(),
        "assignments": items,
    })
}

/// A frame to send and whether the program should let it through.
pub struct Probe {
    pub what: String,
    pub frame: Vec<u8>,
    pub pass: bool,
}

/// Attaches `program`, sends the probes, and compares what arrived on
/// `tested` with what should have: passed frames seen, dropped ones not.
fn verdicts(subject: &Subject, program: &str, probes: &[Probe]) -> Result<(), String> {
    subject.attach(program)?;
    let id = |p: &Probe| frames::tag_of(&p.frame).expect("every probe is tagged");
    let frames: Vec<(u32, Vec<u8>)> = probes.iter().map(|p| (id(p), p.frame.clone())).collect();
    let expect = probes.iter().filter(|p| p.pass).count();
    let seen = subject
        .lab
        .exchange(&frames, lab::Watch::Xdp, expect)
        .map_err(|f| format!("the check could not run: {}", f.message))?;
    let wrong: Vec<String> = probes
        .iter()
        .filter(|p| seen.contains_key(&id(p)) != p.pass)
        .map(|p| match p.pass {
            true => format!("{} was dropped", p.what),
            false => format!("{} passed", p.what),
        })
        .collect();
    match wrong.is_empty() {
        true => Ok(()),
        false => Err(wrong.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_say_pass_or_fail_with_why() {
        assert_eq!(line(1, "t", &Ok(())), "assignment 1: t: PASS");
        assert_eq!(
            line(3, "t", &Err("seq 2 passed".into())),
            "assignment 3: t: FAIL, seq 2 passed"
        );
    }

    #[test]
    fn the_verifier_reason_is_its_words_not_its_statistics() {
        let log: Vec<String> = [
            "failed at instruction 6: (69) r1 = *(u16 *)(r7 +12)",
            "verifier log (last 8 lines):",
            "  5: (2d) if r1 > r6 goto pc+3          ; R1=pkt(off=1,r=1)",
            "  ; return eth->h_proto; @ xdp_parser.bpf.c:43",
            "  invalid access to packet, off=12 size=2, R7(id=0,off=12,r=1)",
            "  R7 offset is outside of the packet",
            "  processed 7 insns (limit 1000000) max_states_per_insn 0",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            verifier_reason(&log),
            [
                "invalid access to packet, off=12 size=2, R7(id=0,off=12,r=1)",
                "R7 offset is outside of the packet"
            ]
        );
    }

    #[test]
    fn every_lesson_names_a_builtin() {
        for lesson in LESSONS {
            if let Some(name) = lesson.builtin {
                assert!(builtin::find(name).is_some(), "{}", lesson.name);
            }
            assert!(!lesson.assignments.is_empty());
        }
    }
}
