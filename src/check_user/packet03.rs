//! packet03: the program that fills xdp_redirect_map_func's maps. This
//! module loads xdp_redirect and pins its maps under /sys/fs/bpf/<dev>/,
//! runs the program with MAC addresses in several spellings (and wrong
//! ones), and reads the maps back.

use std::mem::MaybeUninit;
use std::path::Path;

use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use libbpf_rs::{MapCore, MapFlags, MapHandle};

use super::net::Net;
use super::program::run_to_end;
use super::{all_failed, UserCheck};
use crate::builtin::skel::xdp_redirect::XdpRedirectSkelBuilder;

const PARSE: &str = "3a: parse_mac (MAC text to 6 bytes; wrong text refused)";
const FILL: &str =
    "3b: the pinned maps filled (tx_port slot 0, redirect_params source -> destination)";

pub fn grade(programs: &[&Path]) -> Vec<UserCheck> {
    match measure(programs[0]) {
        Ok([parse, fill]) => vec![
            UserCheck {
                assignment: PARSE,
                result: parse,
            },
            UserCheck {
                assignment: FILL,
                result: fill,
            },
        ],
        Err(why) => all_failed(&[PARSE, FILL], &why),
    }
}

fn measure(program: &Path) -> Result<[Result<(), String>; 2], String> {
    let (dev, out) = (Net::create()?, Net::create()?);
    // The maps, pinned as `xdp-loader load` pins them (no program attached:
    // the maps are what is graded).
    let mut storage = MaybeUninit::uninit();
    let mut skel = XdpRedirectSkelBuilder::default()
        .open(&mut storage)
        .and_then(|open| open.load())
        .map_err(|e| format!("load xdp_redirect: {e}"))?;
    std::fs::create_dir_all(dev.pin_dir()).map_err(|e| e.to_string())?;
    for map in [&mut skel.maps.tx_port, &mut skel.maps.redirect_params] {
        let pin = format!("{}/{}", dev.pin_dir(), map.name().to_string_lossy());
        map.pin(&pin).map_err(|e| format!("pin {pin}: {e}"))?;
    }
    let open = |name: &str| {
        MapHandle::from_pinned_path(format!("{}/{name}", dev.pin_dir())).map_err(|e| e.to_string())
    };
    let (tx_port, params) = (open("tx_port")?, open("redirect_params")?);

    let run = |src: &str, dest: &str| {
        let args = [
            "--dev",
            &dev.ifname,
            "--redirect-dev",
            &out.ifname,
            "--src-mac",
            src,
            "--dest-mac",
            dest,
        ];
        run_to_end(program, &args)
    };
    // Wrong text first: each must be refused, and nothing written.
    let mut parse = Ok(());
    for bad in [
        "02:00:00:00:00",
        "02:00:00:00:00:0g",
        "02:00:00:00:00:01:03",
        "0200.0000.0001",
    ] {
        if run(bad, "02:00:00:00:00:02").is_ok() || params.keys().next().is_some() {
            parse = Err(format!(
                "--src-mac {bad} was accepted (or something was written for it)"
            ));
            break;
        }
    }
    // Upper and lower case hex, as `ip link` and people write them.
    let (src, dest) = (
        [0x02, 0xab, 0xcd, 0, 0, 0x01],
        [0x02, 0xef, 0x12, 0, 0, 0x02],
    );
    if let Err(why) = run("02:AB:cd:00:00:01", "02:eF:12:00:00:02") {
        let why = format!("valid MACs refused: {why}");
        return Ok([parse.and(Err(why.clone())), Err(why)]);
    }

    let want_ifindex = out.ifindex()?;
    let slot0 = tx_port
        .lookup(&0u32.to_ne_bytes(), MapFlags::ANY)
        .map_err(|e| e.to_string())?;
    let got_ifindex = slot0.map(|v| u32::from_ne_bytes(v[..4].try_into().unwrap()));
    let entries: Vec<(Vec<u8>, Vec<u8>)> = params
        .keys()
        .filter_map(|k| Some((k.clone(), params.lookup(&k, MapFlags::ANY).ok()??)))
        .collect();
    let mut fill = Ok(());
    if got_ifindex != Some(want_ifindex) {
        fill = Err(format!(
            "tx_port slot 0 holds {got_ifindex:?}, not {}'s ifindex {want_ifindex}",
            out.ifname
        ));
    } else if entries != vec![(src.to_vec(), dest.to_vec())] {
        fill = Err(format!(
            "redirect_params holds {entries:02x?}, not just {src:02x?} -> {dest:02x?}"
        ));
    }
    Ok([parse, fill])
}
