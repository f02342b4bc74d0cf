//! Grading the lessons' user-space assignments (lessons/<lesson>/user/):
//! the student's program runs against a private network of its own
//! (`net`), and what it prints or writes is compared with the kernel's
//! own state, read here through libbpf-rs: the map values summed by this
//! module, the maps' ids and contents.
//!
//! `grade(lesson, programs)` is the one entry point; `LESSONS` says which
//! programs each lesson takes, in order. Each lesson has a module:
//! `basic03` (stats), `basic04` (loader and reader), `packet03` (redirect
//! maps). `program` runs a student's program and reads its output.

mod basic03;
mod basic04;
mod net;
mod packet03;
mod program;
mod stats;

use std::path::Path;

/// A lesson with user-space assignments, and the programs it grades.
pub struct UserLesson {
    pub name: &'static str,
    /// What each program passed to `grade` is, in order (e.g. "loader").
    pub programs: &'static [&'static str],
    /// The cargo examples built from the starters, in the same order.
    pub starters: &'static [&'static str],
    /// The reference programs (examples/), in the same order.
    pub references: &'static [&'static str],
    grade: fn(&[&Path]) -> Vec<UserCheck>,
}

pub const LESSONS: &[UserLesson] = &[
    UserLesson {
        name: "basic03",
        programs: &["stats reader"],
        starters: &["basic03_user_stats"],
        references: &["basic03_stats"],
        grade: basic03::grade,
    },
    UserLesson {
        name: "basic04",
        programs: &["loader", "stats reader"],
        starters: &["basic04_user_load", "basic04_user_stats"],
        references: &["basic04_load", "basic04_stats"],
        grade: basic04::grade,
    },
    UserLesson {
        name: "packet03",
        programs: &["redirect map filler"],
        starters: &["packet03_user_redirect"],
        references: &["packet03_redirect"],
        grade: packet03::grade,
    },
];

/// One assignment's result: Err says what the program got wrong.
#[derive(Debug)]
pub struct UserCheck {
    pub assignment: &'static str,
    pub result: Result<(), String>,
}

pub fn find(lesson: &str) -> Option<&'static UserLesson> {
    LESSONS.iter().find(|l| l.name == lesson)
}

/// Grades `programs` (executables, as `UserLesson::programs` lists them)
/// for `lesson`. Needs root. Err: no such lesson, or the wrong number of
/// programs; otherwise one `UserCheck` per assignment (a failure to set up
/// the test network shows up as every assignment's error).
pub fn grade(lesson: &str, programs: &[&Path]) -> Result<Vec<UserCheck>, String> {
    let Some(found) = find(lesson) else {
        let names: Vec<&str> = LESSONS.iter().map(|l| l.name).collect();
        return Err(format!(
            "no user-space assignments in lesson '{lesson}' (lessons with them: {})",
            names.join(", ")
        ));
    };
    if programs.len() != found.programs.len() {
        return Err(format!(
            "lesson {lesson} grades {} program(s): {}",
            found.programs.len(),
            found.programs.join(", ")
        ));
    }
    Ok((found.grade)(programs))
}

/// Every assignment of a lesson failed for the same reason (no network).
fn all_failed(assignments: &[&'static str], why: &str) -> Vec<UserCheck> {
    assignments
        .iter()
        .map(|&assignment| UserCheck {
            assignment,
            result: Err(why.to_owned()),
        })
        .collect()
}
