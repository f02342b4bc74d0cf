//! bpffs: making sure it is mounted, and where this tool pins things.
//!
//! A pin is a file on the BPF filesystem that holds a reference to a BPF
//! object (map, program or link), so the object outlives the process.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
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
    // Two xdp-loaders starting at once must not both mount: the second
    // mount would hide the first one's pins (seen in a fresh guest, where
    // a parallel load's pin then failed with ENOENT). The pin lock orders
    // them, and the second one finds bpffs already there.
    let _held = crate::ownership::lock()?;
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

/// bpffs refuses every name that contains a '.' (its lookup answers
/// EPERM: "reserved for future use"), but VLAN devices are called
/// `eth0.5`. Interface names can never contain ':' (the kernel refuses it),
/// so '.' -> ':' is a reversible spelling: `eth0.5` pins in `eth0:5`.
pub fn dir_name(ifname: &str) -> String {
    ifname.replace('.', ":")
}

/// The interface a directory named by `dir_name` belongs to.
pub fn ifname_of_dir(dir_name: &str) -> String {
    dir_name.replace(':', ".")
}

/// The default map pin directory of IFNAME: `/sys/fs/bpf/<IFNAME>`.
pub fn default_dir(ifname: &str) -> PathBuf {
    Path::new(BPFFS_ROOT).join(dir_name(ifname))
}

/// Where this tool keeps its own per-interface pins (bpf_links).
pub fn loader_root() -> PathBuf {
    Path::new(BPFFS_ROOT).join("xdp-loader")
}

/// Directory for this tool's per-interface pins (bpf_links).
pub fn loader_dir(ifname: &str) -> PathBuf {
    loader_root().join(dir_name(ifname))
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

/// What a pin holds, as the kernel says: the fd that BPF_OBJ_GET returns
/// is an anon inode named after the object's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Map,
    Program,
    Link,
    Other,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Map => "map",
            Kind::Program => "program",
            Kind::Link => "bpf_link",
            Kind::Other => "BPF object",
        }
    }
}

/// The kind of the BPF object behind `fd`.
pub fn kind_of(fd: &OwnedFd) -> Kind {
    let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()));
    match link.as_deref().map(|l| l.to_string_lossy().into_owned()) {
        Ok(l) if l == "anon_inode:bpf-map" => Kind::Map,
        Ok(l) if l == "anon_inode:bpf-prog" => Kind::Program,
        Ok(l) if l == "anon_inode:bpf-link" => Kind::Link,
        _ => Kind::Other,
    }
}

/// The object pinned at `path` and its kind (None: nothing pinned there).
pub fn open_with_kind(path: &Path) -> Option<(OwnedFd, Kind)> {
    let fd = open_pinned(path).ok()?;
    let kind = kind_of(&fd);
    Some((fd, kind))
}

/// The id of the map pinned at `path`, if a map is pinned there.
pub fn pinned_map_id(path: &Path) -> Option<u32> {
    let (fd, kind) = open_with_kind(path)?;
    if kind != Kind::Map {
        return None;
    }
    libbpf_rs::MapInfo::new(std::os::fd::AsFd::as_fd(&fd))
        .ok()
        .map(|info| info.info.id)
}

/// The paths in `dir`, sorted (none if it cannot be read).
pub fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    paths.sort();
    paths
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
    fn dotted_interface_names_get_a_reversible_dir_name() {
        assert_eq!(dir_name("eth0.5"), "eth0:5");
        assert_eq!(ifname_of_dir("eth0:5"), "eth0.5");
        assert_eq!(default_dir("veth0"), PathBuf::from("/sys/fs/bpf/veth0"));
        assert_eq!(
            link_pin_path("a.1.2"),
            PathBuf::from("/sys/fs/bpf/xdp-loader/a:1:2/link")
        );
        for name in ["eth0", "eth0.5", "x.y.z", "a-b_c"] {
            assert_eq!(ifname_of_dir(&dir_name(name)), name);
            assert!(!dir_name(name).contains('.'));
        }
    }

    #[test]
    fn link_pins_live_under_the_loader_dir() {
        assert_eq!(
            link_pin_path("veth0"),
            PathBuf::from("/sys/fs/bpf/xdp-loader/veth0/link")
        );
    }
}
