//! A program's maps on bpffs: where they are pinned, reusing compatible
//! pins when a program is loaded again (so counters survive a reload), and
//! removing only the pins that belong to the program being unloaded.
//!
//! Layout (the C tutorial's): `/sys/fs/bpf/<IFNAME>/<map name>`, or
//! `--pin-path DIR/<map name>`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use libbpf_rs::query::{ProgInfoIter, ProgInfoQueryOptions};
use libbpf_rs::{AsRawLibbpf, MapCore, MapHandle, OpenObject};

use crate::cli::PinArgs;
use crate::commands::require_root;
use crate::error::{errno_of, errno_text, Exit, Failure};
use crate::iface;
use crate::pin::{self, BPFFS_ROOT};

/// The pin directory for IFNAME: `--pin-path` (which must be on bpffs) or
/// `/sys/fs/bpf/IFNAME` (mounting bpffs there first if needed).
pub fn pin_dir(ifname: &str, pin_path: Option<&Path>) -> Result<PathBuf, Failure> {
    let Some(dir) = pin_path else {
        pin::ensure_bpffs()?;
        return Ok(Path::new(BPFFS_ROOT).join(ifname));
    };
    // `..` could walk out of bpffs after the check below; no need for it.
    if dir
        .components()
        .any(|c| c == std::path::Component::ParentDir)
    {
        return Err(Failure::new(
            Exit::Usage,
            format!("--pin-path {} contains '..'", dir.display()),
        )
        .hint(format!(
            "give the directory plainly, e.g. {BPFFS_ROOT}/mypins"
        )));
    }
    // The directory may not exist yet: its nearest existing ancestor decides
    // (following symlinks, so a link out of bpffs is refused too).
    let on_bpffs = dir
        .ancestors()
        .find(|p| p.exists())
        .is_some_and(pin::is_bpffs);
    if !on_bpffs {
        return Err(Failure::new(
            Exit::Usage,
            format!(
                "--pin-path {} is not on a BPF filesystem (bpffs)",
                dir.display()
            ),
        )
        .hint(format!(
            "pins can only live on bpffs: use a directory under {BPFFS_ROOT}, \
             or mount one: mount -t bpf bpf DIR"
        )));
    }
    Ok(dir.to_path_buf())
}

/// Maps libbpf creates for global variables (.data/.bss/.rodata/.kconfig)
/// belong to one object; only the object's declared maps are pinned.
fn is_internal(map: &libbpf_rs::OpenMap) -> bool {
    // SAFETY: the pointer comes from a live OpenMap.
    unsafe { libbpf_sys::bpf_map__is_internal(map.as_libbpf_object().as_ptr()) }
}

/// What pinning will do for each map of an object about to be loaded.
#[derive(Debug, Default)]
pub struct PinPlan {
    pub dir: PathBuf,
    /// Maps whose existing pin is reused: (name, path).
    pub reused: Vec<(String, PathBuf)>,
    /// Maps that get a new pin at load: (name, path).
    pub created: Vec<(String, PathBuf)>,
}

impl PinPlan {
    /// Removes the pins this load created (when loading or attaching
    /// failed), except those a racing `load` meanwhile reused for a
    /// program that is running: those belong to the winner now. `own` is
    /// the program this load made, if it got that far.
    pub fn undo(&self, own: Option<u32>) {
        if self.created.is_empty() {
            return;
        }
        let in_use = maps_in_use_except(own.as_slice());
        for (_, path) in &self.created {
            if pinned_map(path).is_some_and(|(id, _)| in_use.contains(&id)) {
                continue;
            }
            // remove_pin also drops the directory once it is empty.
            pin::remove_pin(path);
        }
    }

    pub fn report(&self) {
        for (name, path) in &self.reused {
            println!(
                " - reusing pinned map {name} at {} (its contents carry on)",
                path.display()
            );
        }
        for (name, path) in &self.created {
            println!(" - pinned map {name} at {}", path.display());
        }
    }
}

/// Before load: point every declared map at `dir/<name>`. libbpf then
/// reuses a compatible existing pin, or creates the map and pins it. We
/// check compatibility ourselves first, to name the pin in the error.
pub fn plan(open: &mut OpenObject, object: &str, dir: &Path) -> Result<PinPlan, Failure> {
    let mut plan = PinPlan {
        dir: dir.to_path_buf(),
        ..PinPlan::default()
    };
    for mut map in open.maps_mut() {
        if is_internal(&map) {
            continue;
        }
        let name = map.name().to_string_lossy().into_owned();
        let path = dir.join(&name);
        if path.exists() {
            check_compatible(&map, object, &name, &path)?;
            plan.reused.push((name, path.clone()));
        } else {
            plan.created.push((name, path.clone()));
        }
        map.set_pin_path(&path).map_err(|e| {
            Failure::new(
                Exit::Bpf,
                format!("cannot set pin path {}: {e}", path.display()),
            )
        })?;
    }
    Ok(plan)
}

