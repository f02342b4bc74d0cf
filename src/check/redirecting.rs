//! packet03: XDP_TX echo replies, bpf_redirect to the interface in a map,
//! bpf_redirect_map by source MAC, and the bpf_fib_lookup router. The
//! frames are watched where they should arrive: back at `peer`, or at
//! `sink` behind `out`.

use libbpf_rs::{MapCore, MapFlags};

use super::frames::{
    self, echo_request, ethernet, ip, l4_of, parse, tag, udp, Ips, ETH_P_IP, ETH_P_IPV6,
    ETH_P_LOCAL, IPPROTO_UDP,
};
use super::lab::{
    Watch, IP4_PEER, IP4_SINK, IP6_PEER, IP6_XDP, MAC_OUT, MAC_PEER, MAC_SINK, MAC_XDP,
};
use super::{Lesson, Subject};

pub const PACKET03: Lesson = Lesson {
    name: "packet03",
    builtin: Some("xdp_redirect"),
    assignments: &[
        "xdp_icmp_echo_func answers ICMP and ICMPv6 echo requests with XDP_TX",
        "xdp_redirect_func sends frames to the interface in redirect_target",
        "xdp_redirect_map_func forwards by source MAC through redirect_params and tx_port",
        "xdp_router_func forwards with bpf_fib_lookup() and lowers the TTL",
    ],
    check,
};

/// Not an address of namespace A: only the program can answer it.
const IP4_NOBODY: &str = "10.200.1.99";

fn check(subject: &Subject, number: usize) -> Result<(), String> {
    match number {
        1 => echo(subject),
        2 => redirect(subject),
        3 => redirect_map(subject),
        4 => router(subject),
        _ => unreachable!("packet03 has 4 assignments"),
    }
}

fn all_ok(wrong: Vec<String>) -> Result<(), String> {
    match wrong.is_empty() {
        true => Ok(()),
        false => Err(wrong.join("; ")),
    }
}

fn echo(subject: &Subject) -> Result<(), String> {
    subject.attach("xdp_icmp_echo_func")?;
    let cases = [
        ("ICMPv6", Ips::v6(IP6_PEER, IP6_XDP), ETH_P_IPV6),
        ("ICMP", Ips::v4(IP4_PEER, IP4_NOBODY), ETH_P_IP),
    ];
    let frames: Vec<(u32, Vec<u8>)> = cases
        .iter()
        .enumerate()
        .map(|(i, (_, ips, eth))| {
            let (proto, icmp) = echo_request(*ips, 7, &tag(i as u32));
            (
                i as u32,
                ethernet(
                    MAC_XDP,
                    MAC_PEER,
                    &[],
                    *eth,
                    &ip(*ips, proto, 64, &[], &icmp),
                ),
            )
        })
        .collect();
    let seen = subject.expect_all(&frames, Watch::Peer)?;
    let mut wrong = Vec::new();
    for (i, (what, ips, _)) in cases.iter().enumerate() {
        let Some(got) = seen.get(&(i as u32)) else {
            wrong.push(format!(
                "no reply to an {what} echo request came back to the sender"
            ));
            continue;
        };
        let (_, want) = frames::echo(swap(*ips), true, 7, &tag(i as u32));
        let p = parse(got);
        let icmp = p
            .as_ref()
            .and_then(|p| l4_of(got, p))
            .and_then(|(_, _, at, ips)| Some((got.get(at..)?, ips)));
        match (p, icmp) {
            (Some(p), _) if (p.dst, p.src) != (MAC_PEER, MAC_XDP) => wrong.push(format!(
                "the {what} reply goes from {} to {} (expected the MACs swapped: {} to {})",
                frames::mac_text(&p.src),
                frames::mac_text(&p.dst),
                frames::mac_text(&MAC_XDP),
                frames::mac_text(&MAC_PEER)
            )),
            (_, Some((icmp, _))) if icmp[0] != want[0] => wrong.push(format!("the {what} reply has ICMP type {} (expected {})", icmp[0], want[0])),
            (_, Some((_, got_ips))) if format!("{got_ips:?}") != format!("{:?}", swap(*ips)) => {
                wrong.push(format!("the {what} reply's IP addresses are not the request's swapped"))
            }
            (_, Some((icmp, _))) if icmp != want.as_slice() || !frames::l4_checksum_ok(got) => {
                wrong.push(format!("the {what} reply's checksum does not verify (or its id, sequence or data changed)"))
            }
            (_, Some(_)) => {}
            _ => wrong.push(format!("the {what} reply is not an IP packet")),
        }
    }
    all_ok(wrong)
}

fn swap(ips: Ips) -> Ips {
    match ips {
        Ips::V4(s, d) => Ips::V4(d, s),
        Ips::V6(s, d) => Ips::V6(d, s),
    }
}

