//! Dispatcher pins whose dispatcher no longer runs anywhere (a killed
//! loader, an interface deleted under it, a tool that detached it without
//! unpinning): ours and libxdp's look alike. They hold programs, links and
//! the old dispatcher in the kernel until removed.
//!
//! bpffs is shared by every network namespace, an ifindex is not: a dir
//! counts as stale only if no interface with that ifindex runs that
//! program, here or in any named namespace (`/run/netns`, `ip netns add`).

use std::path::PathBuf;

use super::pins;
use crate::iface;

pub struct Stale {
    pub dir: PathBuf,
    pub ifindex: u32,
    pub dispatcher_id: u32,
    /// The programs its slots hold ("name (id N)").
    pub holds: Vec<String>,
}

impl Stale {
    pub fn describe(&self) -> String {
        let holding = if self.holds.is_empty() {
            "no programs".to_string()
        } else {
            self.holds.join(", ")
        };
        format!(
            "{}: dispatcher id {} is attached to no interface with ifindex {}; it held {holding}",
            self.dir.display(),
            self.dispatcher_id,
            self.ifindex
        )
    }
}

/// The stale dispatcher dirs, of `ifindex` only when given. Call with the
/// pin lock held.
pub fn survey(only_ifindex: Option<u32>) -> Vec<Stale> {
    let mut found = Vec::new();
    for dir in crate::pin::entries(&pins::root()) {
        let Some((ifindex, id)) = dir
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(pins::parse_dir_name)
        else {
            continue;
        };
        if only_ifindex.is_some_and(|only| only != ifindex) || attached_anywhere(ifindex, id) {
            continue;
        }
        let holds = (0..super::config::SLOTS)
            .filter_map(|slot| crate::pin::open_pinned(&pins::prog_pin(&dir, slot)).ok())
            .filter_map(|fd| super::discover::prog_info(&fd).ok())
            .map(|info| format!("{} (id {})", info.name, info.id))
            .collect();
        found.push(Stale {
            dir,
            ifindex,
            dispatcher_id: id,
            holds,
        });
    }
    found
}

fn runs_here(ifindex: u32, id: u32) -> bool {
    iface::slots(ifindex).is_ok_and(|slots| slots.iter().any(|&(_, p)| p == id))
}

fn attached_anywhere(ifindex: u32, id: u32) -> bool {
    if runs_here(ifindex, id) {
        return true;
    }
    crate::pin::entries(std::path::Path::new("/run/netns"))
        .into_iter()
        .any(|ns| in_namespace(&ns, || runs_here(ifindex, id)).unwrap_or(true))
}

/// Runs `check` on a thread that joined the network namespace `ns` (only
/// that thread moves). None: could not join (then the caller keeps the
/// pins: unsure is not stale).
fn in_namespace(ns: &std::path::Path, check: impl FnOnce() -> bool + Send) -> Option<bool> {
    let file = std::fs::File::open(ns).ok()?;
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                use std::os::fd::AsRawFd;
                // SAFETY: a namespace fd; setns moves only this thread.
                if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    return None;
                }
                Some(check())
            })
            .join()
            .ok()
            .flatten()
    })
}
