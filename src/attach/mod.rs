//! Attaching and detaching XDP programs: modes, `--force` with the
//! cross-mode fallback, bpf_link attachments, and errors explained.
//!
//! Two kernel interfaces attach XDP programs:
//! - netlink (`bpf_xdp_attach`): the attachment belongs to the device and
//!   stays after the loader exits; this is what `ip link set ... xdp` does.
//! - bpf_link (`bpf_link_create`): the attachment lives as long as the link
//!   object; we pin the link on bpffs so it outlives the loader too. A link
//!   cannot be replaced through netlink, which protects it from other tools.
//!
//! A forced replace that fails puts back what it took off (`rollback`).
//! An object's tc ingress partner program is attached beside it (`tc`).

mod explain;
mod rollback;
pub mod tc;

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

use libbpf_rs::query::{LinkInfo, LinkTypeInfo};
use libbpf_rs::Program;

use crate::cli::{AttachKind, Mode};
use crate::error::{Exit, Failure};
use crate::iface::{self, describe, mode_name, Attached, Interface};
use crate::libbpf_log;
use crate::pin;
use explain::{check, explain};
pub use explain::{explain_detach, AttachError};
use rollback::Rollback;

/// The `XDP_FLAGS_*` mode bit for a mode (none for "unspecified").
pub fn mode_flags(mode: Mode) -> u32 {
    match mode {
        Mode::Native => libbpf_sys::XDP_FLAGS_DRV_MODE,
        Mode::Skb => libbpf_sys::XDP_FLAGS_SKB_MODE,
        Mode::Hw => libbpf_sys::XDP_FLAGS_HW_MODE,
        Mode::Unspecified => 0,
    }
}

/// Would a program attached in `existing` mode stand in the way of one
/// requested in `requested` mode? Native and skb exclude each other; hw
/// offload is a separate slot.
fn conflicts(requested: Mode, existing: Mode) -> bool {
    (requested == Mode::Hw) == (existing == Mode::Hw)
}

pub struct Request<'a> {
    pub iface: &'a Interface,
    pub prog_fd: BorrowedFd<'a>,
    pub mode: Mode,
    pub kind: AttachKind,
    pub force: bool,
}

/// What an attach did.
pub struct Outcome {
    pub prog_id: u32,
    /// The mode the kernel used (resolves "unspecified").
    pub mode: Mode,
    /// Descriptions of the programs that `--force` took off.
    pub replaced: Vec<String>,
    /// Link id and pin path for `--attach link`.
    pub link: Option<(u32, PathBuf)>,
}

pub fn attach(req: &Request) -> Result<Outcome, Failure> {
    let prog_id = Program::id_from_fd(req.prog_fd)
        .map_err(|e| Failure::new(Exit::Bpf, format!("loaded program has no id: {e}")))?;
    let before = iface::attached(req.iface.index)?;
    let in_the_way: Vec<&Attached> = before
        .iter()
        .filter(|a| conflicts(req.mode, a.mode))
        .collect();
    let replaced = if req.force {
        in_the_way.iter().map(|a| describe(a)).collect()
    } else {
        Vec::new()
    };

    let rollback = match req.force {
        true => Some(Rollback::save(req.iface, &in_the_way).map_err(|e| explain(req, e, &before))?),
        false => None,
    };

    libbpf_log::take();
    let attached = match req.kind {
        AttachKind::Netlink => attach_netlink(req, &in_the_way).map(|()| None),
        AttachKind::Link => attach_link(req, &in_the_way).map(Some),
    };
    let link = attached.map_err(|e| {
        let failure = explain(req, e, &before);
        // Explained first: putting programs back must not clobber the
        // kernel's message about why ours was refused.
        match &rollback {
            Some(rollback) => failure.details(rollback.restore(req.iface)),
            None => failure,
        }
    })?;

    // Only "unspecified" leaves the mode to the kernel: ask which it chose
    // (any other mode is the one asked for, or the attach failed).
    let mode = match req.mode {
        Mode::Unspecified => iface::attached(req.iface.index)?
            .into_iter()
            .find(|a| a.prog_id == prog_id)
            .map_or(req.mode, |a| a.mode),
        explicit => explicit,
    };
    Ok(Outcome {
        prog_id,
        mode,
        replaced,
        link,
    })
}

