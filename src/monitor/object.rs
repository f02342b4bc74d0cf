//! `xdp-loader monitor FILE.o`: a student's own tracepoint object (the C
//! tutorial's trace_prog_kern.c) loaded, each `SEC("tracepoint/CAT/EVENT")`
//! program attached, and every map of the object printed each interval,
//! as the tutorial's trace_load_and_stats does. The links close when the
//! command ends, however it ends: nothing stays attached.

use std::path::Path;

use libbpf_rs::{Link, MapCore, MapHandle, Object};
use serde::Serialize;

use crate::cli::MonitorArgs;
use crate::error::{Exit, Failure};
use crate::mapcmd::target::{inspect, Summary};
use crate::mapcmd::{read_entry, Entry};
use crate::object::{load_failure, Source};
use crate::{libbpf_log, signals, tracefs};

/// `tracepoint/xdp/xdp_exception` or `tp/xdp/xdp_exception` -> (xdp, xdp_exception).
pub fn tracepoint_of(section: &str) -> Option<(&str, &str)> {
    let rest = section
        .strip_prefix("tracepoint/")
        .or_else(|| section.strip_prefix("tp/"))?;
    let (category, event) = rest.split_once('/')?;
    (!category.is_empty() && !event.is_empty() && !event.contains('/')).then_some((category, event))
}

pub fn run(file: &Path, args: &MonitorArgs) -> anyhow::Result<()> {
    let stop = signals::stop_requests()?;
    let (object, links) = load_and_attach(file)?;
    for (program, tracepoint, _) in &links {
        eprintln!(" - {program} attached to tracepoint {tracepoint}");
    }
    eprintln!(
        "Printing its maps every {:?} (Ctrl-C to stop)",
        args.sampling.interval
    );

    let mut printed = 0u64;
    loop {
        let stopped = stop.recv_timeout(args.sampling.interval).is_ok();
        let maps = read_maps(&object)?;
        if args.sampling.json {
            println!("{}", serde_json::json!({ "maps": maps }));
        } else {
            print_maps(&maps);
        }
        printed += 1;
        if stopped || args.sampling.count.is_some_and(|count| printed >= count) {
            return Ok(());
        }
    }
}

/// Program name, "category:event", and the link that keeps it attached.
type Attached = Vec<(String, String, Link)>;

fn load_and_attach(file: &Path) -> Result<(Object, Attached), Failure> {
    let source = Source::File(file.to_path_buf());
    let name = source.name();
    let root = tracefs::root()?;
    let mut open = source.open()?;

    let mut wanted = Vec::new();
    let mut others = Vec::new();
    for mut prog in open.progs_mut() {
        let program = prog.name().to_string_lossy().into_owned();
        let section = prog.section().to_string_lossy().into_owned();
        let Some((category, event)) = tracepoint_of(&section) else {
            others.push(format!("{program} (section {section})"));
            prog.set_autoload(false);
            continue;
        };
        if tracefs::event_fields(&root, category, event).is_none() {
            return Err(Failure::new(
                Exit::Bpf,
                format!(
                    "program '{program}' of '{name}' wants tracepoint {category}:{event}, which this kernel ({}) does not have",
                    crate::object::kernel_release()
                ),
            )
            .hint(format!("the tracepoints it has: ls {}/events/{category}", root.display())));
        }
        if libbpf_log::verbose() {
            prog.set_log_level(1);
        }
        wanted.push((program, format!("{category}:{event}")));
    }
    if wanted.is_empty() {
        return Err(Failure::new(
            Exit::Bpf,
            format!("no tracepoint program in object '{name}'; it has:"),
        )
        .details(others)
        .hint(
            "monitor FILE attaches SEC(\"tracepoint/CATEGORY/EVENT\") programs; \
             XDP programs load with xdp-loader load IFNAME FILE",
        ));
    }

    libbpf_log::take();
    let object = open
        .load()
        .map_err(|err| load_failure(&name, &wanted[0].0, &err))?;
    eprintln!("Success: Loaded BPF-object({})", file.display());

    let mut links = Vec::new();
    for (program, tracepoint) in wanted {
        let prog = object
            .progs_mut()
            .find(|p| p.name().to_string_lossy() == program)
            .expect("a loaded program of the object");
        let link = prog.attach().map_err(|err| {
            Failure::new(
                Exit::Fail,
                format!(
                    "cannot attach '{program}' to tracepoint {tracepoint}: {}",
                    crate::error::errno_text(crate::error::errno_of(&err))
                ),
            )
            .details(crate::object::tail(&libbpf_log::take(), 3))
        })?;
        links.push((program, tracepoint, link));
    }
    Ok((object, links))
}

/// One map and its entries, as printed each interval.
#[derive(Serialize)]
struct MapReading {
    map: Summary,
    entries: Vec<Entry>,
}

/// Every map of the object but libbpf's own (.rodata, .bss, ...).
fn read_maps(object: &Object) -> Result<Vec<MapReading>, Failure> {
    let mut out = Vec::new();
    for map in object.maps() {
        if map.name().to_string_lossy().starts_with('.') {
            continue;
        }
        let handle = MapHandle::try_from(&map).map_err(|err| {
            Failure::new(
                Exit::Fail,
                format!("cannot read map {}: {err}", map.name().to_string_lossy()),
            )
        })?;
        let target = inspect(handle, None);
        let mut entries = Vec::new();
        for key in target.handle.keys() {
            if let Some(entry) = read_entry(&target, &key)? {
                entries.push(entry);
            }
        }
        out.push(MapReading {
            map: target.summary,
            entries,
        });
    }
    Ok(out)
}

fn print_maps(maps: &[MapReading]) {
    for reading in maps {
        println!("{}", reading.map.describe());
        if reading.entries.is_empty() {
            println!("  (no entries)");
        }
        for entry in &reading.entries {
            println!("  {}", entry.summed_text());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tracepoint_of;

    #[test]
    fn tracepoint_sections_are_recognised_and_others_are_not() {
        assert_eq!(
            tracepoint_of("tracepoint/xdp/xdp_exception"),
            Some(("xdp", "xdp_exception"))
        );
        assert_eq!(
            tracepoint_of("tp/xdp/xdp_redirect"),
            Some(("xdp", "xdp_redirect"))
        );
        assert_eq!(tracepoint_of("xdp"), None);
        assert_eq!(tracepoint_of("tracepoint/xdp"), None);
        assert_eq!(tracepoint_of("tracepoint/xdp/a/b"), None);
        assert_eq!(tracepoint_of("kprobe/xdp_do_redirect"), None);
    }
}
