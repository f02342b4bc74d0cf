//! basic04: the loader and the stats reader, each graded on its own.
//! The reader reads a map this module pins, then a second map pinned in
//! its place; the loader is run twice and must leave the first map pinned
//! and in use.

use std::path::Path;

use libbpf_rs::{MapCore, MapHandle, MapType};

use super::net::Net;
use super::program::{run_to_end, Running};
use super::{stats, UserCheck};

const READER: &str =
    "1: the stats reader follows the map id (reopens the pin when a reload replaced the map)";
const LOADER: &str = "2: the loader reuses the pinned map (a reload keeps the counters)";
/// Samples the reader gets to notice the new map.
const SAMPLES_TO_FOLLOW: usize = 6;

pub fn grade(programs: &[&Path]) -> Vec<UserCheck> {
    vec![
        UserCheck {
            assignment: READER,
            result: reader(programs[1]),
        },
        UserCheck {
            assignment: LOADER,
            result: loader(programs[0]),
        },
    ]
}

/// A per-CPU array shaped like xdp_stats_map, filled (see `stats::fill`).
fn new_stats_map(seed: u64) -> Result<MapHandle, String> {
    let opts = libbpf_rs::libbpf_sys::bpf_map_create_opts {
        sz: std::mem::size_of::<libbpf_rs::libbpf_sys::bpf_map_create_opts>() as _,
        ..Default::default()
    };
    let map = MapHandle::create(MapType::PercpuArray, Some("xdp_stats_map"), 4, 16, 5, &opts)
        .map_err(|e| format!("create a stats map: {e}"))?;
    stats::fill(&map, seed)?;
    Ok(map)
}

fn pin_at(map: &mut MapHandle, net: &Net) -> Result<(), String> {
    let pin = format!("{}/xdp_stats_map", net.pin_dir());
    let _ = std::fs::remove_file(&pin);
    std::fs::create_dir_all(net.pin_dir()).map_err(|e| format!("{}: {e}", net.pin_dir()))?;
    map.pin(&pin).map_err(|e| format!("pin {pin}: {e}"))
}

fn id_of(map: &MapHandle) -> Result<u32, String> {
    Ok(map.info().map_err(|e| e.to_string())?.info.id)
}

fn reader(program: &Path) -> Result<(), String> {
    let net = Net::create()?;
    let mut first = new_stats_map(1)?;
    pin_at(&mut first, &net)?;
    let mut running = Running::spawn(program, &[&net.ifname, "--interval", "0.5"])?;
    let want = stats::kernel(&first)?;
    let printed = stats::printed(&running.block_read_after_now("period")?);
    if printed != want.map(Some) {
        let why: Vec<String> = stats::compare(&printed, &want)
            .into_iter()
            .filter_map(Result::err)
            .collect();
        return Err(format!(
            "it prints the pinned map wrong: {}",
            why.join("; ")
        ));
    }

    let mut second = new_stats_map(2)?;
    pin_at(&mut second, &net)?;
    let want = stats::kernel(&second)?.map(Some);
    for _ in 0..SAMPLES_TO_FOLLOW {
        if stats::printed(&running.next_block("period")?) == want {
            return Ok(());
        }
    }
    Err(format!(
        "the pin moved from map id {} to {}; {SAMPLES_TO_FOLLOW} samples later the program still printed other counters than the new map's",
        id_of(&first)?,
        id_of(&second)?
    ))
}

fn loader(program: &Path) -> Result<(), String> {
    let net = Net::create()?;
    let pin = format!("{}/xdp_stats_map", net.pin_dir());
    run_to_end(program, &[&net.ifname, "xdp_pass_func"])?;
    let first = MapHandle::from_pinned_path(&pin)
        .map_err(|e| format!("after the first load, {pin}: {e}"))?;
    let first_id = id_of(&first)?;
    stats::fill(&first, 3)?;
    run_to_end(program, &[&net.ifname, "xdp_drop_func", "--force"])?;
    let second =
        MapHandle::from_pinned_path(&pin).map_err(|e| format!("after the reload, {pin}: {e}"))?;
    let second_id = id_of(&second)?;
    if second_id != first_id {
        return Err(format!(
            "the reload pinned a new map (id {first_id}, then {second_id}): the counters were lost"
        ));
    }
    let (prog, used) = net
        .attached_program()
        .map_err(|e| format!("after the reload, {e}"))?;
    if !used.contains(&first_id) {
        return Err(format!(
            "the reloaded program (id {prog}) uses maps {used:?}, not the pinned map {first_id}"
        ));
    }
    Ok(())
}
