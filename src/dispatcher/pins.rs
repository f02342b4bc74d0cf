//! Where a dispatcher's parts are pinned, and the lock that orders every
//! change to them: the same paths and lock as libxdp, so both tools see
//! one consistent picture.
//!
//! ```text
//! /sys/fs/bpf/xdp/                           flock()ed while anything changes
//! /sys/fs/bpf/xdp/dispatch-IFINDEX-PROGID/   one dir per dispatcher program id
//!     prog0-prog  prog0-link                 slot 0: the component, its freplace link
//!     prog1-prog  prog1-link ...
//! ```
//! The pins keep the component programs attached after the loader exits:
//! an freplace link lives only as long as something holds it.

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use crate::error::{errno_text, Exit, Failure};
use crate::pin;

pub fn root() -> PathBuf {
    PathBuf::from("/sys/fs/bpf/xdp")
}

pub fn dir(ifindex: u32, dispatcher_id: u32) -> PathBuf {
    root().join(format!("dispatch-{ifindex}-{dispatcher_id}"))
}

pub fn prog_pin(dir: &Path, slot: usize) -> PathBuf {
    dir.join(format!("prog{slot}-prog"))
}

pub fn link_pin(dir: &Path, slot: usize) -> PathBuf {
    dir.join(format!("prog{slot}-link"))
}

/// (ifindex, dispatcher program id) from a `dispatch-IFINDEX-ID` name.
pub fn parse_dir_name(name: &str) -> Option<(u32, u32)> {
    let rest = name.strip_prefix("dispatch-")?;
    let (ifindex, id) = rest.split_once('-')?;
    Some((ifindex.parse().ok()?, id.parse().ok()?))
}

/// libxdp's lock: an exclusive flock on the `/sys/fs/bpf/xdp` directory.
/// Released when dropped.
pub struct DirLock {
    _dir: File,
}

pub fn lock() -> Result<DirLock, Failure> {
    pin::ensure_bpffs()?;
    let root = root();
    std::fs::create_dir_all(&root)
        .map_err(|e| Failure::new(Exit::Fail, format!("cannot create {}: {e}", root.display())))?;
    let dir = File::open(&root)
        .map_err(|e| Failure::new(Exit::Fail, format!("cannot open {}: {e}", root.display())))?;
    // SAFETY: a valid directory fd; flock has no other preconditions.
    if unsafe { libc::flock(dir.as_raw_fd(), libc::LOCK_EX) } != 0 {
        let err = std::io::Error::last_os_error();
        return Err(Failure::new(
            Exit::Fail,
            format!("cannot lock {}: {err}", root.display()),
        ));
    }
    Ok(DirLock { _dir: dir })
}

/// Pins every slot's program and link under `dir`; on failure removes
/// what it pinned, so a dispatcher is pinned whole or not at all.
pub fn pin_all(dir: &Path, slots: &[(&OwnedFd, &OwnedFd)]) -> Result<(), Failure> {
    std::fs::create_dir(dir)
        .map_err(|e| Failure::new(Exit::Fail, format!("cannot create {}: {e}", dir.display())))?;
    for (slot, (prog, link)) in slots.iter().enumerate() {
        let pinned = pin::pin_fd(prog.as_raw_fd(), &prog_pin(dir, slot))
            .and_then(|()| pin::pin_fd(link.as_raw_fd(), &link_pin(dir, slot)));
        if let Err(failure) = pinned {
            remove_all(dir);
            return Err(failure);
        }
    }
    Ok(())
}

/// Removes a dispatcher's pin directory and everything in it. The links
/// held only by these pins detach when the last fd closes.
pub fn remove_all(dir: &Path) {
    for entry in pin::entries(dir) {
        let _ = std::fs::remove_file(entry);
    }
    let _ = std::fs::remove_dir(dir);
}

/// Opens the component program pinned for `slot` (errno on failure).
pub fn open_prog(dir: &Path, slot: usize) -> Result<OwnedFd, Failure> {
    let path = prog_pin(dir, slot);
    pin::open_pinned(&path).map_err(|errno| {
        Failure::new(
            Exit::Fail,
            format!(
                "cannot open the dispatcher's component pin {}: {}",
                path.display(),
                errno_text(errno)
            ),
        )
        .hint(
            "the pins are incomplete (a killed run?): `xdp-loader unload IFNAME --all` starts over",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_libxdps() {
        let d = dir(7, 42);
        assert_eq!(d, PathBuf::from("/sys/fs/bpf/xdp/dispatch-7-42"));
        assert_eq!(prog_pin(&d, 3), d.join("prog3-prog"));
        assert_eq!(link_pin(&d, 0), d.join("prog0-link"));
        assert_eq!(parse_dir_name("dispatch-7-42"), Some((7, 42)));
        assert_eq!(parse_dir_name("dispatch-7"), None);
        assert_eq!(parse_dir_name("dispatch-x-1"), None);
        assert_eq!(parse_dir_name("other-7-42"), None);
    }
}
