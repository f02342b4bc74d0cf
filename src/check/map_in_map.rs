//! The maps lesson: xdp_proto_count_func counts packets and bytes per IP
//! protocol in the inner map of `counters` slot 0, and in the inner map
//! `counters_by_ifindex` holds for the ingress interface. The counts are
//! read through the kernel: outer map -> inner map id -> its entries.

use std::os::fd::{AsFd, AsRawFd};

use libbpf_rs::{MapCore, MapFlags, MapHandle, MapType};

use super::frames::{
    echo_request, ethernet, ip, tag, tcp_syn, udp, Ips, ETH_P_IP, ETH_P_IPV6, ETH_P_LOCAL,
    IPPROTO_TCP, IPPROTO_UDP,
};
use super::lab::{Watch, IP4_PEER, IP4_XDP, IP6_PEER, IP6_XDP, MAC_PEER, MAC_XDP};
use super::{Lesson, Subject};

pub const MAPS: Lesson = Lesson {
    name: "maps",
    builtin: Some("xdp_map_in_map"),
    assignments: &[
        "xdp_proto_count_func counts packets and bytes per IP protocol in the inner map in counters[0]",
        "xdp_proto_count_func also counts in the inner map counters_by_ifindex holds for the ingress interface",
    ],
    check,
};

const PROGRAM: &str = "xdp_proto_count_func";
/// The slot of frames that are not IP.
const NOT_IP: u32 = 255;
const PROTOCOLS: [u32; 5] = [1, 6, 17, 58, NOT_IP];

/// (packets, bytes) per protocol of PROTOCOLS.
type Counts = [(u64, u64); 5];

fn check(subject: &Subject, number: usize) -> Result<(), String> {
    let loaded = subject.program(PROGRAM)?;
    let map = |name: &str| -> Result<MapHandle, String> {
        let found = loaded
            .object
            .maps()
            .find(|m| m.name() == name)
            .ok_or(format!("the object has no map {name}"))?;
        MapHandle::try_from(&found).map_err(|e| format!("{name}: {e}"))
    };
    let inner = match number {
        1 => {
            let id = map("counters")?
                .lookup(&0u32.to_ne_bytes(), MapFlags::ANY)
                .map_err(|e| e.to_string())?
                .ok_or("counters[0] holds no inner map")?;
            MapHandle::from_map_id(u32::from_ne_bytes(id[..4].try_into().unwrap()))
                .map_err(|e| e.to_string())?
        }
        _ => {
            // A fresh inner map shaped like proto_counts, for `tested`.
            let like = map("proto_counts")?;
            let opts = libbpf_sys::bpf_map_create_opts {
                sz: std::mem::size_of::<libbpf_sys::bpf_map_create_opts>() as _,
                ..Default::default()
            };
            let max_entries = like.info().map_err(|e| e.to_string())?.info.max_entries;
            let inner = MapHandle::create(
                MapType::Array,
                Some("check_inner"),
                like.key_size(),
                like.value_size(),
                max_entries,
                &opts,
            )
            .map_err(|e| format!("cannot create an inner map: {e}"))?;
            let ifindex = subject
                .lab
                .in_namespace_a(|| Ok(crate::iface::resolve("tested")?.index))
                .map_err(|f| f.message)?;
            let fd = inner.as_fd().as_raw_fd() as u32;
            map("counters_by_ifindex")?
                .update(&ifindex.to_ne_bytes(), &fd.to_ne_bytes(), MapFlags::ANY)
                .map_err(|e| format!("cannot put an inner map in counters_by_ifindex: {e}"))?;
            inner
        }
    };
    subject.attach(PROGRAM)?;
    let v4 = Ips::v4(IP4_PEER, IP4_XDP);
    let v6 = Ips::v6(IP6_PEER, IP6_XDP);
    let (icmp6_proto, icmp6) = echo_request(v6, 1, &tag(3));
    let frames: Vec<(u32, Vec<u8>)> = vec![
        (
            0,
            ethernet(
                MAC_XDP,
                MAC_PEER,
                &[],
                ETH_P_IP,
                &ip(v4, IPPROTO_UDP, 64, &[], &udp(v4, 1, 2, &tag(0))),
            ),
        ),
        (
            1,
            ethernet(
                MAC_XDP,
                MAC_PEER,
                &[],
                ETH_P_IP,
                &ip(
                    v4,
                    IPPROTO_UDP,
                    64,
                    &[],
                    &udp(v4, 1, 2, &[&[0u8; 100][..], &tag(1)].concat()),
                ),
            ),
        ),
        (
            2,
            ethernet(
                MAC_XDP,
                MAC_PEER,
                &[],
                ETH_P_IPV6,
                &ip(v6, IPPROTO_TCP, 64, &[], &tcp_syn(v6, 1, 2, &tag(2))),
            ),
        ),
        (
            3,
            ethernet(
                MAC_XDP,
                MAC_PEER,
                &[],
                ETH_P_IPV6,
                &ip(v6, icmp6_proto, 64, &[], &icmp6),
            ),
        ),
    ];
    // What should be counted: these frames, and the marker that ends the batch (not IP).
    let marker_len = ethernet(MAC_XDP, MAC_PEER, &[], ETH_P_LOCAL, &tag(0)).len() as u64;
    let mut want: Counts = [(0, 0); 5];
    for (index, proto) in [(0, 17), (1, 17), (2, 6), (3, 58)] {
        let slot = PROTOCOLS.iter().position(|p| *p == proto).unwrap();
        want[slot].0 += 1;
        want[slot].1 += frames[index].1.len() as u64;
    }
    want[4] = (1, marker_len);

    let before = read(&inner)?;
    subject.expect_all(&frames, Watch::Xdp)?;
    let after = read(&inner)?;
    let got: Vec<(u64, u64)> = after
        .iter()
        .zip(&before)
        .map(|(a, b)| (a.0 - b.0, a.1 - b.1))
        .collect();
    let wrong: Vec<String> = PROTOCOLS
        .iter()
        .zip(want.iter().zip(&got))
        .filter(|(_, (w, g))| w != g)
        .map(|(proto, (w, g))| {
            format!(
                "protocol {proto}: counted {} packets, {} bytes (expected {}, {})",
                g.0, g.1, w.0, w.1
            )
        })
        .collect();
    let which = if number == 1 {
        "the inner map in counters[0]"
    } else {
        "the inner map counters_by_ifindex holds for the interface"
    };
    match wrong.is_empty() {
        true => Ok(()),
        false => Err(format!("in {which}: {}", wrong.join("; "))),
    }
}

/// (rx_packets, rx_bytes) of each protocol's slot.
fn read(inner: &MapHandle) -> Result<Counts, String> {
    let mut counts = [(0, 0); 5];
    for (slot, proto) in PROTOCOLS.iter().enumerate() {
        let value = inner
            .lookup(&proto.to_ne_bytes(), MapFlags::ANY)
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        let field = |at: usize| {
            value
                .get(at..at + 8)
                .map_or(0, |b| u64::from_ne_bytes(b.try_into().unwrap()))
        };
        counts[slot] = (field(0), field(8));
    }
    Ok(counts)
}
