//! `xdp-loader map`: list, dump, lookup, update and delete map entries
//! from user space, with keys and values printed and parsed by their BTF
//! types, and `new-inner` for map-in-map (the libbpf notes' map lessons).
//!
//! Every kernel refusal the notes warn about is explained in words: a
//! `noexist` update on an array (every key exists), an `exist` update of a
//! missing hash key, a full hash, a key past an array's end, deleting from
//! an array, an inner map that does not match its outer map's template.

mod entry;
mod explain;
mod layout;
pub mod target;
mod value;

use std::os::fd::{AsFd, AsRawFd};
use std::path::PathBuf;

use libbpf_rs::{MapCore, MapFlags, MapHandle, MapType};
use serde::Serialize;

use crate::cli::{MapCommand, UpdateFlag};
use crate::error::{Exit, Failure};
use crate::iface;
use crate::privilege;
pub use entry::{read_entry, Entry};
use explain::{explain, Op};
use layout::Layout;
use target::{Summary, Target, MAP_FORMS};
use value::Value;

pub fn run(command: &MapCommand) -> anyhow::Result<()> {
    privilege::require("xdp-loader map", privilege::BPF)?;
    match command {
        MapCommand::List {
            ifname,
            all: true,
            json,
        } => match ifname {
            Some(name) => Err(Failure::new(
                Exit::Usage,
                format!("--all lists every map in the system; it takes no IFNAME ('{name}')"),
            )
            .hint("`xdp-loader map list IFNAME` lists that interface's maps")
            .into()),
            None => list_all(*json),
        },
        MapCommand::List { ifname, json, .. } => list(ifname.as_deref(), *json),
        MapCommand::Dump { map, json } => dump(map, *json),
        MapCommand::Lookup { map, key, json } => lookup(map, key, *json),
        MapCommand::Update {
            map,
            key,
            value,
            flags,
        } => update(map, key, value, *flags),
        MapCommand::Delete { map, key } => delete(map, key),
        MapCommand::NewInner { outer, key, like } => new_inner(outer, key, like.as_deref()),
    }
}

/// One row of `map list`.
#[derive(Serialize)]
struct Listed {
    ifname: String,
    #[serde(flatten)]
    map: Summary,
}

fn list(ifname: Option<&str>, json: bool) -> anyhow::Result<()> {
    let interfaces = match ifname {
        Some(name) => vec![iface::resolve(name)?],
        None => iface::all()
            .into_iter()
            .filter(|i| iface::attached(i.index).is_ok_and(|a| !a.is_empty()))
            .collect(),
    };
    for iface in &interfaces {
        let mut rows = Vec::new();
        let (ids, pins) = target::maps_of_interface(&iface.name, iface.index)?;
        // The programs' maps (with their pin, if pinned there), then pinned
        // maps that no program there uses (any more, or directly: inner maps).
        let pinned: Vec<(PathBuf, MapHandle)> = pins
            .into_iter()
            .filter_map(|p| target::open_map_pin(&p).ok().map(|h| (p, h)))
            .collect();
        let pin_of = |id: u32| {
            pinned
                .iter()
                .find(|(_, h)| h.info().is_ok_and(|i| i.info.id == id))
                .map(|(p, _)| p.clone())
        };
        for id in &ids {
            if let Ok(handle) = MapHandle::from_map_id(*id) {
                rows.push(target::inspect(handle, pin_of(*id)).summary);
            }
        }
        for (pin, handle) in pinned.iter() {
            let id = handle.info().map_or(0, |i| i.info.id);
            if !ids.contains(&id) {
                if let Ok(handle) = MapHandle::from_map_id(id) {
                    rows.push(target::inspect(handle, Some(pin.clone())).summary);
                }
            }
        }
        let listed: Vec<Listed> = rows
            .into_iter()
            .map(|map| Listed {
                ifname: iface.name.clone(),
                map,
            })
            .collect();
        print_list(&listed, json, iface.name.as_str());
    }
    if interfaces.is_empty() && !json {
        println!("No interface runs an XDP program (give IFNAME to list its pinned maps).");
    }
    Ok(())
}

/// `map list --all`: every map the kernel holds, as `bpftool map show`
/// lists them (maps this process cannot open, gone meanwhile, are skipped).
fn list_all(json: bool) -> anyhow::Result<()> {
    let mut id = 0;
    let mut maps = Vec::new();
    // SAFETY: bpf_map_get_next_id writes the next id into `id`.
    while unsafe { libbpf_sys::bpf_map_get_next_id(id, &mut id) } == 0 {
        if let Ok(handle) = MapHandle::from_map_id(id) {
            maps.push(target::inspect(handle, None).summary);
        }
    }
    if json {
        for map in &maps {
            println!("{}", serde_json::to_string(map).expect("serializable"));
        }
    } else {
        println!("every map in the system ({}):", maps.len());
        print_table(maps.iter());
    }
    Ok(())
}

