//! `xdp-loader pin IFNAME` and `unpin IFNAME`: the maps of a program
//! attached by any tool, found through its map ids.

use std::os::fd::{AsFd, AsRawFd};

use libbpf_rs::{MapCore, MapHandle};

use super::{maps_by_program, maps_of, pin_dir, unpin_maps_of, Unpin};
use crate::cli::PinArgs;
use crate::commands::require_root;
use crate::error::{Exit, Failure};
use crate::iface;
use crate::ownership::{self, Entry, Record};
use crate::pin;

/// `xdp-loader pin IFNAME`: pins the maps of the program(s) attached there.
pub fn pin_command(args: &PinArgs) -> anyhow::Result<()> {
    require_root("xdp-loader pin")?;
    let iface = iface::resolve(&args.ifname)?;
    let dir = pin_dir(&iface.name, args.pin_path.as_deref())?;
    let owners = attached_ids(&iface)?;
    let users = maps_by_program();
    let lock = ownership::lock()?;
    let mut record = Record::read(&lock);
    let mut pinned = 0;
    for map_id in owners
        .iter()
        .flat_map(|p| users.get(p).into_iter().flatten())
    {
        let Ok(map) = MapHandle::from_map_id(*map_id) else {
            continue;
        };
        let name = map.name().to_string_lossy().into_owned();
        if name.contains('.') {
            continue; // .data/.bss/.rodata of one object
        }
        let path = dir.join(&name);
        match pin::pinned_map_id(&path) {
            Some(id) if id == *map_id => {
                println!(" - map {name} is already pinned at {}", path.display());
                continue;
            }
            Some(id) => {
                return Err(Failure::new(
                    Exit::Fail,
                    format!(
                        "{} already pins another map (id {id}), not {name} (id {map_id})",
                        path.display()
                    ),
                )
                .hint(format!(
                    "remove the old pin first: xdp-loader unpin {} (or rm it)",
                    iface.name
                ))
                .into());
            }
            None if path.exists() => {
                return Err(Failure::new(
                    Exit::Fail,
                    format!("{} exists and is not a map pin", path.display()),
                )
                .hint("it is not xdp-loader's: pin elsewhere with -p DIR")
                .into());
            }
            None => {}
        }
        // Recorded before it is pinned (see ownership.rs).
        record.add(Entry {
            map_id: *map_id,
            prog_id: *owners.first().unwrap_or(&0),
            pid: std::process::id(),
            ifname: iface.name.clone(),
            path: path.clone(),
        });
        record.write(&lock)?;
        std::fs::create_dir_all(&dir)?;
        pin::pin_fd(map.as_fd().as_raw_fd(), &path)?;
        println!(" - pinned map {name} (id {map_id}) at {}", path.display());
        pinned += 1;
    }
    println!(
        "Success: {pinned} map(s) of the program on {} pinned in {}",
        iface.name,
        dir.display()
    );
    Ok(())
}

/// `xdp-loader unpin IFNAME`: removes the pins of that program's maps.
pub fn unpin_command(args: &PinArgs) -> anyhow::Result<()> {
    require_root("xdp-loader unpin")?;
    let iface = iface::resolve(&args.ifname)?;
    let dir = pin_dir(&iface.name, args.pin_path.as_deref())?;
    if !dir.is_dir() {
        return Err(Failure::new(
            Exit::Fail,
            format!("nothing is pinned in {}", dir.display()),
        )
        .hint("see the pins with: bpftool map show pinned")
        .into());
    }
    let owners = attached_ids(&iface)?;
    for line in unpin_maps_of(&dir, &owners, &maps_of(&owners), Unpin::All)? {
        println!("{line}");
    }
    Ok(())
}

/// The programs on `iface`, with those in a dispatcher's slots.
fn attached_ids(iface: &iface::Interface) -> Result<Vec<u32>, Failure> {
    let ids = iface::attached(iface.index)?
        .iter()
        .map(|a| a.prog_id)
        .collect();
    Ok(crate::dispatcher::with_components(iface.index, ids))
}
