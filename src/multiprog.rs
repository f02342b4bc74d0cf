//! The `load` and `unload` commands when several programs share an
//! interface: which path a command takes, and its output. The work is in
//! `dispatcher`.

use crate::cli::{LoadArgs, UnloadArgs};
use crate::dispatcher::{self, run_config, Change, Outcome, Request, Seen};
use crate::error::{Exit, Failure};
use crate::iface::{mode_name, Interface};

/// Does this `load` go through a dispatcher? Several files do; one file
/// does with `--multi` or when the interface already runs a dispatcher
/// (it is added there, never replacing the programs already in it).
pub fn wants_dispatcher(
    args: &LoadArgs,
    iface: &Interface,
    files: &[String],
) -> Result<bool, Failure> {
    // A typo is a usage error before anything else is looked at.
    actions(args)?;
    if files.len() > 1 {
        dispatcher::require_trampolines()?;
        return Ok(true);
    }
    if matches!(
        dispatcher::current(iface)?,
        Some((_, Seen::Dispatcher(_) | Seen::Unusable { .. }))
    ) {
        return Ok(true);
    }
    if args.multi {
        if let Err(refusal) = dispatcher::require_trampolines() {
            eprintln!(
                "Note: {}; attaching the program directly (--multi needs them)",
                refusal.message
            );
            return Ok(false);
        }
        return Ok(true);
    }
    Ok(false)
}

fn actions(args: &LoadArgs) -> Result<Option<u32>, Failure> {
    args.actions
        .as_deref()
        .map(run_config::parse_actions)
        .transpose()
        .map_err(|msg| {
            Failure::new(Exit::Usage, msg).hint("e.g. --actions pass,drop (XDP_ prefix optional)")
        })
}

pub fn load(args: &LoadArgs, iface: &Interface, files: &[String]) -> Result<(), Failure> {
    let actions = actions(args)?;
    let requests: Vec<Request> = files
        .iter()
        .enumerate()
        .map(|(i, file)| Request {
            file: file.clone(),
            prog_name: args.prog_name_at(i).map(str::to_string),
            section: args.section_at(i).map(str::to_string),
            priority: args.prio,
            actions,
        })
        .collect();
    let outcome = dispatcher::change(&Change {
        iface,
        mode: args.effective_mode(),
        add: &requests,
        remove: &[],
        force: args.force,
    })?;
    report(iface, &outcome);
    Ok(())
}

/// `unload` on an interface that runs a dispatcher. None: it does not.
pub fn unload(args: &UnloadArgs, iface: &Interface) -> Result<Option<()>, Failure> {
    let Some((attached, seen)) = dispatcher::current(iface)? else {
        return Ok(None);
    };
    let found = match seen {
        Seen::Plain => return Ok(None),
        Seen::Unusable { id, why } => {
            if !args.all {
                return Err(Failure::new(
                    Exit::Xdp,
                    format!(
                        "the dispatcher (id {id}) on {} cannot be changed: {why}",
                        iface.name
                    ),
                )
                .hint("--all takes it off with every program in it"));
            }
            crate::attach::detach(iface, &attached)
                .map_err(|e| crate::attach::explain_detach(iface, &attached, e))?;
            let dir = dispatcher::pins::dir(iface.index, id);
            dispatcher::pins::remove_all(&dir);
            println!(
                "Success: Unloaded the dispatcher (id {id}) and every program in it from {}; removed {}",
                iface.name,
                dir.display()
            );
            return Ok(Some(()));
        }
        Seen::Dispatcher(found) => found,
    };
    let all: Vec<u32> = found.components.iter().map(|c| c.id).collect();
    let remove = match args.id {
        Some(id) if id == found.id => all,
        Some(id) => vec![id],
        None if args.all || all.len() <= 1 => all,
        None => {
            return Err(Failure::new(
                Exit::Usage,
                format!(
                    "{} runs {} programs through a dispatcher (id {}):",
                    iface.name,
                    all.len(),
                    found.id
                ),
            )
            .details(found.components.iter().map(|c| {
                format!(
                    "{} (id {}, priority {}, chain on {})",
                    c.name,
                    c.id,
                    c.run.priority,
                    run_config::describe_actions(c.run.actions)
                )
            }))
            .hint("say which with --id ID, or remove them all with --all"));
        }
    };
    let old_dir = found.pin_dir.clone();
    drop(found);
    let outcome = dispatcher::change(&Change {
        iface,
        mode: attached.mode,
        add: &[],
        remove: &remove,
        force: false,
    })?;
    for gone in &outcome.removed {
        println!("Success: Unloaded {gone} from {}", iface.name);
    }
    if outcome.dispatcher.is_none() {
        println!(
            " - the dispatcher went with its last program; removed {}",
            old_dir.display()
        );
    } else {
        report(
            iface,
            &Outcome {
                removed: Vec::new(),
                ..outcome
            },
        );
    }
    Ok(Some(()))
}

fn report(iface: &Interface, outcome: &Outcome) {
    for note in &outcome.notes {
        eprintln!("Note: {note}");
    }
    let Some((id, mode)) = outcome.dispatcher else {
        return;
    };
    println!(
        "Success: dispatcher id:{id} on device:{}(ifindex:{}) in {} mode runs {} program(s):",
        iface.name,
        iface.index,
        mode_name(mode),
        outcome.slots.len()
    );
    for slot in &outcome.slots {
        println!(
            " - {} (id {}) priority {} chain on {}",
            slot.name,
            slot.id,
            slot.run.priority,
            run_config::describe_actions(slot.run.actions)
        );
    }
    for old in &outcome.removed {
        println!(" - replaced {old}");
    }
    println!(
        " - pinned under {}",
        dispatcher::pins::dir(iface.index, id).display()
    );
}
