//! basic03: the stats reader. The program loads xdp_stats1 itself; once
//! it prints, every CPU's copy of every slot gets a known value, pings add
//! XDP_PASS packets, and a block it printed afterwards must equal the
//! kernel's sums.

use std::path::Path;

use libbpf_rs::{MapCore, MapHandle};

use super::net::Net;
use super::program::Running;
use super::{all_failed, stats, UserCheck};

const ASSIGNMENTS: [&str; 3] = [
    "1: byte counter (bytes printed per action)",
    "2: stats for all actions",
    "3: per-CPU counters summed",
];

/// Samples to wait for the counters to stand still.
const STEADY_TRIES: usize = 10;

pub fn grade(programs: &[&Path]) -> Vec<UserCheck> {
    match measure(programs[0]) {
        Ok(results) => ASSIGNMENTS
            .iter()
            .zip(results)
            .map(|(&assignment, result)| UserCheck { assignment, result })
            .collect(),
        Err(why) => all_failed(&ASSIGNMENTS, &why),
    }
}

fn measure(program: &Path) -> Result<[Result<(), String>; 3], String> {
    let net = Net::create()?;
    let mut running = Running::spawn(program, &[&net.ifname, "--interval", "0.5"])?;
    running.next_block("period")?;
    let map = attached_stats_map(&net)?;
    stats::fill(&map, 1)?;
    net.ping(3)?;
    // A new link's own first packets (IPv6 reports) may still come in:
    // grade a block read while the kernel's counters stood still.
    for _ in 0..STEADY_TRIES {
        let before = stats::kernel(&map)?;
        let block = running.block_read_after_now("period")?;
        if stats::kernel(&map)? == before {
            return Ok(stats::compare(&stats::printed(&block), &before));
        }
    }
    Err(format!(
        "packets kept arriving on {} during {STEADY_TRIES} samples",
        net.ifname
    ))
}

/// The xdp_stats_map of the XDP program attached to the test interface.
fn attached_stats_map(net: &Net) -> Result<MapHandle, String> {
    let (_, ids) = net.attached_program()?;
    ids.into_iter()
        .filter_map(|id| MapHandle::from_map_id(id).ok())
        .find(|m| m.name() == "xdp_stats_map")
        .ok_or_else(|| {
            format!(
                "the program attached to {} has no xdp_stats_map",
                net.ifname
            )
        })
}
