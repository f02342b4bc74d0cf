//! bpffs: making sure it is mounted, and where this tool pins things.
//!
//! A pin is a file on the BPF filesystem that holds a reference to a BPF
//! object (map, program or link), so the object outlives the process.

use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use crate::error::{errno_text, Exit, Failure};
use crate::fsmount;

/// Where bpffs is normally mounted.
pub const BPFFS_ROOT: &str = "/sys/fs/bpf";
/// Magic number of bpffs in `statfs.f_type` (linux/magic.h).
const BPF_FS_MAGIC: i64 = 0xcafe4a11;

/// Is `path` on a BPF filesystem?
pub fn is_bpffs(path: &Path) -> bool {
    fsmount::is_mounted(path, BPF_FS_MAGIC)
}

/// Mounts bpffs at /sys/fs/bpf when it is not there; says so when it does.
pub fn ensure_bpffs() -> Result<(), Failure> {
    let root = Path::new(BPFFS_ROOT);
    if is_bpffs(root) {
        return Ok(());
    }
    if let Err(errno) = fsmount::mount("bpf", root, "mode=0700") {
        return Err(Failure::new(
            Exit::Fail,
            format!(
                "bpffs is not mounted at {BPFFS_ROOT} and mounting it failed: {}",
                errno_text(errno)
            ),
        )
        .hint("mount it yourself: mount -t bpf bpf /sys/fs/bpf"));
    }
    eprintln!("Note: mounted bpffs at {BPFFS_ROOT} (it was not mounted)");
    Ok(())
}

/// Directory for this tool's per-interface pins (bpf_links).
pub fn loader_dir(ifname: &str) -> PathBuf {
    Path::new(BPFFS_ROOT).join("xdp-loader").join(ifname)
}

/// Where `load --attach link` pins the link of IFNAME.
pub fn link_pin_path(ifname: &str) -> PathBuf {
    loader_dir(ifname).join("link")
}

/// Pins a BPF object fd at `path`.
pub fn pin_fd(fd: i32, path: &Path) -> Result<(), Failure> {
    let cpath = c_path(path)?;
    // SAFETY: fd is a valid BPF object fd; cpath is NUL-terminated.
    let ret = unsafe { libbpf_sys::bpf_obj_pin(fd, cpath.as_ptr()) };
    if ret < 0 {
        return Err(Failure::new(
            Exit::Fail,
            format!("cannot pin at {}: {}", path.display(), errno_text(-ret)),
        ));
    }
    Ok(())
}

/// Opens the BPF object pinned at `path`.
pub fn open_pinned(path: &Path) -> Result<OwnedFd, i32> {
    let cpath = c_path(path).map_err(|_| libc::EINVAL)?;
    // SAFETY: cpath is NUL-terminated; a non-negative return is a new fd we own.
    let fd = unsafe { libbpf_sys::bpf_obj_get(cpath.as_ptr()) };
    if fd < 0 {
        return Err(-fd);
    }
    // SAFETY: fd was just returned to us by the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Removes a pin file, then its directory if that is now empty.
pub fn remove_pin(path: &Path) {
    let _ = std::fs::remove_file(path);
    if let Some(dir) = path.parent() {
        // Fails (and so keeps the dir) when other pins are still there.
        let _ = std::fs::remove_dir(dir);
    }
}

fn c_path(path: &Path) -> Result<CString, Failure> {
    CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| Failure::new(Exit::Usage, format!("bad path {}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmp_is_not_bpffs() {
        assert!(!is_bpffs(Path::new("/tmp")));
        assert!(!is_bpffs(Path::new("/no/such/dir")));
    }

    #[test]
    fn link_pins_live_under_the_loader_dir() {
        assert_eq!(
            link_pin_path("veth0"),
            PathBuf::from("/sys/fs/bpf/xdp-loader/veth0/link")
        );
    }
}
