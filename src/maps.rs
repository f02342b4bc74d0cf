//! A program's maps on bpffs: where they are pinned, reusing compatible
//! pins when a program is loaded again (so counters survive a reload), and
//! removing only the pins that belong to the program being unloaded.
//!
//! Layout (the C tutorial's): `/sys/fs/bpf/<IFNAME>/<map name>`, or
//! `--pin-path DIR/<map name>`.

use std::collections::{HashMap, HashSet};
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};

use libbpf_rs::query::{ProgInfoIter, ProgInfoQueryOptions};
use libbpf_rs::{AsRawLibbpf, MapCore, MapHandle, Object, OpenObject};

use crate::cli::PinArgs;
use crate::commands::require_root;
use crate::error::{errno_of, errno_text, Exit, Failure};
use crate::iface;
use crate::ownership::{self, Entry, Lock, Record};
use crate::pin::{self, BPFFS_ROOT};

/// The pin directory for IFNAME: `--pin-path` (which must be on bpffs) or
/// `/sys/fs/bpf/IFNAME` (mounting bpffs there first if needed).
pub fn pin_dir(ifname: &str, pin_path: Option<&Path>) -> Result<PathBuf, Failure> {
    let Some(dir) = pin_path else {
        pin::ensure_bpffs()?;
        return Ok(pin::default_dir(ifname));
    };
    // The record of pins keeps one path per line.
    if dir.as_os_str().as_encoded_bytes().contains(&b'\n') {
        return Err(Failure::new(
            Exit::Usage,
            format!("--pin-path {dir:?} contains a line break"),
        ));
    }
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
    let existing = dir.ancestors().find(|p| p.exists());
    let on_bpffs = existing.is_some_and(pin::is_bpffs);
    // bpffs refuses names with a '.' (EPERM): the part still to be made
    // must do without.
    let to_make = existing.and_then(|e| dir.strip_prefix(e).ok());
    if let Some(dotted) = to_make
        .into_iter()
        .flat_map(|tail| tail.components())
        .find(|c| c.as_os_str().as_encoded_bytes().contains(&b'.'))
    {
        if on_bpffs {
            return Err(Failure::new(
                Exit::Usage,
                format!(
                    "--pin-path {}: bpffs does not allow '.' in names ('{}')",
                    dir.display(),
                    dotted.as_os_str().to_string_lossy()
                ),
            )
            .hint("name the directory without dots, e.g. with '_' or '-'"));
        }
    }
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

/// A map name from an object becomes a file name in the pin directory: it
/// must stay one file there. `/` and `..` would walk out of the directory,
/// and bpffs refuses any name with a `.` (EPERM).
fn check_map_name(name: &str, object: &str) -> Result<(), Failure> {
    let why = if name.is_empty() {
        "it is empty"
    } else if name.contains('/') {
        "its name contains '/'"
    } else if name.contains("..") {
        "its name contains '..'"
    } else if name.contains('.') {
        "its name contains '.', which bpffs does not allow in names"
    } else {
        return Ok(());
    };
    Err(Failure::new(
        Exit::Usage,
        format!("map '{name}' of '{object}' cannot be pinned: {why}"),
    )
    .hint("a map is pinned as a file named after it: rename the map in the program's source"))
}

/// Where a load pins its maps, and for which interface (the record says).
#[derive(Debug, Clone, Copy)]
pub struct PinTo<'a> {
    pub ifname: &'a str,
    pub dir: &'a Path,
}

/// What pinning will do for each map of an object about to be loaded.
#[derive(Debug, Default)]
pub struct PinPlan {
    pub dir: PathBuf,
    ifname: String,
    /// Maps whose existing pin is reused: (name, path).
    pub reused: Vec<(String, PathBuf)>,
    /// Maps that get a new pin at load: (name, path).
    pub created: Vec<(String, PathBuf)>,
    /// Held from planning until the plan is dropped, so `clean` never
    /// sees the pins of a load that has not attached yet.
    lock: Option<Lock>,
}