/// The same type, key size, value size and max entries, or a clear error.
fn check_compatible(
    map: &libbpf_rs::OpenMapMut,
    object: &str,
    name: &str,
    path: &Path,
) -> Result<(), Failure> {
    let pinned = MapHandle::from_pinned_path(path).map_err(|e| {
        Failure::new(
            Exit::Bpf,
            format!(
                "{} exists but is not a usable map pin: {}",
                path.display(),
                errno_text(errno_of(&e))
            ),
        )
        .hint(format!("remove it: rm {}", path.display()))
    })?;
    let wanted = (
        map.map_type(),
        map.key_size(),
        map.value_size(),
        map.max_entries(),
    );
    let found = (
        pinned.map_type(),
        pinned.key_size(),
        pinned.value_size(),
        pinned.max_entries(),
    );
    if wanted == found {
        return Ok(());
    }
    let describe = |(t, k, v, e): (libbpf_rs::MapType, u32, u32, u32)| {
        format!("{t:?}, key {k} B, value {v} B, {e} entries")
    };
    Err(Failure::new(
        Exit::Bpf,
        format!("the map pinned at {} does not fit map '{name}' of '{object}'", path.display()),
    )
    .details([
        format!("pinned: {}", describe(found)),
        format!("object: {}", describe(wanted)),
    ])
    .hint(format!(
        "it belongs to an older or different program: remove it (rm {}) or pin elsewhere with --pin-path DIR",
        path.display()
    )))
}

/// Map ids of every loaded program (one pass over the kernel's programs).
pub fn maps_by_program() -> HashMap<u32, Vec<u32>> {
    let opts = ProgInfoQueryOptions::default().include_map_ids(true);
    ProgInfoIter::with_query_opts(opts)
        .map(|info| (info.id, info.map_ids))
        .collect()
}

/// Ids of the maps that loaded programs other than `owners` use.
fn maps_in_use_except(owners: &[u32]) -> HashSet<u32> {
    maps_by_program()
        .into_iter()
        .filter(|(prog, _)| !owners.contains(prog))
        .flat_map(|(_, maps)| maps)
        .collect()
}

/// The map pinned at `path`: its id and name (the pin's, which has all
/// of it; the kernel keeps 15 characters).
fn pinned_map(path: &Path) -> Option<(u32, String)> {
    let map = MapHandle::from_pinned_path(path).ok()?;
    let info = map.info().ok()?;
    let name = path.file_name()?.to_string_lossy().into_owned();
    Some((info.info.id, name))
}

/// Removes the map pins in `dir` that no loaded program uses, other than
/// `owners` (the programs being unloaded/unpinned). A map still used by
/// any other program keeps its pin: it is not ours to remove.
pub fn unpin_owned(dir: &Path, owners: &[u32]) -> Vec<String> {
    let used_by_others = maps_in_use_except(owners);
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let Some((id, name)) = pinned_map(&path) else {
            continue; // not a map pin (or a directory)
        };
        if used_by_others.contains(&id) {
            lines.push(format!(
                " - kept pinned map {name} at {} (used by another program)",
                path.display()
            ));
            continue;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => lines.push(format!(" - unpinned map {name} ({})", path.display())),
            Err(e) => lines.push(format!(" - could not unpin {}: {e}", path.display())),
        }
    }
    // Only succeeds when empty: other pins keep the directory.
    let _ = std::fs::remove_dir(dir);
    lines
}

/// `xdp-loader pin IFNAME`: pins the maps of the program(s) attached there.
pub fn pin_command(args: &PinArgs) -> anyhow::Result<()> {
    require_root("xdp-loader pin")?;
    let iface = iface::resolve(&args.ifname)?;
    let dir = pin_dir(&iface.name, args.pin_path.as_deref())?;
    let owners = attached_ids(&iface)?;
    let users = maps_by_program();
    let mut pinned = 0;
    for map_id in owners
        .iter()
        .flat_map(|p| users.get(p).into_iter().flatten())
    {
        let Ok(mut map) = MapHandle::from_map_id(*map_id) else {
            continue;
        };
        let name = map.name().to_string_lossy().into_owned();
        if name.contains('.') {
            continue; // .data/.bss/.rodata of one object
        }
        let path = dir.join(&name);
        match pinned_map(&path) {
            Some((id, _)) if id == *map_id => {
                println!(" - map {name} is already pinned at {}", path.display());
                continue;
            }
            Some((id, _)) => {
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
            None => {}
        }
        std::fs::create_dir_all(&dir)?;
        map.pin(&path).map_err(|e| {
            Failure::new(
                Exit::Fail,
                format!("cannot pin {name} at {}: {e}", path.display()),
            )
        })?;
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
    for line in unpin_owned(&dir, &owners) {
        println!("{line}");
    }
    Ok(())
}

fn attached_ids(iface: &iface::Interface) -> Result<Vec<u32>, Failure> {
    Ok(iface::attached(iface.index)?
        .iter()
        .map(|a| a.prog_id)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_path_with_dotdot_is_refused() {
        let err = pin_dir("veth0", Some(Path::new("/sys/fs/bpf/x/../../../tmp"))).unwrap_err();
        assert_eq!(err.exit, Exit::Usage);
        assert!(err.message.contains("'..'"), "{}", err.message);
    }

    #[test]
    fn pin_path_outside_bpffs_is_refused() {
        let err = pin_dir("veth0", Some(Path::new("/tmp/not-bpffs/pins"))).unwrap_err();
        assert_eq!(err.exit, Exit::Usage);
        assert!(err.message.contains("not on a BPF filesystem"));
        assert!(err.hint.unwrap().contains("mount -t bpf"));
    }
}
