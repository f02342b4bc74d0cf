//! The `load`, `unload`, `list` and `clean` commands: argument handling and
//! output. The work itself lives in `object`, `attach`, `iface` and `pin`.

use crate::attach::{self, Request};
use crate::builtin::BUILTINS;
use crate::cli::{AttachKind, CleanArgs, LoadArgs, Mode, UnloadArgs};
use crate::dispatcher;
use crate::error::{Exit, Failure};
use crate::features::{self, Feature};
use crate::iface::{self, describe, mode_name};
use crate::leftovers::{self, Leftover};
use crate::loaded;
use crate::maps::{self, Unpin};
use crate::multiprog;
use crate::object::{self, Selection, Source};
use crate::ownership::{self, Record};
use crate::privilege;
use crate::signals;

/// Refuses early, naming the missing capabilities, unless the process holds
/// what root holds for BPF and XDP (CAP_SYS_ADMIN and CAP_NET_ADMIN; not
/// euid 0 as such). Commands that need less call `privilege::require`.
pub fn require_root(what: &str) -> Result<(), Failure> {
    privilege::require(what, privilege::BPF_AND_NET)
}

pub fn load(args: &LoadArgs) -> anyhow::Result<()> {
    let (ifname, files) = args.target().map_err(|msg| {
        Failure::new(Exit::Usage, msg)
            .hint("usage: xdp-loader load [OPTIONS] IFNAME FILE|BUILTIN [FILE|BUILTIN ...]")
    })?;
    require_root("xdp-loader load")?;
    let iface = iface::resolve(&ifname)?;
    if let [file] = files.as_slice() {
        if let Some(named) = loaded::Named::parse(file) {
            return attach_loaded(args, &iface, &named?);
        }
    } else if let Some(file) = files.iter().find(|f| loaded::Named::parse(f).is_some()) {
        return Err(Failure::new(
            Exit::Usage,
            format!("'{file}' is a program already loaded: it attaches alone, not with others"),
        )
        .hint("a dispatcher loads each of its programs from an object file (FILE or BUILTIN)")
        .into());
    }
    if multiprog::wants_dispatcher(args, &iface, &files)? {
        return Ok(multiprog::load(args, &iface, &files)?);
    }
    let file = &files[0];
    let source = Source::resolve(file)?;
    let mode = args.effective_mode();
    let selection = Selection {
        prog_name: args.prog_name_at(0),
        section: args.section_at(0),
    };
    let offload = (mode == Mode::Hw).then_some(iface.index);
    let pin_dir = maps::pin_dir(&iface.name, args.pin_path.as_deref())?;

    // From the first pin to the attachment, a Ctrl-C waits (see signals.rs).
    let _deferred = signals::defer_termination();
    let pin_to = maps::PinTo {
        ifname: &iface.name,
        dir: &pin_dir,
    };
    let loaded = object::load(&source, selection, offload, Some(pin_to)).map_err(|failure| {
        // A device that cannot offload refuses the program already at load.
        if offload.is_some() && failure.message.starts_with("cannot load") {
            return Failure::new(
                Exit::Xdp,
                format!("{ifname} cannot offload XDP programs to hardware (-m hw)"),
            )
            .details(failure.details)
            .hint("only offload-capable NICs support hw mode: use -m native, or -m skb");
        }
        failure
    })?;
    for note in &loaded.notes {
        eprintln!("Note: {note}");
    }

    // The tc partner goes first: every packet XDP marks then meets it.
    let tc = match loaded.tc_program() {
        Some((name, fd)) => {
            attach::tc::attach_ingress(&iface, fd, args.force)
                .inspect_err(|_| loaded.pins.undo())?;
            Some(name)
        }
        None => None,
    };
    let outcome = attach::attach(&Request {
        iface: &iface,
        prog_fd: loaded.program_fd(),
        mode,
        kind: args.attach,
        force: args.force,
    })
    .map_err(|failure| name_missing_link(args.attach, failure))
    .inspect_err(|_| {
        if tc.is_some() {
            let _ = attach::tc::detach_ingress(&iface);
        }
        loaded.pins.undo()
    })?;

    println!(
        "Success: Loaded BPF-object({}) and used program({})",
        loaded.object_name, loaded.program
    );
    print_attached(&outcome, &iface, tc.as_deref());
    loaded.pins.report();
    Ok(())
}