impl PinPlan {
    /// After the object is loaded: records the new maps as ours, then pins
    /// them (record first: a kill in between leaves a record without a
    /// pin, never a pin nobody knows is ours). A reused pin of ours now
    /// serves `prog_id`.
    pub fn pin_created(&self, object: &Object, prog_id: u32) -> Result<(), Failure> {
        let Some(lock) = &self.lock else {
            return Ok(());
        };
        let mut record = Record::read(lock);
        // Lines whose pins someone removed (rm -r, a test's cleanup) would
        // pile up. No load is half-done while we hold the lock, so this
        // interface's lines without their pin are stale, and so are any
        // whose directory is gone. (`clean` reports the rest.)
        record.entries.retain(|e| match e.ifname == self.ifname {
            true => e.still_ours(),
            false => e.path.parent().is_some_and(Path::exists),
        });
        let mut to_pin = Vec::new();
        for (name, path) in &self.created {
            let map = object
                .maps()
                .find(|m| m.name().to_string_lossy() == *name)
                .ok_or_else(|| Failure::new(Exit::Bpf, format!("map '{name}' was not loaded")))?;
            let map_id = map
                .info()
                .map_err(|e| Failure::new(Exit::Bpf, format!("map '{name}' has no id: {e}")))?
                .info
                .id;
            record.add(Entry {
                map_id,
                prog_id,
                pid: std::process::id(),
                ifname: self.ifname.clone(),
                path: path.clone(),
            });
            to_pin.push((map.as_fd().as_raw_fd(), path));
        }
        for entry in record.entries.iter_mut() {
            if self.reused.iter().any(|(_, p)| *p == entry.path) && entry.still_ours() {
                entry.prog_id = prog_id;
            }
        }
        record.write(lock)?;
        if to_pin.is_empty() {
            return Ok(());
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| {
            Failure::new(
                Exit::Fail,
                format!("cannot create {}: {e}", self.dir.display()),
            )
        })?;
        for (fd, path) in to_pin {
            pin::pin_fd(fd, path)?;
        }
        Ok(())
    }