/// netlink attach. Without `--force`, UPDATE_IF_NOEXIST makes the kernel
/// refuse when a program is there; with it, the kernel swaps programs
/// atomically within one mode. A program in the *other* mode (skb vs
/// native) still makes it answer EEXIST, so we take that one off and try
/// again: the force-mode fallback of the C tutorial's old loaders.
fn attach_netlink(req: &Request, in_the_way: &[&Attached]) -> Result<(), AttachError> {
    let fd = req.prog_fd.as_raw_fd();
    let mut flags = mode_flags(req.mode);
    if !req.force {
        flags |= libbpf_sys::XDP_FLAGS_UPDATE_IF_NOEXIST;
        return xdp_attach(req.iface.index, fd, flags);
    }
    // A bpf_link cannot be replaced through netlink (the kernel refuses
    // with EBUSY): release it first.
    for held in in_the_way.iter().filter(|a| a.link_id.is_some()) {
        note_gap(held, "a bpf_link cannot be replaced through netlink");
        detach_link(req.iface, held)?;
    }
    let same_mode = in_the_way
        .iter()
        .find(|a| a.mode == req.mode && a.link_id.is_none());
    let result = match same_mode {
        // Atomic, and only if the program there is still the one we saw.
        Some(old) => {
            xdp_replace(req.iface.index, fd, old).map_err(|e| changed_meanwhile(req, old, e))
        }
        None => xdp_attach(req.iface.index, fd, flags),
    };
    match result {
        Err(AttachError::Kernel {
            errno: libc::EEXIST,
            ..
        }) => cross_mode_fallback(req, in_the_way, flags),
        result => result,
    }
}

/// Says that `held` comes off before ours goes on, and why: packets that
/// arrive in that short gap meet no XDP program.
fn note_gap(held: &Attached, why: &str) {
    eprintln!(
        "Note: detaching {} first: {why}, so there is a short gap without XDP",
        describe(held)
    );
}

/// The kernel runs one of native and skb at a time, so a program in the
/// other mode must be detached before ours goes on. If ours then fails to
/// attach, `attach` puts the old ones back.
fn cross_mode_fallback(
    req: &Request,
    in_the_way: &[&Attached],
    flags: u32,
) -> Result<(), AttachError> {
    let others = in_the_way
        .iter()
        .filter(|a| a.mode != req.mode && a.link_id.is_none());
    for other in others {
        let why = format!(
            "{} and {} XDP cannot run together",
            mode_name(other.mode),
            mode_name(req.mode)
        );
        note_gap(other, &why);
        detach_netlink(req.iface.index, other)?;
    }
    xdp_attach(req.iface.index, req.prog_fd.as_raw_fd(), flags)
}

/// The program we meant to replace is gone or another one is there: the
/// kernel refused (EEXIST), and nothing changed.
fn changed_meanwhile(req: &Request, old: &Attached, err: AttachError) -> AttachError {
    match err {
        AttachError::Kernel {
            errno: libc::EEXIST | libc::ENOENT,
            ..
        } => AttachError::Reported(
            Failure::new(
                Exit::Xdp,
                format!(
                    "the XDP program on {} changed while loading: {} is no longer there, so nothing was replaced",
                    req.iface.name,
                    describe(old)
                ),
            )
            .hint(format!("see what runs now: xdp-loader status {}", req.iface.name)),
        ),
        other => other,
    }
}

/// bpf_link attach, pinned under /sys/fs/bpf/xdp-loader/IFNAME/link.
fn attach_link(req: &Request, in_the_way: &[&Attached]) -> Result<(u32, PathBuf), AttachError> {
    pin::ensure_bpffs().map_err(AttachError::Reported)?;
    let pin_path = pin::link_pin_path(&req.iface.name);
    // An unusable pin directory is found before anything is detached.
    let dir = pin::loader_dir(&req.iface.name);
    make_link_dir(&dir)?;

    // Replacing our own link in the same mode: update it in place (atomic).
    if req.force {
        if let Some(link_id) = in_the_way
            .iter()
            // "unspecified" lets the kernel keep the mode the link has.
            .find(|a| a.mode == req.mode || req.mode == Mode::Unspecified)
            .and_then(|a| a.link_id)
        {
            if in_the_way.len() == 1 {
                let link = link_fd(link_id)?;
                // SAFETY: both fds are valid; NULL opts means "no flags".
                let ret = unsafe {
                    libbpf_sys::bpf_link_update(
                        link.as_raw_fd(),
                        req.prog_fd.as_raw_fd(),
                        std::ptr::null(),
                    )
                };
                check(ret, "bpf_link_update")?;
                return Ok((link_id, pin_path));
            }
        }
        // The kernel refuses a bpf_link while a netlink program holds the
        // slot (EBUSY), and runs one of native and skb at a time.
        for held in in_the_way {
            let why = match held.link_id {
                None => "a netlink-attached program cannot be replaced by a bpf_link",
                Some(_) => "a bpf_link in another mode cannot be updated in place",
            };
            note_gap(held, why);
            detach(req.iface, held)?;
        }
    }
    clear_dead_pin(&pin_path, req.force)?;

    let link = create_link(req).inspect_err(|_| {
        // Only removes the directory we just made, if it stayed empty.
        let _ = std::fs::remove_dir(&dir);
    })?;
    let link_id = LinkInfo::from_fd(std::os::fd::AsFd::as_fd(&link))
        .map(|info| info.id)
        .unwrap_or(0);

    // Removing the old link's pin removed the then empty directory too.
    make_link_dir(&dir)?;
    // If pinning fails, dropping `link` destroys it: nothing stays attached.
    pin::pin_fd(link.as_raw_fd(), &pin_path).map_err(|failure| {
        AttachError::Reported(Failure {
            exit: Exit::Xdp,
            ..failure
        })
    })?;
    Ok((link_id, pin_path))
}

