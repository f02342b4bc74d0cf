//! basic02 (programs picked by name: drop, abort) and basic03 (counting in
//! xdp_stats_map: bytes, the verdict's slot, per-CPU).

use libbpf_rs::{MapCore, MapFlags, MapType};

use super::frames::{
    self, echo_request, ethernet, ip, tag, Ips, ETH_P_IP, ETH_P_IPV6, ETH_P_LOCAL,
};
use super::lab::{Watch, IP4_PEER, IP4_XDP, IP6_PEER, IP6_XDP, MAC_PEER, MAC_XDP};
use super::trace_events::TraceEvents;
use super::{verdicts, Lesson, Probe, Subject};

pub const BASIC02: Lesson = Lesson {
    name: "basic02",
    builtin: Some("xdp_prog"),
    assignments: &[
        "load xdp_drop_func by name: pings are dropped",
        "xdp_abort_func returns XDP_ABORTED: pings are dropped and xdp:xdp_exception fires",
    ],
    check: check_basic02,
};

pub const BASIC03: Lesson = Lesson {
    name: "basic03",
    builtin: Some("xdp_stats1"),
    assignments: &[
        "xdp_stats_map counts bytes (rx_bytes) next to packets",
        "xdp_stats_record_action() counts every verdict in its own slot",
        "xdp_stats_map is a PERCPU_ARRAY",
    ],
    check: check_basic03,
};

/// Three pings: ICMPv6 seq 1 and 2, ICMP seq 1; all must be dropped.
fn pings() -> Vec<Probe> {
    let ping = |ips: Ips, seq: u16, id: u32| {
        let (proto, icmp) = echo_request(ips, seq, &tag(id));
        let eth = if matches!(ips, Ips::V4(..)) {
            ETH_P_IP
        } else {
            ETH_P_IPV6
        };
        ethernet(MAC_XDP, MAC_PEER, &[], eth, &ip(ips, proto, 64, &[], &icmp))
    };
    let v6 = Ips::v6(IP6_PEER, IP6_XDP);
    let v4 = Ips::v4(IP4_PEER, IP4_XDP);
    vec![
        Probe {
            what: "ICMPv6 echo request seq 1".into(),
            frame: ping(v6, 1, 1),
            pass: false,
        },
        Probe {
            what: "ICMPv6 echo request seq 2".into(),
            frame: ping(v6, 2, 2),
            pass: false,
        },
        Probe {
            what: "ICMP echo request seq 1".into(),
            frame: ping(v4, 1, 3),
            pass: false,
        },
    ]
}

fn check_basic02(subject: &Subject, number: usize) -> Result<(), String> {
    match number {
        1 => verdicts(subject, "xdp_drop_func", &pings()),
        2 => {
            let program = "xdp_abort_func";
            let loaded = subject.program(program)?;
            let prog_id = loaded.program_id().ok_or("the loaded program has no id")?;
            let filter = format!("prog_id == {prog_id}");
            let events = TraceEvents::watch("xdp/xdp_exception", Some(filter))
                .map_err(|e| format!("the check could not watch xdp:xdp_exception: {e}"))?;
            let probes = pings();
            verdicts(subject, program, &probes)?;
            let fired = events
                .lines()
                .map_err(|e| format!("the check could not read the trace: {e}"))?
                .iter()
                .filter(|l| l.contains("xdp_exception"))
                .count();
            match fired >= probes.len() {
                true => Ok(()),
                false => Err(format!(
                    "{} pings were dropped, but xdp:xdp_exception fired {fired} times for {program} (XDP_DROP drops silently; XDP_ABORTED fires the tracepoint)",
                    probes.len()
                )),
            }
        }
        _ => unreachable!("basic02 has 2 assignments"),
    }
}

const STATS_PROGRAM: &str = "xdp_stats1_func";
const XDP_PASS: usize = 2;

/// One slot of xdp_stats_map, summed over the CPUs.
#[derive(Clone, Copy, Default, Debug, PartialEq)]
struct Slot {
    packets: u64,
    bytes: Option<u64>,
}

