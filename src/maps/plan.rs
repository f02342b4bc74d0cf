//! Pinning at load: which pins are reused, which maps get new pins, and
//! recording those as xdp-loader's before they are made.

use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};

use libbpf_rs::{AsRawLibbpf, MapCore, MapHandle, Object, OpenObject};

use crate::error::{errno_of, errno_text, Exit, Failure};
use crate::ownership::{self, Entry, Lock, Record};
use crate::pin;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
