//! basic04, user space, the loader: your copy of examples/basic04_load.rs,
//! with the C tutorial's assignment 2 left to do.
//!
//! ```text
//! cargo build --example basic04_user_load
//! sudo target/debug/examples/basic04_user_load IFNAME PROGNAME [--force]
//! ```
//! PROGNAME: xdp_pass_func, xdp_drop_func or xdp_abort_func. The map is
//! pinned at /sys/fs/bpf/IFNAME/xdp_stats_map. Check your work:
//! `sudo xdp-loader check basic04 --user target/debug/examples/basic04_user_load,target/debug/examples/basic04_user_stats`

use std::ffi::CString;
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
        bail!("usage: load IFNAME PROGNAME [--force]");
    };
    let force = args.iter().any(|a| a == "--force");
    let name = CString::new(ifname.as_str())?;
    // SAFETY: a valid NUL-terminated string.
    let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) } as i32;
    if ifindex == 0 {
        bail!("no interface {ifname}");
    }
    let pin_dir = PathBuf::from("/sys/fs/bpf").join(ifname);
    let pin = pin_dir.join("xdp_stats_map");

    let mut storage = MaybeUninit::uninit();
    let mut open = XdpProgSkelBuilder::default().open(&mut storage)?;
    for mut prog in open.open_object_mut().progs_mut() {
        let keep = prog.name().to_string_lossy() == wanted.as_str();
        prog.set_autoload(keep);
    }

    // TODO (assignment 2, reuse the pin): when `pin` exists, a reload
    // should keep counting in the pinned map. Before load, tell libbpf to
    // use it instead of creating a new map:
    // open.maps.xdp_stats_map.reuse_pinned_map(&pin) (bpf_map__reuse_fd in C).
    // Then the map is pinned already: do not replace the pin below.

    let mut skel = open.load()?;
    let Some(prog) = skel
        .object()
        .progs()
        .find(|p| p.name().to_string_lossy() == wanted.as_str())
    else {
        bail!("no program {wanted} in xdp_prog (xdp_pass_func, xdp_drop_func, xdp_abort_func)");
    };
    let mut flags = XdpFlags::DRV_MODE;
    if !force {
        flags |= XdpFlags::UPDATE_IF_NOEXIST;
    }
    Xdp::new(prog.as_fd())
        .attach(ifindex, flags)
        .with_context(|| format!("attach {wanted} to {ifname} (use --force to replace)"))?;

    // As it is: a fresh map every time, replacing the old pin (and so
    // losing its counters).
    let map = &mut skel.maps.xdp_stats_map;
    if pin.exists() {
        std::fs::remove_file(&pin)?;
    }
    std::fs::create_dir_all(&pin_dir)?;
    map.pin(&pin)
        .with_context(|| format!("pin {}", pin.display()))?;
    println!(
        "{ifname} runs {wanted}; map id {} at {}",
        map.info()?.info.id,
        pin.display()
    );
    Ok(())
}
