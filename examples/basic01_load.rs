//! basic01: load the pass program and attach it to an interface, both ways
//! the kernel offers; then take it off again, by program id or all of it.
//!
//! ```text
//! cargo run --example basic01_load -- IFNAME                  attach by netlink (stays after we exit)
//! cargo run --example basic01_load -- IFNAME --link           attach by a bpf_link, held until Enter
//! cargo run --example basic01_load -- IFNAME --unload ID      detach program ID (if it is the one attached)
//! cargo run --example basic01_load -- IFNAME --unload-all     detach whatever XDP program is attached
//! ```
//! Run as root (CAP_BPF + CAP_NET_ADMIN).

mod common;

use std::mem::MaybeUninit;
use std::os::fd::AsFd;

use anyhow::{bail, Context, Result};
use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use libbpf_rs::{ProgramHandle, Xdp, XdpFlags};
// build.rs compiled src/bpf/xdp_pass.bpf.c into this module: the object's
// bytes (embedded in our binary) and typed structs for its maps and programs.
use xdp_tutorial::builtin::skel::xdp_pass::XdpPassSkelBuilder;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(ifname) = args.first() else {
        bail!("usage: basic01_load IFNAME [--link | --unload ID | --unload-all]");
    };
    let ifindex = common::ifindex_of(ifname)?;
    match args.get(1).map(String::as_str) {
        None => attach_netlink(ifname, ifindex),
        Some("--link") => attach_link(ifname, ifindex),
        Some("--unload") => {
            let id: u32 = args
                .get(2)
                .context("--unload needs a program ID")?
                .parse()?;
            unload(ifname, ifindex, Some(id))
        }
        Some("--unload-all") => unload(ifname, ifindex, None),
        Some(other) => bail!("unknown option {other}"),
    }
}

/// Way 1, netlink (as `ip link set dev X xdp obj ...`): the interface holds
/// the program, so it stays attached when this process exits.
fn attach_netlink(ifname: &str, ifindex: i32) -> Result<()> {
    // Open: parse the embedded ELF object. `storage` holds the object; the
    // skeleton borrows it, so it must outlive the skeleton.
    let mut storage = MaybeUninit::uninit();
    let open = XdpPassSkelBuilder::default().open(&mut storage)?;
    // Load: the programs go through the verifier, the maps are created.
    let skel = open.load()?;
    let prog = &skel.progs.xdp_prog_simple;
    // Attach in native (driver) mode; UPDATE_IF_NOEXIST refuses to replace
    // a program that is already there (EBUSY) instead of silently doing so.
    Xdp::new(prog.as_fd())
        .attach(ifindex, XdpFlags::DRV_MODE | XdpFlags::UPDATE_IF_NOEXIST)
        .with_context(|| format!("attach to {ifname} (already has a program?)"))?;
    let id = Xdp::new(prog.as_fd()).query_id(ifindex, XdpFlags::DRV_MODE)?;
    println!("attached by netlink: {ifname} runs program id {id} (it stays after we exit)");
    // Dropping the skeleton closes our fds; the kernel keeps the program
    // because the interface still refers to it.
    Ok(())
}

/// Way 2, a bpf_link (what the Go walkthrough's `--attachlib` shows): the
/// attachment is a kernel object owned by a file descriptor. Close the last
/// fd (or exit) and the program comes off; no other tool can replace it.
fn attach_link(ifname: &str, ifindex: i32) -> Result<()> {
    let mut storage = MaybeUninit::uninit();
    let mut skel = XdpPassSkelBuilder::default().open(&mut storage)?.load()?;
    let link = skel.progs.xdp_prog_simple.attach_xdp(ifindex)?;
    let id = Xdp::new(skel.progs.xdp_prog_simple.as_fd()).query_id(ifindex, XdpFlags::NONE)?;
    println!("attached by bpf_link: {ifname} runs program id {id}; press Enter to detach");
    // The skeleton has a slot for each program's link; keeping it there
    // ties the link's life to the skeleton's.
    skel.links.xdp_prog_simple = Some(link);
    std::io::stdin().read_line(&mut String::new())?; // Enter, or end of input
    drop(skel); // closes the link: the program is detached
    println!("link closed: {ifname} runs no program of ours");
    Ok(())
}

/// Detach by netlink. `want`: only if program `want` is the one attached.
fn unload(ifname: &str, ifindex: i32, want: Option<u32>) -> Result<()> {
    let info = query_attached(ifindex)?;
    if info.prog_id == 0 {
        bail!("{ifname} has no XDP program");
    }
    if let Some(want) = want {
        if info.prog_id != want {
            bail!("{ifname} runs program {}, not {want}", info.prog_id);
        }
    }
    // Detach in the mode it was attached in (XDP_ATTACHED_DRV = 1, SKB = 2, HW = 3).
    let mode = match info.attach_mode {
        1 => XdpFlags::DRV_MODE,
        2 => XdpFlags::SKB_MODE,
        3 => XdpFlags::HW_MODE,
        _ => XdpFlags::NONE,
    };
    // Xdp wants a program fd, though detach uses only the ifindex: open
    // the attached program by its id.
    let prog = ProgramHandle::from_prog_id(info.prog_id)?;
    Xdp::new(prog.as_fd())
        .detach(ifindex, mode)
        .with_context(|| format!("detach from {ifname} (a bpf_link holds it?)"))?;
    println!("detached program id {} from {ifname}", info.prog_id);
    Ok(())
}

/// Which program is attached, and how. The query needs a program fd too
/// (unused): we load our own pass program just to have one.
fn query_attached(ifindex: i32) -> Result<libbpf_rs::libbpf_sys::bpf_xdp_query_opts> {
    let mut storage = MaybeUninit::uninit();
    let skel = XdpPassSkelBuilder::default().open(&mut storage)?.load()?;
    Ok(Xdp::new(skel.progs.xdp_prog_simple.as_fd()).query(ifindex, XdpFlags::NONE)?)
}
