//! Putting back what `--force` took off when the new program then fails
//! to attach: a failed replace must not leave the interface without XDP.
//!
//! Before anything is detached we take a file descriptor of every program
//! in the way (a netlink-attached program has no other reference: once
//! detached it would be freed) and note which bpf_link pin was ours. On
//! failure each one that is no longer attached goes back the way it was:
//! same program, same mode, same kind (netlink, or a new bpf_link pinned
//! where the old one was).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

use libbpf_rs::query::LinkInfo;

use super::{create_link_for, mode_flags, prog_fd, xdp_attach, AttachError};
use crate::iface::{self, describe, Attached, Interface};
use crate::pin;

/// One program that `--force` may take off, and how to put it back.
struct Saved {
    attached: Attached,
    /// Keeps the program alive while it is detached.
    prog: OwnedFd,
    /// This tool's pin of the bpf_link holding it, if there was one.
    link_pin: Option<PathBuf>,
}

/// Everything in the way of a forced attach, as it was before.
pub struct Rollback {
    saved: Vec<Saved>,
}

impl Rollback {
    /// Takes hold of every program in the way (before anything changes).
    pub fn save(iface: &Interface, in_the_way: &[&Attached]) -> Result<Rollback, AttachError> {
        let our_link_pin = pin::link_pin_path(&iface.name);
        let our_link_id = pin::open_pinned(&our_link_pin)
            .ok()
            .and_then(|fd| LinkInfo::from_fd(std::os::fd::AsFd::as_fd(&fd)).ok())
            .map(|info| info.id);
        let saved = in_the_way
            .iter()
            .map(|a| {
                Ok(Saved {
                    attached: (*a).clone(),
                    prog: prog_fd(a.prog_id)?,
                    link_pin: (a.link_id.is_some() && a.link_id == our_link_id)
                        .then(|| our_link_pin.clone()),
                })
            })
            .collect::<Result<_, AttachError>>()?;
        Ok(Rollback { saved })
    }

    /// Puts back every saved program that is no longer attached. Prints a
    /// Note for each one put back; returns a line for each one that could
    /// not be (the caller adds them to its error).
    pub fn restore(&self, iface: &Interface) -> Vec<String> {
        let now = iface::attached(iface.index).unwrap_or_default();
        let mut lost = Vec::new();
        for saved in &self.saved {
            let old = &saved.attached;
            if now
                .iter()
                .any(|a| a.prog_id == old.prog_id && a.mode == old.mode)
            {
                continue;
            }
            match put_back(iface, saved) {
                Ok(where_) => eprintln!(
                    "Note: attaching failed; {} was put back{where_}",
                    describe(old)
                ),
                Err(why) => lost.push(format!(
                    "{} could not be put back ({why}): {} may have no XDP program now",
                    describe(old),
                    iface.name
                )),
            }
        }
        lost
    }
}

/// Re-attaches one program the way it was attached. Returns where a
/// recreated link was pinned (empty for netlink).
fn put_back(iface: &Interface, saved: &Saved) -> Result<String, String> {
    let old = &saved.attached;
    if old.link_id.is_none() {
        // UPDATE_IF_NOEXIST: never push aside whatever came meanwhile.
        let flags = mode_flags(old.mode) | libbpf_sys::XDP_FLAGS_UPDATE_IF_NOEXIST;
        return xdp_attach(iface.index, saved.prog.as_raw_fd(), flags)
            .map(|()| String::new())
            .map_err(|e| e.short());
    }
    let link = create_link_for(iface, saved.prog.as_raw_fd(), old.mode).map_err(|e| e.short())?;
    // Our own pin is recreated in place (the detach removed it); a link
    // held elsewhere gets our pin path, only if that is free, so that it
    // outlives this process.
    let path = match &saved.link_pin {
        Some(path) => {
            pin::remove_pin(path);
            path.clone()
        }
        None => pin::link_pin_path(&iface.name),
    };
    std::fs::create_dir_all(pin::loader_dir(&iface.name)).map_err(|e| e.to_string())?;
    pin::pin_fd(link.as_raw_fd(), &path).map_err(|f| f.message)?;
    Ok(format!(" as a new bpf_link pinned at {}", path.display()))
}
