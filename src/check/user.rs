//! `check LESSON --user PROG[,PROG]`: grades the lesson's user-space
//! assignments (lessons/<lesson>/user/) with `check_user`, which runs the
//! student's programs against a private network and compares what they
//! report with the kernel's own state.

use std::path::Path;

use crate::check_user;
use crate::error::{Exit, Failure};

use super::{finish, print_line, Outcome};

pub fn run(lesson: &str, programs: &str, json: bool) -> anyhow::Result<()> {
    let paths: Vec<&Path> = programs.split(',').map(Path::new).collect();
    let usage = |message: String| -> anyhow::Error {
        let hint = match check_user::find(lesson) {
            Some(found) => format!(
                "give {} program(s), comma-separated, in this order: {} (the starters build as the cargo examples {})",
                found.programs.len(),
                found.programs.join(", "),
                found.starters.join(", ")
            ),
            None => format!(
                "lessons with user-space assignments: {}",
                check_user::LESSONS.iter().map(|l| l.name).collect::<Vec<_>>().join(", ")
            ),
        };
        Failure::new(Exit::Usage, message).hint(hint).into()
    };
    if let Some(missing) = paths.iter().find(|p| !p.is_file()) {
        return Err(usage(format!("no such program: {}", missing.display())));
    }
    crate::commands::require_root("xdp-loader check --user")?;
    // Ctrl-C waits until the programs' test network is gone.
    let deferred = crate::signals::defer_termination();
    let checks = check_user::grade(lesson, &paths).map_err(usage)?;
    drop(deferred);
    let outcomes: Vec<Outcome> = checks
        .into_iter()
        .enumerate()
        .map(|(index, check)| Outcome {
            number: index + 1,
            // The titles carry their number ("1: byte counter ..."); the line adds it.
            title: check
                .assignment
                .split_once(": ")
                .filter(|(n, _)| n.parse::<usize>().is_ok())
                .map_or(check.assignment, |(_, title)| title),
            result: check.result,
        })
        .collect();
    if !json {
        for o in &outcomes {
            print_line(o.number, o.title, &o.result);
        }
    }
    finish(&format!("{lesson} (user space)"), programs, outcomes, json)
}
