//! packet03, user space: your copy of examples/packet03_redirect.rs (the C
//! tutorial's xdp_prog_user), with assignment 3's user-space part to do.
//!
//! ```text
//! xdp-loader load IFNAME xdp_redirect -n xdp_redirect_map_func
//! cargo build --example packet03_user_redirect
//! sudo target/debug/examples/packet03_user_redirect --dev IFNAME --redirect-dev OUT --src-mac MAC --dest-mac MAC
//! ```
//! Check your work: `sudo xdp-loader check packet03 --user target/debug/examples/packet03_user_redirect`

use std::ffi::CString;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use libbpf_rs::MapHandle;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dev), Some(out), Some(src), Some(dest)) = (
        option(&args, "--dev"),
        option(&args, "--redirect-dev"),
        option(&args, "--src-mac"),
        option(&args, "--dest-mac"),
    ) else {
        bail!("usage: redirect --dev IFNAME --redirect-dev OUT --src-mac MAC --dest-mac MAC");
    };
    let src_mac = parse_mac(&src)?;
    let dest_mac = parse_mac(&dest)?;
    let name = CString::new(out.as_str())?;
    // SAFETY: a valid NUL-terminated string.
    let out_index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if out_index == 0 {
        bail!("no interface {out}");
    }

    let pin_dir = PathBuf::from("/sys/fs/bpf").join(&dev);
    let open = |name: &str| {
        let path = pin_dir.join(name);
        MapHandle::from_pinned_path(&path).with_context(|| format!("open {}", path.display()))
    };
    let _tx_port = open("tx_port")?;
    let _redirect_params = open("redirect_params")?;

    // TODO (assignment 3, fill the maps): tx_port is u32 -> u32 (slot 0 ->
    // the ifindex to send out of); redirect_params is MAC -> MAC (6 bytes
    // each: frames from src_mac get dest_mac as their destination). Write
    // both with MapCore::update(key bytes, value bytes, MapFlags::ANY).
    let _ = (out_index, src_mac, dest_mac);
    println!("{dev}: maps opened (not filled yet)");
    Ok(())
}

/// "aa:bb:cc:dd:ee:ff" -> 6 bytes.
fn parse_mac(text: &str) -> Result<[u8; 6]> {
    // TODO (assignment 3, parse_mac): split at ':', expect exactly 6 parts,
    // each one hex byte (u8::from_str_radix(part, 16)); anything else is
    // an error that names the text.
    bail!("parse_mac({text:?}) is not written yet")
}

fn option(args: &[String], name: &str) -> Option<String> {
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1).cloned()
}
