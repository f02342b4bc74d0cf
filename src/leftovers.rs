//! What an interrupted run leaves (a SIGKILL cannot be deferred like
//! Ctrl-C): map pins of ours whose program is gone, link pins whose link
//! attaches nothing any more, and lines of the pin record whose pin is gone.
//! `clean` removes them; `unload` names them when there is nothing else.
//!
//! Only what the record says this tool pinned (and the kernel confirms is
//! still that map), or a bpf_link in this tool's own link directory, is
//! removed. Anything else that looks abandoned is named and left alone.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use libbpf_rs::query::{LinkInfo, LinkTypeInfo};

use crate::maps;
use crate::ownership::{Entry, Record};
use crate::pin::{self, Kind};

/// One thing found, and what `clean` does with it.
#[derive(Debug)]
pub enum Leftover {
    /// A map pin of ours that no loaded program uses: removed.
    Map(Entry),
    /// A bpf_link pinned in our link directory that attaches nothing: removed.
    Link { path: PathBuf, link_id: u32 },
    /// A record line whose pin is gone or now holds another object:
    /// the line is dropped, the pin (if any) is not touched.
    Record { entry: Entry, why: &'static str },
    /// Looks abandoned, but is not known to be ours: named, never touched.
    NotOurs { path: PathBuf, why: String },
}

impl Leftover {
    /// Does `clean` remove something the user can see (a pin)?
    pub fn is_pin(&self) -> bool {
        matches!(self, Leftover::Map(_) | Leftover::Link { .. })
    }

    pub fn describe(&self) -> String {
        match self {
            Leftover::Map(e) => format!(
                "map pin {} (map id {}, pinned by xdp-loader pid {} for program id {}, which is gone)",
                e.path.display(),
                e.map_id,
                e.pid,
                e.prog_id
            ),
            Leftover::Link { path, link_id } => format!(
                "link pin {} (bpf_link id {link_id}, which attaches no program any more)",
                path.display()
            ),
            Leftover::Record { entry, why } => format!(
                "record of {} (map id {}): {why}",
                entry.path.display(),
                entry.map_id
            ),
            Leftover::NotOurs { path, why } => format!("{}: {why}", path.display()),
        }
    }
}

/// The leftovers of IFNAME (every interface: None). Reads only.
pub fn survey(ifname: Option<&str>, record: &Record) -> Vec<Leftover> {
    let for_us = |e: &&Entry| ifname.is_none_or(|name| e.ifname == name);
    let in_use: std::collections::HashSet<u32> =
        maps::maps_by_program().into_values().flatten().collect();
    let mut found = Vec::new();
    for entry in record.entries.iter().filter(for_us) {
        let why = match pin::open_with_kind(&entry.path) {
            None => Some("the pin is gone"),
            Some(_) if !entry.still_ours() => Some("the pin now holds another object, left alone"),
            Some(_) => None,
        };
        match why {
            Some(why) => found.push(Leftover::Record {
                entry: entry.clone(),
                why,
            }),
            None if !in_use.contains(&entry.map_id) => found.push(Leftover::Map(entry.clone())),
            None => {}
        }
    }
    let link_dirs = match ifname {
        Some(name) => vec![pin::loader_dir(name)],
        None => subdirs(&pin::loader_root()),
    };
    for dir in link_dirs {
        found.extend(dead_link(&dir.join("link")));
    }
    if let Some(name) = ifname {
        found.extend(unrecorded_maps(&pin::default_dir(name), record, &in_use));
    }
    found
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// The pin at `path` (our link pin's place), if it is a leftover.
fn dead_link(path: &Path) -> Option<Leftover> {
    let (fd, kind) = pin::open_with_kind(path)?;
    if kind != Kind::Link {
        return Some(Leftover::NotOurs {
            path: path.to_path_buf(),
            why: format!(
                "holds a {}, not a bpf_link, so it is left alone",
                kind.name()
            ),
        });
    }
    let info = LinkInfo::from_fd(fd.as_fd()).ok()?;
    match info.info {
        LinkTypeInfo::Xdp(xdp) if xdp.ifindex == 0 => Some(Leftover::Link {
            path: path.to_path_buf(),
            link_id: info.id,
        }),
        LinkTypeInfo::Xdp(_) => None, // still attached: in use
        _ => Some(Leftover::NotOurs {
            path: path.to_path_buf(),
            why: "holds a bpf_link that is not an XDP link, so it is left alone".into(),
        }),
    }
}

/// Map pins in `dir` that no program uses and that the record does not
/// know (pinned by another tool, or the record was lost).
fn unrecorded_maps(
    dir: &Path,
    record: &Record,
    in_use: &std::collections::HashSet<u32>,
) -> Vec<Leftover> {
    let mut pins: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    pins.sort();
    pins.into_iter()
        .filter_map(|path| {
            let id = pin::pinned_map_id(&path)?;
            let recorded = record.owned(&path).is_some();
            (!recorded && !in_use.contains(&id)).then(|| Leftover::NotOurs {
                why: format!(
                    "map id {id}, used by no program, was not pinned by xdp-loader \
                     (it has no record of it): rm {} if it is yours",
                    path.display()
                ),
                path,
            })
        })
        .collect()
}

/// Removes what `survey` found that is ours; returns one line per leftover.
pub fn reclaim(found: &[Leftover], record: &mut Record) -> Vec<String> {
    let mut lines = Vec::new();
    for leftover in found {
        let line = match leftover {
            Leftover::Map(entry) => {
                record.forget(&entry.path);
                match std::fs::remove_file(&entry.path) {
                    Ok(()) => {
                        remove_dir_if_empty(&entry.path);
                        format!("Removed {}", leftover.describe())
                    }
                    Err(e) => format!("Could not remove {}: {e}", entry.path.display()),
                }
            }
            Leftover::Link { path, .. } => match std::fs::remove_file(path) {
                Ok(()) => {
                    remove_dir_if_empty(path);
                    format!("Removed {}", leftover.describe())
                }
                Err(e) => format!("Could not remove {}: {e}", path.display()),
            },
            Leftover::Record { entry, .. } => {
                record.forget(&entry.path);
                format!("Dropped the {}", leftover.describe())
            }
            Leftover::NotOurs { .. } => format!("Left alone {}", leftover.describe()),
        };
        lines.push(line);
    }
    lines
}

/// Fails (and so keeps the directory) while anything else is in it.
fn remove_dir_if_empty(pin: &Path) {
    if let Some(dir) = pin.parent() {
        let _ = std::fs::remove_dir(dir);
    }
}
