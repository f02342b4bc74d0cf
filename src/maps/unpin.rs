//! Unpinning when programs are unloaded: only map pins (the kernel says
//! so) of maps those programs used, and by default only xdp-loader's own.

use std::collections::HashSet;
use std::path::Path;

use super::maps_in_use_except;
use crate::error::Failure;
use crate::ownership::{self, Record};
use crate::pin;

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
    for path in pin::entries(dir) {
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
