//! The tc side of an object that pairs an XDP program with a tc ingress
//! program (advanced01: XDP writes metadata, tc reads it), attached through
//! libbpf's tc hook (libbpf-rs `TcHook`): a clsact qdisc on the interface
//! and one direct-action BPF filter in its ingress hook.
//!
//! The filter sits at a fixed handle and priority of this tool's own, so
//! `unload` finds it again. It is ours to remove only while the program in
//! that slot shares a map with the XDP program being unloaded: then both
//! came from the same object, loaded by one `load`. The clsact qdisc is
//! left in place: other tc users may have filters in it (an empty one
//! costs nothing; `tc qdisc del dev IF clsact` removes it).

use std::os::fd::BorrowedFd;

use libbpf_rs::{TcHook, TcHookBuilder, TC_INGRESS};

use crate::error::{errno_text, Exit, Failure};
use crate::iface::Interface;

/// This tool's filter slot in the ingress hook (tc shows "handle 0x1d1
/// pref 465"; tc's own automatic priorities start at 49152).
pub const HANDLE: u32 = 0x1d1;
pub const PRIORITY: u32 = 0x1d1;

fn hook(iface: &Interface, prog_fd: BorrowedFd) -> TcHook {
    let mut builder = TcHookBuilder::new(prog_fd);
    builder
        .ifindex(iface.index as i32)
        .handle(HANDLE)
        .priority(PRIORITY);
    builder.hook(TC_INGRESS)
}

/// Attaches `prog_fd` at tc ingress of `iface` (creating the clsact qdisc
/// if there is none). A filter already in our slot is replaced only with
/// `force`.
pub fn attach_ingress(iface: &Interface, prog_fd: BorrowedFd, force: bool) -> Result<(), Failure> {
    let mut hook = hook(iface, prog_fd);
    let failed = |what: &str, e: libbpf_rs::Error| {
        Failure::new(Exit::Xdp, format!("cannot {what} on {}: {e}", iface.name))
    };
    hook.create()
        .map_err(|e| failed("create the clsact qdisc for tc ingress", e))?;
    if let Some(holder) = ingress_prog_id(iface) {
        if !force {
            return Err(Failure::new(
                Exit::Xdp,
                format!(
                    "tc ingress of {} already has a filter at handle {HANDLE:#x} pref {PRIORITY} \
                     (program id {holder})",
                    iface.name
                ),
            )
            .hint(format!(
                "use --force to replace it, or remove it: tc filter del dev {} ingress pref {PRIORITY}",
                iface.name
            )));
        }
        hook.replace(true);
    }
    hook.attach()
        .map(|_| ())
        .map_err(|e| failed("attach the tc ingress program", e))
}

/// The program in our ingress slot of `iface`, if any.
pub fn ingress_prog_id(iface: &Interface) -> Option<u32> {
    let (hook, mut opts) = raw_slot(iface);
    // SAFETY: properly sized structs; the query only writes into opts.
    let ret = unsafe { libbpf_sys::bpf_tc_query(&hook, &mut opts) };
    (ret == 0 && opts.prog_id != 0).then_some(opts.prog_id)
}

/// Removes the filter in our ingress slot of `iface`.
pub fn detach_ingress(iface: &Interface) -> Result<(), Failure> {
    let (hook, opts) = raw_slot(iface);
    // SAFETY: properly sized structs, only read by the call.
    let ret = unsafe { libbpf_sys::bpf_tc_detach(&hook, &opts) };
    if ret == 0 {
        return Ok(());
    }
    Err(Failure::new(
        Exit::Xdp,
        format!(
            "cannot remove the tc ingress filter (handle {HANDLE:#x} pref {PRIORITY}) from {}: {}",
            iface.name,
            errno_text(-ret)
        ),
    ))
}

/// Our slot, for the calls that name a filter without a program.
fn raw_slot(iface: &Interface) -> (libbpf_sys::bpf_tc_hook, libbpf_sys::bpf_tc_opts) {
    let hook = libbpf_sys::bpf_tc_hook {
        sz: std::mem::size_of::<libbpf_sys::bpf_tc_hook>() as _,
        ifindex: iface.index as i32,
        attach_point: TC_INGRESS,
        ..Default::default()
    };
    let opts = libbpf_sys::bpf_tc_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_tc_opts>() as _,
        handle: HANDLE,
        priority: PRIORITY,
        ..Default::default()
    };
    (hook, opts)
}
