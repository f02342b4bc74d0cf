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
    Link {
        path: PathBuf,
        link_id: u32,
        prog_id: u32,
    },
    /// An empty directory in our link directory: removed.
    EmptyDir(PathBuf),
    /// A record line whose pin is gone or now holds another object:
    /// the line is dropped, the pin (if any) is not touched.
    Record { entry: Entry, why: &'static str },
    /// Looks abandoned, but is not known to be ours: named, never touched.
    NotOurs { path: PathBuf, why: String },
}

impl Leftover {
    /// Does `clean` remove something the user can see (a pin, a directory)?
    pub fn is_removed(&self) -> bool {
        matches!(
            self,
            Leftover::Map(_) | Leftover::Link { .. } | Leftover::EmptyDir(_)
        )
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
            Leftover::Link { path, link_id, .. } => format!(
                "link pin {} of {} (bpf_link id {link_id}, which attaches no program any more)",
                path.display(),
                interface_of(path)
            ),
            Leftover::EmptyDir(path) => format!("empty directory {}", path.display()),
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
        if std::fs::read_dir(&dir).is_ok_and(|mut entries| entries.next().is_none()) {
            found.push(Leftover::EmptyDir(dir));
        }
    }
    if let Some(name) = ifname {
        found.extend(unrecorded_maps(&pin::default_dir(name), record, &in_use));
    }
    found
}

/// The interface a link pin `/sys/fs/bpf/xdp-loader/<dir>/link` was for.
fn interface_of(link_pin: &Path) -> String {
    let dir = link_pin.parent().and_then(Path::file_name);
    pin::ifname_of_dir(&dir.unwrap_or_default().to_string_lossy())
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    pin::entries(dir)
        .into_iter()
        .filter(|p| p.is_dir())
        .collect()
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
            prog_id: info.prog_id,
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
    pin::entries(dir)
        .into_iter()
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

/// Finds and removes the leftovers of IFNAME (every interface: None);
/// returns one line per leftover and how many pins were removed.
///
/// Dead links go first: a detached link still holds its program, and the
/// program its maps, so those map pins become leftovers only once the
/// link is gone (the kernel frees a link a moment after its last pin).
pub fn reclaim_all(ifname: Option<&str>, record: &mut Record) -> (Vec<String>, usize) {
    let (links, _): (Vec<Leftover>, Vec<Leftover>) = survey(ifname, record)
        .into_iter()
        .partition(|l| matches!(l, Leftover::Link { .. }));
    let mut lines = reclaim(&links, record);
    for link in &links {
        if let Leftover::Link { prog_id, .. } = link {
            wait_until_gone(*prog_id);
        }
    }
    let rest = survey(ifname, record);
    lines.extend(reclaim(&rest, record));
    let removed = links.len() + rest.iter().filter(|l| l.is_removed()).count();
    (lines, removed)
}

/// Waits (at most a second) until no program has id `prog_id`: it may be
/// held elsewhere too, and then it stays, rightly.
fn wait_until_gone(prog_id: u32) {
    for _ in 0..100 {
        if libbpf_rs::Program::fd_from_id(prog_id).is_err() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
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
            Leftover::EmptyDir(path) => match std::fs::remove_dir(path) {
                Ok(()) => format!("Removed {}", leftover.describe()),
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