fn print_list(rows: &[Listed], json: bool, ifname: &str) {
    if json {
        for row in rows {
            println!("{}", serde_json::to_string(row).expect("serializable"));
        }
        return;
    }
    println!("{ifname}:");
    if rows.is_empty() {
        println!("  (no maps)");
    }
    print_table(rows.iter().map(|row| &row.map));
}

/// The columns of `map list`, one map per line.
fn print_table<'a>(maps: impl Iterator<Item = &'a Summary>) {
    println!(
        "  {:<20} {:>6} {:<16} {:>5} {:>6} {:>8} {:>6}  pin",
        "name", "id", "type", "key", "value", "entries", "flags"
    );
    for m in maps {
        println!(
            "  {:<20} {:>6} {:<16} {:>5} {:>6} {:>8} {:>#6x}  {}",
            m.name,
            m.id,
            m.type_name,
            m.key_size,
            m.value_size,
            m.max_entries,
            m.flags,
            m.pin
                .as_ref()
                .map_or("-".to_string(), |p| p.display().to_string())
        );
    }
}

fn header(target: &Target) {
    let s = &target.summary;
    let pin = s
        .pin
        .as_ref()
        .map(|p| format!(", pinned at {}", p.display()))
        .unwrap_or_default();
    let btf = match (s.btf, s.is_map_of_maps()) {
        (true, _) => "",
        (false, true) => ", no BTF: keys in hex",
        (false, false) => ", no BTF: keys and values in hex",
    };
    println!("map {}{pin}{btf}", s.describe());
}

fn dump(spec: &str, json: bool) -> anyhow::Result<()> {
    let target = target::resolve(spec)?;
    refuse_unreadable(&target.summary)?;
    let keys: Vec<Vec<u8>> = target.handle.keys().collect();
    let mut entries = Vec::new();
    for key in &keys {
        // A key deleted between listing and reading is simply gone.
        if let Some(entry) = read_entry(&target, key)? {
            entries.push(entry);
        }
    }
    if json {
        #[derive(Serialize)]
        struct Dump<'a> {
            map: &'a Summary,
            entries: &'a [Entry],
        }
        let dump = Dump {
            map: &target.summary,
            entries: &entries,
        };
        println!("{}", serde_json::to_string(&dump).expect("serializable"));
        return Ok(());
    }
    header(&target);
    for entry in &entries {
        println!("{}", entry.text());
    }
    match entries.len() {
        1 => println!("1 entry"),
        n => println!("{n} entries"),
    }
    Ok(())
}

fn lookup(spec: &str, key_text: &str, json: bool) -> anyhow::Result<()> {
    let target = target::resolve(spec)?;
    refuse_unreadable(&target.summary)?;
    let key = parse_with(&target.key, key_text, "KEY", &target.summary)?;
    let Some(entry) = read_entry(&target, &key)? else {
        return Err(explain::missing_key(&target.summary, key_text).into());
    };
    if json {
        println!("{}", serde_json::to_string(&entry).expect("serializable"));
    } else {
        println!("{}", entry.text());
    }
    Ok(())
}

fn update(spec: &str, key_text: &str, value_text: &str, flag: UpdateFlag) -> anyhow::Result<()> {
    let target = target::resolve(spec)?;
    let summary = &target.summary;
    let key = parse_with(&target.key, key_text, "KEY", summary)?;
    let flags = match flag {
        UpdateFlag::Any => MapFlags::ANY,
        UpdateFlag::Noexist => MapFlags::NO_EXIST,
        UpdateFlag::Exist => MapFlags::EXIST,
    };
    // Map-in-map: the value is another map, handed over as an fd.
    let inner;
    let value = if summary.is_map_of_maps() {
        inner = target::resolve(value_text)?;
        inner.handle.as_fd().as_raw_fd().to_ne_bytes().to_vec()
    } else {
        parse_with(&target.value, value_text, "VALUE", summary)?
    };
    let result = if summary.ty.is_percpu() {
        let cpus = libbpf_rs::num_possible_cpus()
            .map_err(|e| Failure::new(Exit::Fail, format!("cannot count the CPUs: {e}")))?;
        target.handle.update_percpu(&key, &vec![value; cpus], flags)
    } else {
        target.handle.update(&key, &value, flags)
    };
    result.map_err(|e| explain(Op::Update(flag), summary, key_text, &e))?;
    println!(
        "Updated key {} of map {}",
        target.key.decode(&key).text(),
        summary.describe()
    );
    if let Some(entry) = read_entry(&target, &key)? {
        println!("{}", entry.text());
    }
    Ok(())
}

fn delete(spec: &str, key_text: &str) -> anyhow::Result<()> {
    let target = target::resolve(spec)?;
    let key = parse_with(&target.key, key_text, "KEY", &target.summary)?;
    target
        .handle
        .delete(&key)
        .map_err(|e| explain(Op::Delete, &target.summary, key_text, &e))?;
    println!(
        "Deleted key {} from map {}",
        target.key.decode(&key).text(),
        target.summary.describe()
    );
    Ok(())
}