/// `load IFNAME id:N` and `load IFNAME PATH`: attaches a program that is
/// already loaded. Its maps stay as they are: they are not this tool's.
fn attach_loaded(
    args: &LoadArgs,
    iface: &iface::Interface,
    named: &loaded::Named,
) -> anyhow::Result<()> {
    let options = [
        ("-n/--prog-name", !args.prog_name.is_empty()),
        ("-s/--section", !args.section.is_empty()),
        ("-p/--pin-path", args.pin_path.is_some()),
    ];
    if let Some((option, _)) = options.iter().find(|(_, given)| *given) {
        return Err(Failure::new(
            Exit::Usage,
            format!("{option} does not apply to a program that is already loaded"),
        )
        .hint(format!(
            "the program and its maps stay as they are; `xdp-loader pin {}` pins the maps once it is attached",
            iface.name
        ))
        .into());
    }
    let program = loaded::open(named)?;
    let _deferred = signals::defer_termination();
    let outcome = attach::attach(&Request {
        iface,
        prog_fd: program.fd(),
        mode: args.effective_mode(),
        kind: args.attach,
        force: args.force,
    })
    .map_err(|failure| name_missing_link(args.attach, failure))?;
    println!(
        "Success: attached loaded program({}) id:{}",
        program.name, outcome.prog_id
    );
    print_attached(&outcome, iface, None);
    Ok(())
}

/// The lines under `Success:` that say where the program (and its tc
/// partner, named by `tc`) now runs.
fn print_attached(outcome: &attach::Outcome, iface: &iface::Interface, tc: Option<&str>) {
    println!(
        " - XDP prog id:{} attached on device:{}(ifindex:{}) in {} mode",
        outcome.prog_id,
        iface.name,
        iface.index,
        mode_name(outcome.mode)
    );
    for old in &outcome.replaced {
        println!(" - replaced {old}");
    }
    if let Some(name) = tc {
        println!(
            " - tc ingress program({name}) id:{} attached on device:{} (clsact, handle {:#x} pref {})",
            attach::tc::ingress_prog_id(iface).unwrap_or_default(),
            iface.name,
            attach::tc::HANDLE,
            attach::tc::PRIORITY
        );
    }
    if let Some((link_id, path)) = &outcome.link {
        println!(
            " - attached through bpf_link id:{link_id} pinned at {}",
            path.display()
        );
    }
}

/// A refused `--attach link` on a kernel without XDP bpf_links (before
/// 5.9) names that feature. Probed only after a failure: the probe builds
/// a network namespace, which would add ~90 ms to every load.
fn name_missing_link(kind: AttachKind, failure: Failure) -> Failure {
    if kind != AttachKind::Link {
        return failure;
    }
    match features::require(Feature::XdpLink, "--attach link") {
        Ok(()) => failure,
        Err(missing) => Failure {
            exit: Exit::Xdp,
            ..missing
        }
        .hint("leave out --attach link: netlink attach (the default) works on every kernel"),
    }
}

pub fn unload(args: &UnloadArgs) -> anyhow::Result<()> {
    require_root("xdp-loader unload")?;
    let iface = iface::resolve(args.ifname())?;
    if multiprog::unload(args, &iface)?.is_some() {
        return Ok(());
    }
    // Held from before looking until the pins are gone: a `load` or
    // `clean` meanwhile would see half of the change.
    let lock = ownership::lock()?;
    let attached = iface::attached(iface.index)?;
    if attached.is_empty() {
        return Err(nothing_attached(&iface.name, &lock).into());
    }
    let listing = || attached.iter().map(describe);
    let targets: Vec<_> = match args.id {
        Some(id) => {
            let Some(found) = attached.iter().find(|a| a.prog_id == id) else {
                return Err(Failure::new(
                    Exit::Fail,
                    format!(
                        "program id {id} is not attached to {}; attached there:",
                        iface.name
                    ),
                )
                .details(listing())
                .hint(format!(
                    "to remove it anyway: xdp-loader unload {} --all",
                    iface.name
                ))
                .into());
            };
            vec![found.clone()]
        }
        None if args.all || attached.len() == 1 => attached.clone(),
        None => {
            return Err(Failure::new(
                Exit::Usage,
                format!(
                    "{} has {} XDP programs attached:",
                    iface.name,
                    attached.len()
                ),
            )
            .details(listing())
            .hint("say which with --id ID, or remove them all with --all")
            .into());
        }
    };
    // Checked before detaching, so a bad --pin-path changes nothing.
    let pin_dir = maps::pin_dir(&iface.name, args.pin_path.as_deref())?;
    // Detaching and unpinning belong together: a Ctrl-C waits for both.
    let _deferred = signals::defer_termination();
    let owners: Vec<u32> = targets.iter().map(|t| t.prog_id).collect();
    // Asked before detaching: a detached program may be gone at once.
    let their_maps = maps::maps_of(&owners);
    // A tc ingress partner loaded with these programs (it shares a map
    // with them) comes off with them; another's filter stays.
    let tc_partner = attach::tc::ingress_prog_id(&iface)
        .filter(|id| !maps::maps_of(&[*id]).is_disjoint(&their_maps));
    for target in &targets {
        let what = describe(target);
        attach::detach(&iface, target).map_err(|e| attach::explain_detach(&iface, target, e))?;
        println!("Success: Unloaded XDP program {what} from {}", iface.name);
    }
    if let Some(id) = tc_partner {
        attach::tc::detach_ingress(&iface)?;
        println!(
            "Success: Removed tc ingress program {} (id {id}) from {} (the clsact qdisc stays)",
            iface::prog_summary(id).name,
            iface.name
        );
    }
    let how = match args.keep_maps {
        false => Unpin::Ours,
        true => Unpin::HandOver,
    };
    // The partner's share of the maps goes with the programs it came with.
    let owners: Vec<u32> = owners.into_iter().chain(tc_partner).collect();
    for line in maps::unpin_maps_of(&pin_dir, &owners, &their_maps, how)? {
        println!("{line}");
    }
    Ok(())
}

