//! basic02: one object file, several programs: pick one by name.
//!
//! ```text
//! cargo run --example basic02_prog_by_name -- IFNAME [PROGNAME]
//! ```
//! Without PROGNAME it lists the programs of the object. With one, it loads
//! only that program and attaches it by netlink (it stays attached: take it
//! off with `basic01_load IFNAME --unload-all` or `xdp-loader unload IFNAME`).

mod common;

use std::mem::MaybeUninit;
use std::os::fd::AsFd;

use anyhow::{bail, Result};
use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{Xdp, XdpFlags};
// src/bpf/xdp_prog.bpf.c: xdp_pass_func, xdp_drop_func, xdp_abort_func.
use xdp_tutorial::builtin::skel::xdp_prog::XdpProgSkelBuilder;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(ifname) = args.first() else {
        bail!("usage: basic02_prog_by_name IFNAME [PROGNAME]");
    };

    let mut storage = MaybeUninit::uninit();
    let mut open = XdpProgSkelBuilder::default().open(&mut storage)?;

    // The skeleton has one typed field per program (open.progs.xdp_drop_func
    // ...), fixed at compile time. A name chosen at run time is looked up
    // in the object underneath, which lists its programs.
    let names: Vec<String> = open
        .open_object()
        .progs()
        .map(|p| p.name().to_string_lossy().into_owned())
        .collect();
    let Some(wanted) = args.get(1) else {
        println!("programs in xdp_prog: {}", names.join(", "));
        return Ok(());
    };
    if !names.contains(wanted) {
        bail!(
            "no program {wanted} in xdp_prog; it has: {}",
            names.join(", ")
        );
    }

    // By default libbpf loads every program of the object. Switch off the
    // others before load: only the chosen one goes through the verifier.
    for mut prog in open.open_object_mut().progs_mut() {
        let keep = prog.name().to_string_lossy() == wanted.as_str();
        prog.set_autoload(keep);
    }
    let skel = open.load()?;

    // After load, find the chosen program again (by name) and attach it.
    let prog = skel
        .object()
        .progs()
        .find(|p| p.name().to_string_lossy() == wanted.as_str())
        .expect("loaded above");
    let ifindex = common::ifindex_of(ifname)?;
    Xdp::new(prog.as_fd()).attach(ifindex, XdpFlags::DRV_MODE | XdpFlags::UPDATE_IF_NOEXIST)?;
    let id = Xdp::new(prog.as_fd()).query_id(ifindex, XdpFlags::DRV_MODE)?;
    println!("{ifname} runs {wanted} (program id {id})");
    Ok(())
}
