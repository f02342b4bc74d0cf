//! basic04, the loader: pin the stats map so other programs can read it,
//! and reuse the pinned map on a reload, so the counters survive.
//!
//! ```text
//! cargo run --example basic04_load -- IFNAME PROGNAME [--force]
//! ```
//! PROGNAME: xdp_pass_func, xdp_drop_func or xdp_abort_func (xdp_prog, as
//! in basic02). The map is pinned at /sys/fs/bpf/IFNAME/xdp_stats_map (the
//! C tutorial's place, also xdp-loader's). `--force` replaces a program
//! already attached. Read the counters with `basic04_stats IFNAME`.

mod common;

use std::mem::MaybeUninit;
use std::os::fd::AsFd;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{MapCore, Xdp, XdpFlags};
use xdp_tutorial::builtin::skel::xdp_prog::XdpProgSkelBuilder;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [ifname, wanted, ..] = args.as_slice() else {
        bail!("usage: basic04_load IFNAME PROGNAME [--force]");
    };
    let force = args.iter().any(|a| a == "--force");
    let ifindex = common::ifindex_of(ifname)?;
    let pin_dir = PathBuf::from("/sys/fs/bpf").join(ifname);
    let pin = pin_dir.join("xdp_stats_map");

    let mut storage = MaybeUninit::uninit();
    let mut open = XdpProgSkelBuilder::default().open(&mut storage)?;
    for mut prog in open.open_object_mut().progs_mut() {
        let keep = prog.name().to_string_lossy() == wanted.as_str();
        prog.set_autoload(keep);
    }

    // Reuse: before load, tell libbpf to take the pinned map instead of
    // creating a new one (libbpf checks that type, key and value sizes
    // match). The C tutorial's assignment 2: bpf_map__reuse_fd().
    let reused = pin.exists();
    if reused {
        open.maps
            .xdp_stats_map
            .reuse_pinned_map(&pin)
            .with_context(|| format!("reuse {}", pin.display()))?;
    }
    let mut skel = open.load()?;
    let Some(prog) = skel
        .object()
        .progs()
        .find(|p| p.name().to_string_lossy() == wanted.as_str())
    else {
        bail!("no program {wanted} in xdp_prog (xdp_pass_func, xdp_drop_func, xdp_abort_func)");
    };

    // Native mode; without --force, refuse to replace what is attached.
    let mut flags = XdpFlags::DRV_MODE;
    if !force {
        flags |= XdpFlags::UPDATE_IF_NOEXIST;
    }
    Xdp::new(prog.as_fd())
        .attach(ifindex, flags)
        .with_context(|| format!("attach {wanted} to {ifname} (use --force to replace)"))?;

    // A new map: pin it, so it outlives this process and others find it.
    // (A reused one is pinned already.)
    let map = &mut skel.maps.xdp_stats_map;
    if !reused {
        std::fs::create_dir_all(&pin_dir)?;
        map.pin(&pin)
            .with_context(|| format!("pin {}", pin.display()))?;
    }
    let how = if reused { "reused" } else { "pinned new" };
    println!(
        "{ifname} runs {wanted}; {how} map id {} at {}",
        map.info()?.info.id,
        pin.display()
    );
    Ok(())
}