/// Sets `map[key] = value` in the loaded object of `program`.
fn fill(
    subject: &Subject,
    program: &str,
    map: &str,
    key: &[u8],
    value: &[u8],
) -> Result<(), String> {
    let loaded = subject.program(program)?;
    let found = loaded
        .object
        .maps()
        .find(|m| m.name() == map)
        .ok_or(format!("the object has no map {map}"))?;
    let handle = libbpf_rs::MapHandle::try_from(&found).map_err(|e| format!("{map}: {e}"))?;
    let mut value = value.to_vec();
    value.resize(handle.value_size() as usize, 0);
    // From namespace A: a devmap resolves the ifindex in the updater's namespace.
    subject
        .lab
        .in_namespace_a(|| Ok(handle.update(key, &value, MapFlags::ANY)))
        .map_err(|f| f.message)?
        .map_err(|e| {
            format!(
                "cannot fill {map}: {e} (key {} bytes, value {} bytes)",
                key.len(),
                value.len()
            )
        })
}

/// Frames from `src` that should all arrive at `sink` addressed to it.
fn to_sink(subject: &Subject, src: [u8; 6], count: u32) -> Result<Vec<String>, String> {
    let frames: Vec<(u32, Vec<u8>)> = (0..count)
        .map(|i| (i, ethernet(MAC_XDP, src, &[], ETH_P_LOCAL, &tag(i))))
        .collect();
    let seen = subject.expect_all(&frames, Watch::Sink)?;
    let mut wrong = Vec::new();
    if seen.len() < frames.len() {
        wrong.push(format!(
            "{} of {count} frames arrived at the target interface",
            seen.len()
        ));
    }
    for got in seen.values() {
        if got[..6] != MAC_SINK {
            wrong.push(format!(
                "a redirected frame is addressed to {} (expected the MAC from the map, {})",
                frames::mac_text(got[..6].try_into().unwrap()),
                frames::mac_text(&MAC_SINK)
            ));
            break;
        }
    }
    Ok(wrong)
}

fn redirect(subject: &Subject) -> Result<(), String> {
    let program = "xdp_redirect_func";
    let mut target = subject.lab.ifindex_out.to_ne_bytes().to_vec();
    target.extend_from_slice(&MAC_SINK);
    fill(
        subject,
        program,
        "redirect_target",
        &0u32.to_ne_bytes(),
        &target,
    )?;
    subject.attach(program)?;
    all_ok(to_sink(subject, MAC_PEER, 3)?)
}

fn redirect_map(subject: &Subject) -> Result<(), String> {
    let program = "xdp_redirect_map_func";
    fill(
        subject,
        program,
        "tx_port",
        &0u32.to_ne_bytes(),
        &subject.lab.ifindex_out.to_ne_bytes(),
    )?;
    fill(subject, program, "redirect_params", &MAC_PEER, &MAC_SINK)?;
    subject.attach(program)?;
    let mut wrong = to_sink(subject, MAC_PEER, 3)?;
    // A source MAC not in redirect_params: not forwarded, it passes.
    let stranger = [2, 0, 0, 0, 0, 0xee];
    let frame = (7, ethernet(MAC_XDP, stranger, &[], ETH_P_LOCAL, &tag(7)));
    let passed = subject
        .lab
        .exchange(&[frame], Watch::Xdp, 1)
        .map_err(|f| f.message)?;
    if passed.is_empty() {
        wrong.push(format!(
            "a frame from {} (not in redirect_params) did not pass",
            frames::mac_text(&stranger)
        ));
    }
    all_ok(wrong)
}

fn router(subject: &Subject) -> Result<(), String> {
    subject.attach("xdp_router_func")?;
    // Forwarding on only here: elsewhere a passed frame for another
    // address would be forwarded (or answered with an ICMP redirect).
    let _forwarding = subject.lab.forwarding().map_err(|f| f.message)?;
    let ips = Ips::v4(IP4_PEER, IP4_SINK);
    let frame = ethernet(
        MAC_XDP,
        MAC_PEER,
        &[],
        ETH_P_IP,
        &ip(ips, IPPROTO_UDP, 64, &[], &udp(ips, 1000, 2000, &tag(0))),
    );
    let before = subject.lab.forwarded_by_kernel().map_err(|f| f.message)?;
    let seen = subject
        .lab
        .exchange(&[(0, frame)], Watch::Sink, 1)
        .map_err(|f| f.message)?;
    let by_kernel = subject.lab.forwarded_by_kernel().map_err(|f| f.message)? - before;
    let Some(got) = seen.get(&0) else {
        return Err(format!(
            "a UDP packet from {IP4_PEER} to {IP4_SINK} (routed out of `out`) never arrived"
        ));
    };
    let p = parse(got).ok_or("the forwarded frame is unreadable")?;
    let ttl = l4_of(got, &p).map(|(_, ttl, _, _)| ttl);
    let mut wrong = Vec::new();
    if by_kernel > 0 {
        wrong.push("the kernel forwarded it (Ip ForwDatagrams grew): the program passed it instead of redirecting".into());
    }
    if ttl != Some(63) {
        wrong.push(format!(
            "it arrived with TTL {} (sent with 64, expected 63)",
            ttl.unwrap_or(0)
        ));
    }
    if !frames::ipv4_checksum_ok(got, &p) {
        wrong.push("its IPv4 header checksum does not verify".into());
    }
    if (p.dst, p.src) != (MAC_SINK, MAC_OUT) {
        wrong.push(format!(
            "it went from {} to {} (expected the neighbour's MACs: {} to {})",
            frames::mac_text(&p.src),
            frames::mac_text(&p.dst),
            frames::mac_text(&MAC_OUT),
            frames::mac_text(&MAC_SINK)
        ));
    }
    all_ok(wrong)
}