/// What the map is and holds: (type, value size, the 5 slots).
fn read_stats(subject: &Subject) -> Result<(MapType, u32, Vec<Slot>), String> {
    let loaded = subject.program(STATS_PROGRAM)?;
    let map = loaded
        .object
        .maps()
        .find(|m| m.name() == "xdp_stats_map")
        .ok_or("the object has no map xdp_stats_map")?;
    let handle = libbpf_rs::MapHandle::try_from(&map).map_err(|e| format!("xdp_stats_map: {e}"))?;
    let (kind, size) = (handle.map_type(), handle.value_size());
    let mut slots = Vec::new();
    for key in 0..5u32 {
        let values: Vec<Vec<u8>> = match kind {
            MapType::PercpuArray => handle
                .lookup_percpu(&key.to_ne_bytes(), MapFlags::ANY)
                .map_err(|e| e.to_string())?
                .unwrap_or_default(),
            _ => handle
                .lookup(&key.to_ne_bytes(), MapFlags::ANY)
                .map_err(|e| e.to_string())?
                .into_iter()
                .collect(),
        };
        let field = |v: &Vec<u8>, at: usize| {
            v.get(at..at + 8)
                .map(|b| u64::from_ne_bytes(b.try_into().unwrap()))
        };
        let mut slot = Slot {
            packets: 0,
            bytes: (size >= 16).then_some(0),
        };
        for v in &values {
            slot.packets += field(v, 0).unwrap_or(0);
            if let (Some(total), Some(b)) = (slot.bytes.as_mut(), field(v, 8)) {
                *total += b;
            }
        }
        slots.push(slot);
    }
    Ok((kind, size, slots))
}

fn check_basic03(subject: &Subject, number: usize) -> Result<(), String> {
    subject.attach(STATS_PROGRAM)?;
    // Frames of different sizes no program parses: all pass, each counted.
    let sizes = [60usize, 100, 333, 1000];
    let frames: Vec<(u32, Vec<u8>)> = sizes
        .iter()
        .enumerate()
        .map(|(i, &len)| {
            let mut payload = vec![0u8; len - 14 - 8];
            payload.extend_from_slice(&tag(i as u32));
            (
                i as u32,
                ethernet(MAC_XDP, MAC_PEER, &[], ETH_P_LOCAL, &payload),
            )
        })
        .collect();
    let (_, _, before) = read_stats(subject)?;
    let seen = subject.expect_all(&frames, Watch::Xdp)?;
    let (kind, size, after) = read_stats(subject)?;
    if seen.len() != frames.len() {
        return Err(format!(
            "{STATS_PROGRAM} let {} of {} frames through; it should pass them all",
            seen.len(),
            frames.len()
        ));
    }
    // The marker frame that ends each batch passes and is counted too.
    let sent = frames.len() as u64 + 1;
    let sent_bytes = sizes.iter().sum::<usize>() as u64
        + frames::ethernet(MAC_XDP, MAC_PEER, &[], ETH_P_LOCAL, &tag(0)).len() as u64;
    let delta: Vec<Slot> = after
        .iter()
        .zip(&before)
        .map(|(a, b)| Slot {
            packets: a.packets - b.packets,
            bytes: a.bytes.zip(b.bytes).map(|(a, b)| a - b),
        })
        .collect();
    // Assignments 1 and 3 count wherever the program counts; 2 checks where.
    let packets: u64 = delta.iter().map(|d| d.packets).sum();
    let bytes: Option<u64> = delta.iter().map(|d| d.bytes).sum();
    match number {
        1 => match bytes {
            None => Err(format!("xdp_stats_map's value is {size} bytes: no rx_bytes after rx_packets (expected 16)")),
            Some(bytes) if bytes != sent_bytes || packets != sent => Err(format!(
                "{sent} frames of {sent_bytes} bytes in all passed; xdp_stats_map counted {packets} packets, {bytes} bytes"
            )),
            Some(_) => Ok(()),
        },
        2 => {
            let wrong: Vec<String> = delta
                .iter()
                .enumerate()
                .filter(|(slot, d)| d.packets != if *slot == XDP_PASS { sent } else { 0 })
                .map(|(slot, d)| format!("slot {slot} counted {}", d.packets))
                .collect();
            match wrong.is_empty() {
                true => Ok(()),
                false => Err(format!("{sent} packets passed (XDP_PASS = slot 2); {}", wrong.join(", "))),
            }
        }
        3 => match kind {
            MapType::PercpuArray if packets == sent => Ok(()),
            MapType::PercpuArray => Err(format!("{sent} packets passed; the CPUs' counters add up to {packets}")),
            other => Err(format!("xdp_stats_map is a {other:?} map, not a PercpuArray")),
        },
        _ => unreachable!("basic03 has 3 assignments"),
    }
}
