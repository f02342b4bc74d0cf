//! tracing02: tracepoint programs counting xdp:xdp_redirect(_err) and
//! xdp:xdp_devmap_xmit events in maps keyed by outcome, not by interface.
//! Real redirects anywhere on the machine (other users, other tests) would
//! add to such global counters while `check` counts, so the programs are
//! not attached to the live tracepoints: each is loaded as a raw
//! tracepoint program and run (BPF_PROG_TEST_RUN) on records laid out as
//! this kernel's `events/xdp/EVENT/format` says, and the object's own
//! maps, which nothing else feeds, must count exactly those records.

use std::ffi::OsStr;

use libbpf_rs::{MapCore, MapFlags, MapHandle, ObjectBuilder, ProgramInput, ProgramType};

use super::lab::tested_ifindex;
use super::{Lesson, Subject};
use crate::object::Source;
use crate::tracefs;

pub const TRACING02: Lesson = Lesson {
    name: "tracing02",
    builtin: None,
    assignments: &[
        "trace_xdp_redirect and trace_xdp_redirect_err count redirects and failed redirects",
        "trace_xdp_devmap_xmit counts the frames a devmap sent and dropped",
    ],
    check,
};

const XDP_REDIRECT: i64 = 4;
const EOPNOTSUPP: i64 = 95;
const ENXIO: i64 = 6;

fn check(subject: &Subject, number: usize) -> Result<(), String> {
    let Source::File(path) = &subject.source else {
        return Err("tracing02 is checked on your object only".into());
    };
    let to = subject.lab.ifindex_out as i64;
    let from = tested_ifindex() as i64;
    let mut open = ObjectBuilder::default()
        .open_file(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    // Run on demand instead of on the live tracepoints (see the top).
    for mut prog in open.progs_mut() {
        if prog.prog_type() == ProgramType::Tracepoint {
            prog.set_prog_type(ProgramType::RawTracepoint);
        }
    }
    let mut object = open
        .load()
        .map_err(|e| format!("the object does not load: {e}"))?;
    let mut run = |program: &str, event: &str, records: &[Vec<(&str, i64)>]| {
        run_on_records(&mut object, program, event, records)
    };
    match number {
        1 => {
            let ok = vec![
                ("act", XDP_REDIRECT),
                ("ifindex", from),
                ("to_ifindex", to),
                ("err", 0),
            ];
            let failed = |errno: i64| {
                vec![
                    ("act", XDP_REDIRECT),
                    ("ifindex", from),
                    ("to_ifindex", to),
                    ("err", -errno),
                ]
            };
            run(
                "trace_xdp_redirect",
                "xdp_redirect",
                &[ok.clone(), ok.clone(), ok],
            )?;
            run(
                "trace_xdp_redirect_err",
                "xdp_redirect_err",
                &[failed(EOPNOTSUPP), failed(ENXIO)],
            )?;
            let map = map_named(&object, "redirect_err_cnt")?;
            let counted = (summed(&map, 0, 0)?, summed(&map, 1, 0)?);
            match counted {
                (3, 2) => Ok(()),
                (worked, failed) => Err(format!(
                    "3 xdp:xdp_redirect records (err 0) and 2 xdp:xdp_redirect_err records (err -{EOPNOTSUPP}, -{ENXIO}): redirect_err_cnt counted {worked} at key 0 (expected 3) and {failed} at key 1 (expected 2)"
                )),
            }
        }
        2 => {
            let batch = |sent: i64, drops: i64| {
                vec![
                    ("from_ifindex", from),
                    ("act", XDP_REDIRECT),
                    ("to_ifindex", to),
                    ("sent", sent),
                    ("drops", drops),
                    ("err", 0),
                ]
            };
            run(
                "trace_xdp_devmap_xmit",
                "xdp_devmap_xmit",
                &[batch(5, 0), batch(2, 3)],
            )?;
            let map = map_named(&object, "devmap_xmit_cnt")?;
            let counted = (summed(&map, 0, 0)?, summed(&map, 0, 8)?);
            match counted {
                (7, 3) => Ok(()),
                (sent, drops) => Err(format!(
                    "2 xdp:xdp_devmap_xmit records (sent 5, drops 0; sent 2, drops 3): devmap_xmit_cnt[0] counted sent {sent}, drops {drops} (expected 7 and 3)"
                )),
            }
        }
        _ => unreachable!("tracing02 has 2 assignments"),
    }
}

/// Runs `program` (which must be in section tracepoint/xdp/`event`) once
/// per record; a record's fields not named are 0.
fn run_on_records(
    object: &mut libbpf_rs::Object,
    program: &str,
    event: &str,
    records: &[Vec<(&str, i64)>],
) -> Result<(), String> {
    let prog = object
        .progs_mut()
        .find(|p| p.name() == program)
        .ok_or(format!("the object has no program {program}"))?;
    let section = prog.section().to_string_lossy();
    let wanted = [format!("tracepoint/xdp/{event}"), format!("tp/xdp/{event}")];
    if !wanted.contains(&section.to_string()) {
        return Err(format!(
            "{program} is in section \"{section}\", so it would not run on xdp:{event} (expected SEC(\"{}\"))",
            wanted[0]
        ));
    }
    let root = tracefs::root().map_err(|f| f.message)?;
    let fields = tracefs::event_fields(&root, "xdp", event)
        .ok_or(format!("this kernel has no xdp:{event} tracepoint"))?;
    for values in records {
        // The record as the kernel lays it out; a raw tracepoint context
        // is read in 8-byte slots, so the size is rounded up to them.
        let end = fields.iter().map(|f| f.offset + f.size).max().unwrap_or(8);
        let mut record = vec![0u8; end.div_ceil(8) * 8];
        for (name, value) in values {
            let field = fields
                .iter()
                .find(|f| f.name == *name)
                .ok_or(format!("this kernel's xdp:{event} has no field {name}"))?;
            let bytes = value.to_ne_bytes();
            let bytes = match cfg!(target_endian = "little") {
                true => &bytes[..field.size],
                false => &bytes[8 - field.size..],
            };
            record[field.offset..field.offset + field.size].copy_from_slice(bytes);
        }
        let input = ProgramInput {
            context_in: Some(&mut record),
            ..Default::default()
        };
        prog.test_run(input)
            .map_err(|e| format!("{program} could not be run on a record: {e}"))?;
    }
    Ok(())
}

fn map_named(object: &libbpf_rs::Object, name: &str) -> Result<MapHandle, String> {
    let map = object
        .maps()
        .find(|m| m.name() == OsStr::new(name))
        .ok_or(format!("the object has no map {name}"))?;
    MapHandle::try_from(&map).map_err(|e| format!("{name}: {e}"))
}

/// The u64 at byte `at` of a per-CPU array's slot `key`, summed over the CPUs.
fn summed(map: &MapHandle, key: u32, at: usize) -> Result<u64, String> {
    let values = map
        .lookup_percpu(&key.to_ne_bytes(), MapFlags::ANY)
        .map_err(|e| format!("{}: {e}", map.name().to_string_lossy()))?
        .unwrap_or_default();
    Ok(values
        .iter()
        .filter_map(|v| v.get(at..at + 8))
        .map(|b| u64::from_ne_bytes(b.try_into().unwrap()))
        .sum())
}
