//! A program's maps on bpffs: where they are pinned, reusing compatible
//! pins when a program is loaded again (so counters survive a reload), and
//! removing only the pins that xdp-loader made for the program being
//! unloaded (see ownership.rs for how it knows).
//!
//! Layout (the C tutorial's): `/sys/fs/bpf/<IFNAME>/<map name>`, or
//! `--pin-path DIR/<map name>`.

mod commands;
mod plan;
mod unpin;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use libbpf_rs::query::{ProgInfoIter, ProgInfoQueryOptions};

use crate::error::{Exit, Failure};
use crate::pin::{self, BPFFS_ROOT};

pub use commands::{pin_command, unpin_command};
pub use plan::{plan, PinPlan, PinTo};
pub use unpin::{unpin_maps_of, Unpin};

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

/// Map ids of every loaded program (one pass over the kernel's programs).
pub fn maps_by_program() -> HashMap<u32, Vec<u32>> {
    let opts = ProgInfoQueryOptions::default().include_map_ids(true);
    ProgInfoIter::with_query_opts(opts)
        .map(|info| (info.id, info.map_ids))
        .collect()
}

/// Ids of the maps that loaded programs other than `owners` use.
pub(crate) fn maps_in_use_except(owners: &[u32]) -> HashSet<u32> {
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
