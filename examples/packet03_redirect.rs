//! packet03: configure xdp_redirect_map_func from user space, as the C
//! tutorial's xdp_prog_user does: open the maps its loader pinned, and
//! fill them.
//!
//! ```text
//! xdp-loader load IFNAME xdp_redirect -n xdp_redirect_map_func   (pins its maps under /sys/fs/bpf/IFNAME/)
//! cargo run --example packet03_redirect -- --dev IFNAME --redirect-dev OUT --src-mac MAC --dest-mac MAC
//! ```
//! Then frames arriving on IFNAME from --src-mac leave through OUT, with
//! their destination MAC rewritten to --dest-mac.

mod common;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use libbpf_rs::{MapCore, MapFlags, MapHandle};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dev), Some(out), Some(src), Some(dest)) = (
        common::option::<String>(&args, "--dev")?,
        common::option::<String>(&args, "--redirect-dev")?,
        common::option::<String>(&args, "--src-mac")?,
        common::option::<String>(&args, "--dest-mac")?,
    ) else {
        bail!(
            "usage: packet03_redirect --dev IFNAME --redirect-dev OUT --src-mac MAC --dest-mac MAC"
        );
    };
    let src_mac = parse_mac(&src)?;
    let dest_mac = parse_mac(&dest)?;
    let out_index = common::ifindex_of(&out)? as u32;

    // The program was loaded by another process; its maps are reachable
    // through their pins (the C tutorial: open_bpf_map_file(pin_dir, name)).
    let pin_dir = PathBuf::from("/sys/fs/bpf").join(&dev);
    let open = |name: &str| {
        let path = pin_dir.join(name);
        MapHandle::from_pinned_path(&path).with_context(|| {
            format!(
                "open {} (is xdp_redirect loaded on {dev} by xdp-loader?)",
                path.display()
            )
        })
    };
    let tx_port = open("tx_port")?;
    let redirect_params = open("redirect_params")?;

    // Keys and values are raw bytes in the map's own layout: tx_port is
    // u32 -> u32 (slot -> ifindex), redirect_params is MAC -> MAC (6 bytes each).
    // A DEVMAP checks the ifindex: the update fails if no such device exists.
    tx_port.update(&0u32.to_ne_bytes(), &out_index.to_ne_bytes(), MapFlags::ANY)?;
    redirect_params.update(&src_mac, &dest_mac, MapFlags::ANY)?;
    println!(
        "{dev}: frames from {} go out of {out} (ifindex {out_index}) to {}",
        show(&src_mac),
        show(&dest_mac)
    );
    Ok(())
}

/// "aa:bb:cc:dd:ee:ff" -> 6 bytes (the C tutorial's parse_mac()).
fn parse_mac(text: &str) -> Result<[u8; 6]> {
    let mut mac = [0u8; 6];
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() != 6 {
        bail!("{text}: a MAC address has 6 bytes, like 02:00:00:00:00:01");
    }
    for (byte, part) in mac.iter_mut().zip(parts) {
        *byte =
            u8::from_str_radix(part, 16).with_context(|| format!("{text}: bad byte {part:?}"))?;
    }
    Ok(mac)
}

fn show(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}