    /// Removes the pins this load created (when loading or attaching
    /// failed), and their lines in the record. Reused pins stay as they were.
    pub fn undo(&self) {
        let Some(lock) = &self.lock else {
            return;
        };
        if self.created.is_empty() {
            return;
        }
        let mut record = Record::read(lock);
        for (_, path) in &self.created {
            if record.owned(path).is_some() {
                let _ = std::fs::remove_file(path);
            }
            record.forget(path);
        }
        let _ = record.write(lock);
        // Only succeeds when empty: other pins keep the directory.
        let _ = std::fs::remove_dir(&self.dir);
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

/// Before load: point every declared map whose pin exists at it, so
/// libbpf reuses it (we check compatibility ourselves first, to name the
/// pin in the error). New maps are pinned by `PinPlan::pin_created` after
/// the load, once their ids are recorded. Takes the pin lock.
pub fn plan(open: &mut OpenObject, object: &str, to: PinTo) -> Result<PinPlan, Failure> {
    let mut plan = PinPlan {
        dir: to.dir.to_path_buf(),
        ifname: to.ifname.to_string(),
        lock: Some(ownership::lock()?),
        ..PinPlan::default()
    };
    for map in open.maps() {
        if !is_internal(&map) {
            check_map_name(&map.name().to_string_lossy(), object)?;
        }
    }
    for mut map in open.maps_mut() {
        if is_internal(&map) {
            continue;
        }
        let name = map.name().to_string_lossy().into_owned();
        let path = to.dir.join(&name);
        let reuse = path.exists();
        if reuse {
            check_compatible(&map, object, &name, &path)?;
            plan.reused.push((name, path.clone()));
        } else {
            plan.created.push((name, path.clone()));
        }
        // No pin path for a new map: libbpf would pin it during the load,
        // before we know its id (and an object's LIBBPF_PIN_BY_NAME would
        // pin it under /sys/fs/bpf itself).
        let result = match reuse {
            true => map.set_pin_path(&path),
            // SAFETY: a live map; NULL clears the pin path.
            false => match unsafe {
                libbpf_sys::bpf_map__set_pin_path(map.as_libbpf_object().as_ptr(), std::ptr::null())
            } {
                0 => Ok(()),
                _ => Err(libbpf_rs::Error::from_raw_os_error(libc::ENOMEM)),
            },
        };
        result.map_err(|e| {
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

/// Ids of the maps `programs` use (ask before detaching them: a detached
/// program may be gone a moment later).
pub fn maps_of(programs: &[u32]) -> HashSet<u32> {
    let users = maps_by_program();
    programs
        .iter()
        .flat_map(|p| users.get(p).into_iter().flatten().copied())
        .collect()
}

fn pin_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// What happens to the map pins in `dir` when programs `owners`, which
/// used maps `their_maps`, are unloaded.
pub enum Unpin {
    /// Remove the pins of ours that no other program uses.
    Ours,
    /// Keep them (`unload --keep-maps`): they become the user's.
    HandOver,
    /// Remove every pin of those maps, ours or not (`unpin IFNAME`: the
    /// user named them).
    All,
}

/// Unpins the maps of `owners` (their ids `their_maps`) pinned in `dir`.
/// A map pin is only touched if the kernel says it is a map of theirs; a
/// map that any other loaded program uses keeps its pin. Links, programs
/// and other maps in `dir` are never touched.
pub fn unpin_maps_of(
    dir: &Path,
    owners: &[u32],
    their_maps: &HashSet<u32>,
    how: Unpin,
) -> Result<Vec<String>, Failure> {
    let lock = ownership::lock()?;
    let mut record = Record::read(&lock);
    let used_by_others = maps_in_use_except(owners);
    let mut lines = Vec::new();
    let mut pins: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    pins.sort();
    for path in pins {
        let Some(id) = pin::pinned_map_id(&path) else {
            continue; // not a map (a link, a program, a directory)
        };
        if !their_maps.contains(&id) {
            continue;
        }
        let name = pin_name(&path);
        let ours = record.owned(&path).is_some();
        let keep = match how {
            Unpin::HandOver => Some("--keep-maps: it is yours now, rm it when done"),
            _ if used_by_others.contains(&id) => Some("used by another program"),
            Unpin::Ours if !ours => Some("not pinned by xdp-loader, so left alone"),
            _ => None,
        };
        if let Some(why) = keep {
            lines.push(format!(
                " - kept pinned map {name} at {} ({why})",
                path.display()
            ));
            if matches!(how, Unpin::HandOver) {
                record.forget(&path);
            }
            continue;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => {
                record.forget(&path);
                lines.push(format!(" - unpinned map {name} ({})", path.display()));
            }
            Err(e) => lines.push(format!(" - could not unpin {}: {e}", path.display())),
        }
    }
    record.write(&lock)?;
    // Only succeeds when empty: other pins keep the directory.
    let _ = std::fs::remove_dir(dir);
    Ok(lines)
}

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
    fn map_names_must_stay_one_file_in_the_pin_dir() {
        for (name, why) in [
            ("x/../../tmp/y", "'/'"),
            ("..", "'..'"),
            ("a.b", "'.'"),
            ("", "empty"),
        ] {
            let err = check_map_name(name, "obj").unwrap_err();
            assert_eq!(err.exit, Exit::Usage);
            assert!(err.message.contains(&format!("map '{name}' of 'obj'")));
            assert!(err.message.contains(why), "{}", err.message);
        }
        for name in ["xdp_stats_map", "tx_port", "a-b", "M1"] {
            assert!(check_map_name(name, "obj").is_ok(), "{name}");
        }
    }

    #[test]
    fn pin_path_outside_bpffs_is_refused() {
        let err = pin_dir("veth0", Some(Path::new("/tmp/not-bpffs/pins"))).unwrap_err();
        assert_eq!(err.exit, Exit::Usage);
        assert!(err.message.contains("not on a BPF filesystem"));
        assert!(err.hint.unwrap().contains("mount -t bpf"));
    }
}