/// Creates a new, empty inner map shaped like a template and puts it at
/// KEY of the outer map (replacing what was there, in one update).
fn new_inner(outer_spec: &str, key_text: &str, like: Option<&str>) -> anyhow::Result<()> {
    let outer = target::resolve(outer_spec)?;
    if !outer.summary.is_map_of_maps() {
        return Err(Failure::new(
            Exit::Usage,
            format!(
                "{} is a {} map, not a map of maps",
                outer.summary.name, outer.summary.type_name
            ),
        )
        .hint("new-inner works on array_of_maps and hash_of_maps maps")
        .into());
    }
    let key = parse_with(&outer.key, key_text, "KEY", &outer.summary)?;
    let old = current_inner(&outer, &key)?;
    let template = match like {
        Some(spec) => target::resolve(spec)?,
        None => match old.or_else(|| any_inner(&outer)) {
            Some(id) => target::resolve(&format!("id:{id}"))?,
            None => return Err(Failure::new(
                Exit::Usage,
                format!(
                    "{} holds no inner map yet to copy the shape of",
                    outer.summary.name
                ),
            )
            .hint("say which map to copy with --like MAP (e.g. --like IFNAME:NAME of an inner map)")
            .into()),
        },
    };
    let created = explain::create_like(&template)?;
    let fd = created.as_fd().as_raw_fd();
    outer
        .handle
        .update(&key, &fd.to_ne_bytes(), MapFlags::ANY)
        .map_err(|e| explain(Op::Update(UpdateFlag::Any), &outer.summary, key_text, &e))?;
    let new_id = libbpf_rs::MapInfo::new(created.as_fd()).map_or(0, |i| i.info.id);
    let was = old.map_or("empty".to_string(), |id| format!("map id {id}"));
    println!(
        "Created map {} (id {new_id}) shaped like {}",
        template.summary.name,
        template.summary.describe()
    );
    println!(
        "{}[{}]: {was} -> map id {new_id}",
        outer.summary.name,
        outer.key.decode(&key).text()
    );
    if let Some(id) = old {
        println!(" - the old inner map (id {id}) lives on while a pin or a program holds it: xdp-loader map dump id:{id}");
    }
    Ok(())
}

/// The id of the inner map at `key`, if there is one.
fn current_inner(outer: &Target, key: &[u8]) -> Result<Option<u32>, Failure> {
    let key_text = outer.key.decode(key).text();
    let found = outer
        .handle
        .lookup(key, MapFlags::ANY)
        .map_err(|e| explain(Op::Lookup, &outer.summary, &key_text, &e))?;
    Ok(found.and_then(|v| Some(u32::from_ne_bytes(v.get(..4)?.try_into().ok()?))))
}

fn any_inner(outer: &Target) -> Option<u32> {
    let key = outer.handle.keys().next()?;
    current_inner(outer, &key).ok().flatten()
}

/// Parses a typed-in key or value into bytes for `layout`.
fn parse_with(layout: &Layout, text: &str, what: &str, map: &Summary) -> Result<Vec<u8>, Failure> {
    let usage = |why: String| {
        let hint = match layout {
            Layout::Bytes { size } => format!(
                "{} has no BTF here: give {what} as {size} hex bytes (\"01 00 00 00\") or a number",
                map.name
            ),
            _ => format!(
                "{what} of {} looks like: {}",
                map.name,
                layout.decode(&vec![0; layout.size()]).text()
            ),
        };
        Failure::new(
            Exit::Usage,
            format!("bad {what} '{text}' for map {}: {why}", map.name),
        )
        .hint(hint)
    };
    // Without BTF, `01 00 00 00` (unquoted, with spaces) means bytes.
    let value = match layout {
        Layout::Bytes { .. } if text.trim().contains(' ') => Value::Hex(text.trim().to_string()),
        _ => value::parse(text).map_err(&usage)?,
    };
    let mut zeroed = Vec::new();
    let bytes = layout.encode(&value, &mut zeroed).map_err(&usage)?;
    if !zeroed.is_empty() {
        eprintln!("Note: {what} fields not given are 0: {}", zeroed.join(", "));
    }
    Ok(bytes)
}

/// Maps whose entries user space cannot read at all.
fn refuse_unreadable(map: &Summary) -> Result<(), Failure> {
    let why = match map.ty {
        MapType::PerfEventArray => {
            "it holds perf event fds, which a program writes samples through"
        }
        MapType::RingBuf | MapType::UserRingBuf => {
            "a ring buffer is read by consuming it, not by key"
        }
        MapType::Xskmap | MapType::Sockmap | MapType::Sockhash => "its values are sockets",
        _ => return Ok(()),
    };
    Err(Failure::new(
        Exit::Fail,
        format!(
            "map {} ({}) has no entries to read: {why}",
            map.name, map.type_name
        ),
    )
    .hint(format!(
        "MAP is {MAP_FORMS}; xdp-loader map list IFNAME shows what there is"
    )))
}
