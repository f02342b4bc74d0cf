//! tracing01: a tracepoint program (the C tutorial's trace_prog_kern.c)
//! that counts xdp:xdp_exception events per ifindex in xdp_stats_map.
//! `check` attaches it, makes an XDP program abort a known number of
//! frames on `tested` (whose ifindex is its own), and reads the count
//! for that ifindex through the kernel.

use libbpf_rs::{MapCore, MapFlags, MapHandle, MapType, ObjectBuilder};

use super::frames::{ethernet, tag, ETH_P_LOCAL};
use super::lab::{tested_ifindex, Watch, MAC_PEER, MAC_XDP};
use super::{Lesson, Subject};
use crate::builtin;
use crate::object::{self, Selection, Source};

pub const TRACING01: Lesson = Lesson {
    name: "tracing01",
    builtin: None,
    assignments: &[
        "trace_xdp_exception counts xdp:xdp_exception events per ifindex in xdp_stats_map",
    ],
    check,
};

const PROGRAM: &str = "trace_xdp_exception";

fn check(subject: &Subject, _number: usize) -> Result<(), String> {
    let Source::File(path) = &subject.source else {
        return Err("tracing01 is checked on your object only".into());
    };
    let open = ObjectBuilder::default()
        .open_file(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let loaded = open
        .load()
        .map_err(|e| format!("the object does not load: {e}"))?;
    let program = loaded
        .progs_mut()
        .find(|p| p.name() == PROGRAM)
        .ok_or(format!("the object has no program {PROGRAM}"))?;
    let _link = program.attach().map_err(|e| {
        format!("{PROGRAM} does not attach (is it SEC(\"tracepoint/xdp/xdp_exception\")?): {e}")
    })?;

    // Aborted frames: each fires xdp:xdp_exception on `tested`.
    let xdp_prog = Source::Builtin(builtin::find("xdp_prog").expect("built-in xdp_prog"));
    let selection = Selection {
        prog_name: Some("xdp_abort_func"),
        section: None,
    };
    let abort = object::load(&xdp_prog, selection, None, None).map_err(|f| f.message)?;
    subject
        .lab
        .attach(Watch::Xdp, abort.program_fd())
        .map_err(|f| f.message)?;
    let map = loaded
        .maps()
        .find(|m| m.name() == "xdp_stats_map")
        .ok_or("the object has no map xdp_stats_map")?;
    let map = MapHandle::try_from(&map).map_err(|e| format!("xdp_stats_map: {e}"))?;
    let before = events(&map)?;
    let frames: Vec<(u32, Vec<u8>)> = (0..3)
        .map(|i| (i, ethernet(MAC_XDP, MAC_PEER, &[], ETH_P_LOCAL, &tag(i))))
        .collect();
    // Nothing arrives (all aborted, the batch's end marker too): 4 events.
    subject
        .lab
        .exchange(&frames, Watch::Xdp, 0)
        .map_err(|f| f.message)?;
    let counted = events(&map)? - before;
    match counted {
        4 => Ok(()),
        _ => Err(format!(
            "4 frames were aborted on ifindex {}; xdp_stats_map[{}] counted {counted}",
            tested_ifindex(),
            tested_ifindex()
        )),
    }
}

/// The events counted for `tested`'s ifindex, summed over the CPUs.
fn events(map: &MapHandle) -> Result<u64, String> {
    let key = (tested_ifindex() as i32).to_ne_bytes();
    let values: Vec<Vec<u8>> = match map.map_type() {
        MapType::PercpuHash | MapType::PercpuArray => map
            .lookup_percpu(&key, MapFlags::ANY)
            .map_err(|e| e.to_string())?
            .unwrap_or_default(),
        _ => map
            .lookup(&key, MapFlags::ANY)
            .map_err(|e| e.to_string())?
            .into_iter()
            .collect(),
    };
    Ok(values
        .iter()
        .filter_map(|v| v.get(..8))
        .map(|b| u64::from_ne_bytes(b.try_into().unwrap()))
        .sum())
}