/// The directory of this tool's link pin for an interface.
fn make_link_dir(dir: &std::path::Path) -> Result<(), AttachError> {
    std::fs::create_dir_all(dir).map_err(|e| {
        AttachError::Reported(
            Failure::new(Exit::Xdp, format!("cannot create {}: {e}", dir.display())).hint(
                format!(
                    "something else is pinned at {0} (see `ls -l {0}`): remove it, or attach without --attach link",
                    dir.display()
                ),
            ),
        )
    })
}

/// A new bpf_link attaching the program: the attachment lasts as long as
/// the returned fd (and any pin of it).
fn create_link(req: &Request) -> Result<OwnedFd, AttachError> {
    create_link_for(req.iface, req.prog_fd.as_raw_fd(), req.mode)
}

fn create_link_for(iface: &Interface, prog_fd: i32, mode: Mode) -> Result<OwnedFd, AttachError> {
    let opts = libbpf_sys::bpf_link_create_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_link_create_opts>() as _,
        flags: mode_flags(mode),
        ..Default::default()
    };
    // SAFETY: valid program fd and a properly sized opts struct.
    let ret = unsafe {
        libbpf_sys::bpf_link_create(prog_fd, iface.index as i32, libbpf_sys::BPF_XDP, &opts)
    };
    check(ret, "bpf_link_create")?;
    // SAFETY: a non-negative return is a new link fd that we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(ret) })
}

/// Attaches through a bpf_link that is not pinned: the program comes off
/// when the fd is closed or the process ends, even by SIGKILL. For
/// commands whose program serves only while they run (`capture`).
pub fn attach_while_running(req: &Request) -> Result<OwnedFd, Failure> {
    let before = iface::attached(req.iface.index)?;
    libbpf_log::take();
    create_link(req).map_err(|e| explain(req, e, &before))
}

/// Commands that bring their own XDP program for as long as they run
/// (`capture`, `afxdp`) need the interface free: they never replace a
/// program someone else attached. `alternative` ends the hint.
pub fn refuse_if_busy(iface: &Interface, command: &str, alternative: &str) -> Result<(), Failure> {
    let attached = iface::attached(iface.index)?;
    let Some(first) = attached.first() else {
        return Ok(());
    };
    Err(Failure::new(
        Exit::Xdp,
        format!(
            "{} already runs XDP program {}: {command} attaches a program of its own",
            iface.name,
            describe(first)
        ),
    )
    .hint(format!(
        "remove it first (xdp-loader unload {}), {alternative}",
        iface.name
    )))
}

/// A pin left from a link whose attachment is gone is removed; a live one
/// is only replaced with `--force`.
fn clear_dead_pin(path: &std::path::Path, force: bool) -> Result<(), AttachError> {
    let Some((fd, kind)) = pin::open_with_kind(path) else {
        return Ok(());
    };
    // Something else moved there is not ours to remove.
    if kind != pin::Kind::Link {
        return Err(AttachError::Reported(
            Failure::new(
                Exit::Xdp,
                format!("{} holds a {}, not a bpf_link", path.display(), kind.name()),
            )
            .hint(format!(
                "xdp-loader did not pin it there: move it away or rm {}",
                path.display()
            )),
        ));
    }
    let live = matches!(
        LinkInfo::from_fd(std::os::fd::AsFd::as_fd(&fd)).map(|i| i.info),
        Ok(LinkTypeInfo::Xdp(ref x)) if x.ifindex != 0
    );
    if live && !force {
        return Err(AttachError::Reported(
            Failure::new(
                Exit::Xdp,
                format!("a bpf_link is already pinned at {}", path.display()),
            )
            .hint("use --force to replace it, or unload it first"),
        ));
    }
    pin::remove_pin(path);
    Ok(())
}