/// `unload` with no program attached: the leftovers of an interrupted
/// run, if there are any, are the likely reason; `clean IFNAME` removes them.
fn nothing_attached(ifname: &str, lock: &ownership::Lock) -> Failure {
    let found: Vec<_> = leftovers::survey(Some(ifname), &Record::read(lock))
        .into_iter()
        .filter(Leftover::is_removed)
        .collect();
    let failure = Failure::new(
        Exit::Fail,
        format!("no XDP program is attached to {ifname}"),
    );
    if found.is_empty() {
        return failure.hint("see what runs where with: xdp-loader status");
    }
    failure
        .details(std::iter::once(format!(
            "{} leftover(s) of xdp-loader remain for it, their program gone (an interrupted run?):",
            found.len()
        )))
        .details(found.iter().map(|l| format!("  {}", l.describe())))
        .hint(format!("remove them with: xdp-loader clean {ifname}"))
}

pub fn list() -> anyhow::Result<()> {
    for builtin in BUILTINS {
        let open = Source::Builtin(builtin).open()?;
        let programs: Vec<String> = object::programs(&open)
            .into_iter()
            .map(|p| p.name)
            .collect();
        let maps = object::map_names(&open);
        println!("{} ({})", builtin.name, builtin.lesson);
        println!("    {}", builtin.description);
        println!("    programs: {}", programs.join(", "));
        println!(
            "    maps:     {}",
            if maps.is_empty() {
                "-".to_string()
            } else {
                maps.join(", ")
            }
        );
    }
    Ok(())
}

/// Removes the pins of dispatchers (ours or libxdp's) that run nowhere.
/// An IFNAME that no longer exists has no ifindex: nothing of it is known.
fn clean_dispatchers(ifname: Option<&str>) -> Result<usize, Failure> {
    let only = match ifname {
        Some(name) => match iface::resolve(name) {
            Ok(found) => Some(found.index),
            Err(_) => return Ok(0),
        },
        None => None,
    };
    if !dispatcher::pins::root().is_dir() {
        return Ok(0);
    }
    let _lock = dispatcher::pins::lock()?;
    let stale = dispatcher::stale::survey(only);
    for found in &stale {
        dispatcher::pins::remove_all(&found.dir);
        println!("Removed stale dispatcher pins {}", found.describe());
    }
    Ok(stale.len())
}

/// `clean [IFNAME]`: removes the leftovers of interrupted runs (see
/// leftovers.rs), of one interface or of all, and names each.
pub fn clean(args: &CleanArgs) -> anyhow::Result<()> {
    require_root("xdp-loader clean")?;
    let ifname = args.ifname.as_deref();
    let lock = ownership::lock()?;
    let mut record = Record::read(&lock);
    let (lines, mut removed) = leftovers::reclaim_all(ifname, &mut record);
    for line in lines {
        println!("{line}");
    }
    removed += clean_dispatchers(ifname)?;
    record.write(&lock)?;
    let scope = match ifname {
        Some(name) => format!("of {name}"),
        None => "of any interface".to_string(),
    };
    println!("Cleaned up {removed} leftover(s) {scope}");
    Ok(())
}
