//! The `load`, `unload`, `list` and `clean` commands: argument handling and
//! output. The work itself lives in `object`, `attach`, `iface` and `pin`.

use libbpf_rs::query::{LinkInfo, LinkTypeInfo};

use crate::attach::{self, Request};
use crate::builtin::BUILTINS;
use crate::cli::{AttachKind, LoadArgs, Mode, UnloadArgs};
use crate::error::{Exit, Failure, ROOT_HINT};
use crate::features::{self, Feature};
use crate::iface::{self, describe, mode_name};
use crate::maps;
use crate::object::{self, Selection, Source};
use crate::pin;
use crate::signals;

/// Refuses early, with the hint, instead of failing halfway with EPERM.
pub fn require_root(what: &str) -> Result<(), Failure> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(Failure::new(Exit::Fail, format!("{what} needs root")).hint(ROOT_HINT));
    }
    Ok(())
}

pub fn load(args: &LoadArgs) -> anyhow::Result<()> {
    let (ifname, file) = args.target().map_err(|msg| {
        Failure::new(Exit::Usage, msg).hint("usage: xdp-loader load [OPTIONS] IFNAME FILE|BUILTIN")
    })?;
    require_root("xdp-loader load")?;
    let iface = iface::resolve(&ifname)?;
    if args.attach == AttachKind::Link {
        features::require(Feature::XdpLink, "--attach link").map_err(|f| {
            Failure {
                exit: Exit::Xdp,
                ..f
            }
            .hint("leave out --attach link: netlink attach (the default) works on every kernel")
        })?;
    }
    let source = Source::resolve(&file)?;
    let mode = args.effective_mode();
    let selection = Selection {
        prog_name: args.prog_name.as_deref(),
        section: args.section.as_deref(),
    };
    let offload = (mode == Mode::Hw).then_some(iface.index);
    let pin_dir = maps::pin_dir(&iface.name, args.pin_path.as_deref())?;

    // From the first pin to the attachment, a Ctrl-C waits (see signals.rs).
    let _deferred = signals::defer_termination();
    let loaded = object::load(&source, selection, offload, Some(&pin_dir)).map_err(|failure| {
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

    let outcome = attach::attach(&Request {
        iface: &iface,
        prog_fd: loaded.program_fd(),
        mode,
        kind: args.attach,
        force: args.force,
    })
    .inspect_err(|_| loaded.pins.undo(loaded.program_id()))?;

    println!(
        "Success: Loaded BPF-object({}) and used program({})",
        loaded.object_name, loaded.program
    );
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
    if let Some((link_id, path)) = &outcome.link {
        println!(
            " - attached through bpf_link id:{link_id} pinned at {}",
            path.display()
        );
    }
    loaded.pins.report();
    Ok(())
}

pub fn unload(args: &UnloadArgs) -> anyhow::Result<()> {
    require_root("xdp-loader unload")?;
    let iface = iface::resolve(args.ifname())?;
    let attached = iface::attached(iface.index)?;
    if attached.is_empty() {
        return Err(Failure::new(
            Exit::Fail,
            format!("no XDP program is attached to {}", iface.name),
        )
        .hint("see what runs where with: xdp-loader status")
        .into());
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
    let pin_dir = match args.keep_maps {
        false => Some(maps::pin_dir(&iface.name, args.pin_path.as_deref())?),
        true => None,
    };
    // Detaching and unpinning belong together: a Ctrl-C waits for both.
    let _deferred = signals::defer_termination();
    for target in &targets {
        let what = describe(target);
        attach::detach(&iface, target).map_err(|e| attach::explain_detach(&iface, target, e))?;
        println!("Success: Unloaded XDP program {what} from {}", iface.name);
    }
    if let Some(dir) = pin_dir {
        let owners: Vec<u32> = targets.iter().map(|t| t.prog_id).collect();
        for line in maps::unpin_owned(&dir, &owners) {
            println!("{line}");
        }
    }
    Ok(())
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

/// Removes link pins whose link no longer holds an attachment.
pub fn clean() -> anyhow::Result<()> {
    require_root("xdp-loader clean")?;
    let root = std::path::Path::new(pin::BPFFS_ROOT).join("xdp-loader");
    let mut removed = 0;
    for entry in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        let path = entry.path().join("link");
        let Ok(fd) = pin::open_pinned(&path) else {
            continue;
        };
        let attached = matches!(
            LinkInfo::from_fd(std::os::fd::AsFd::as_fd(&fd)).map(|i| i.info),
            Ok(LinkTypeInfo::Xdp(ref x)) if x.ifindex != 0
        );
        if !attached {
            pin::remove_pin(&path);
            println!("Removed stale link pin {}", path.display());
            removed += 1;
        }
    }
    println!(
        "Cleaned up {removed} stale link pin(s) under {}",
        root.display()
    );
    Ok(())
}