/// Detaches one attached program (netlink or link), and removes this
/// tool's link pin when it held that link.
pub fn detach(iface: &Interface, attached: &Attached) -> Result<(), AttachError> {
    if attached.link_id.is_some() {
        detach_link(iface, attached)
    } else {
        detach_netlink(iface.index, attached)
    }
}

/// Netlink detach that only removes `attached.prog_id`: XDP_FLAGS_REPLACE
/// with the expected old program makes the kernel refuse if someone
/// swapped programs meanwhile, so we never remove a program we did not mean.
fn detach_netlink(ifindex: u32, attached: &Attached) -> Result<(), AttachError> {
    xdp_replace(ifindex, -1, attached)
}

/// Puts `new_fd` (-1: nothing) in `old`'s slot, atomically, only if `old`
/// is still the program there (XDP_FLAGS_REPLACE + old_prog_fd).
fn xdp_replace(ifindex: u32, new_fd: i32, old: &Attached) -> Result<(), AttachError> {
    let old_fd = prog_fd(old.prog_id)?;
    let opts = libbpf_sys::bpf_xdp_attach_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_xdp_attach_opts>() as _,
        old_prog_fd: old_fd.as_raw_fd(),
        ..Default::default()
    };
    let flags = mode_flags(old.mode) | libbpf_sys::XDP_FLAGS_REPLACE;
    // SAFETY: valid fds (or -1 for "no new program"); opts is properly sized.
    let ret = unsafe { libbpf_sys::bpf_xdp_attach(ifindex as i32, new_fd, flags, &opts) };
    check(ret, "bpf_xdp_attach")
}

fn prog_fd(prog_id: u32) -> Result<OwnedFd, AttachError> {
    Program::fd_from_id(prog_id).map_err(|e| AttachError::Kernel {
        errno: crate::error::errno_of(&e),
        call: "bpf_prog_get_fd_by_id",
        kernel_message: None,
    })
}

fn detach_link(iface: &Interface, attached: &Attached) -> Result<(), AttachError> {
    let link_id = attached.link_id.unwrap_or_default();
    let link = link_fd(link_id)?;
    // SAFETY: valid link fd.
    let ret = unsafe { libbpf_sys::bpf_link_detach(link.as_raw_fd()) };
    check(ret, "bpf_link_detach")?;
    // Our pin would keep a dead link around: drop it if it is this link.
    let path = pin::link_pin_path(&iface.name);
    if let Some((fd, pin::Kind::Link)) = pin::open_with_kind(&path) {
        if LinkInfo::from_fd(std::os::fd::AsFd::as_fd(&fd)).is_ok_and(|i| i.id == link_id) {
            pin::remove_pin(&path);
        }
    }
    Ok(())
}

fn link_fd(link_id: u32) -> Result<OwnedFd, AttachError> {
    // SAFETY: plain syscall wrapper; a non-negative return is an fd we own.
    let ret = unsafe { libbpf_sys::bpf_link_get_fd_by_id(link_id) };
    check(ret, "bpf_link_get_fd_by_id")?;
    // SAFETY: see above.
    Ok(unsafe { OwnedFd::from_raw_fd(ret) })
}

fn xdp_attach(ifindex: u32, prog_fd: i32, flags: u32) -> Result<(), AttachError> {
    // SAFETY: valid fd; NULL opts.
    let ret =
        unsafe { libbpf_sys::bpf_xdp_attach(ifindex as i32, prog_fd, flags, std::ptr::null()) };
    check(ret, "bpf_xdp_attach")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_and_skb_exclude_each_other_but_not_hw() {
        assert!(conflicts(Mode::Native, Mode::Skb));
        assert!(conflicts(Mode::Skb, Mode::Native));
        assert!(conflicts(Mode::Unspecified, Mode::Native));
        assert!(!conflicts(Mode::Native, Mode::Hw));
        assert!(conflicts(Mode::Hw, Mode::Hw));
    }

    #[test]
    fn mode_flags_match_the_uapi() {
        assert_eq!(mode_flags(Mode::Skb), 2);
        assert_eq!(mode_flags(Mode::Native), 4);
        assert_eq!(mode_flags(Mode::Hw), 8);
        assert_eq!(mode_flags(Mode::Unspecified), 0);
    }
}
