//! packet02: the port rewrite (destination port - 1, checksum still valid)
//! and the VLAN swap (pop the outer tag of tagged frames, tag untagged
//! frames with VLAN 1), compared byte by byte with what `tested` receives.

use super::frames::{
    self, ethernet, ip, l4_of, parse, tag, tcp_syn, udp, Ips, ETH_P_8021AD, ETH_P_8021Q, ETH_P_IP,
    ETH_P_IPV6, IPPROTO_TCP, IPPROTO_UDP,
};
use super::lab::{Watch, IP4_PEER, IP4_XDP, IP6_PEER, IP6_XDP, MAC_PEER, MAC_XDP};
use super::{Lesson, Subject};

/// VLAN tags (TPID, TCI), outermost first.
type Tags = [(u16, u16)];

pub const PACKET02: Lesson = Lesson {
    name: "packet02",
    builtin: Some("xdp_rewrite"),
    assignments: &[
        "xdp_port_rewrite_func: UDP and TCP destination port minus 1, checksum still valid",
        "vlan_tag_pop(): xdp_vlan_swap_func removes the outer VLAN tag of tagged frames",
        "vlan_tag_push(): xdp_vlan_swap_func tags untagged frames with VLAN 1",
    ],
    check,
};

fn check(subject: &Subject, number: usize) -> Result<(), String> {
    match number {
        1 => ports(subject),
        2 => vlans(
            subject,
            &[
                (&[(ETH_P_8021Q, 5)], &[]),
                (&[(ETH_P_8021AD, 6), (ETH_P_8021Q, 7)], &[(ETH_P_8021Q, 7)]),
            ],
        ),
        3 => vlans(subject, &[(&[], &[(ETH_P_8021Q, 1)])]),
        _ => unreachable!("packet02 has 3 assignments"),
    }
}

/// A UDP/IPv6 frame behind `tags`, the same payload every time.
fn tagged(tags: &[(u16, u16)], id: u32) -> Vec<u8> {
    let v6 = Ips::v6(IP6_PEER, IP6_XDP);
    ethernet(
        MAC_XDP,
        MAC_PEER,
        tags,
        ETH_P_IPV6,
        &ip(v6, IPPROTO_UDP, 64, &[], &udp(v6, 1000, 2000, &tag(id))),
    )
}

fn ports(subject: &Subject) -> Result<(), String> {
    subject.attach("xdp_port_rewrite_func")?;
    let v4 = Ips::v4(IP4_PEER, IP4_XDP);
    let v6 = Ips::v6(IP6_PEER, IP6_XDP);
    let frame = |ips: Ips, proto: u8, id: u32| {
        let l4 = match proto {
            IPPROTO_UDP => udp(ips, 1000, 2001, &tag(id)),
            _ => tcp_syn(ips, 1000, 2001, &tag(id)),
        };
        let eth = if matches!(ips, Ips::V4(..)) {
            ETH_P_IP
        } else {
            ETH_P_IPV6
        };
        ethernet(MAC_XDP, MAC_PEER, &[], eth, &ip(ips, proto, 64, &[], &l4))
    };
    let sent = [
        ("UDP/IPv4", frame(v4, IPPROTO_UDP, 0)),
        ("UDP/IPv6", frame(v6, IPPROTO_UDP, 1)),
        ("TCP/IPv4", frame(v4, IPPROTO_TCP, 2)),
        ("TCP/IPv6", frame(v6, IPPROTO_TCP, 3)),
    ];
    let frames: Vec<(u32, Vec<u8>)> = sent
        .iter()
        .enumerate()
        .map(|(i, (_, f))| (i as u32, f.clone()))
        .collect();
    let seen = subject.expect_all(&frames, Watch::Xdp)?;
    let mut wrong = Vec::new();
    for (i, (what, _)) in sent.iter().enumerate() {
        let Some(got) = seen.get(&(i as u32)) else {
            wrong.push(format!("{what} to port 2001 was dropped"));
            continue;
        };
        let port = parse(got)
            .and_then(|p| l4_of(got, &p))
            .and_then(|(_, _, at, _)| {
                got.get(at + 2..at + 4)
                    .map(|b| u16::from_be_bytes([b[0], b[1]]))
            });
        match port {
            Some(2000) if frames::l4_checksum_ok(got) => {}
            Some(2000) => wrong.push(format!(
                "{what} to port 2001 arrived for port 2000 with a checksum that does not verify"
            )),
            Some(other) => wrong.push(format!(
                "{what} to port 2001 arrived for port {other} (expected 2000)"
            )),
            None => wrong.push(format!("{what} to port 2001 arrived unreadable")),
        }
    }
    match wrong.is_empty() {
        true => Ok(()),
        false => Err(wrong.join("; ")),
    }
}

/// Sends frames with the first tags of each case and expects them to
/// arrive with the second tags, the rest of the frame unchanged.
fn vlans(subject: &Subject, cases: &[(&Tags, &Tags)]) -> Result<(), String> {
    subject.attach("xdp_vlan_swap_func")?;
    let frames: Vec<(u32, Vec<u8>)> = cases
        .iter()
        .enumerate()
        .map(|(i, (sent, _))| (i as u32, tagged(sent, i as u32)))
        .collect();
    let seen = subject.expect_all(&frames, Watch::Xdp)?;
    let mut wrong = Vec::new();
    for (i, (sent, want)) in cases.iter().enumerate() {
        let what = match sent.is_empty() {
            true => "an untagged frame".to_owned(),
            false => format!("a frame tagged {}", tags_text(sent)),
        };
        let Some(got) = seen.get(&(i as u32)) else {
            wrong.push(format!("{what} was dropped"));
            continue;
        };
        if *got == tagged(want, i as u32) {
            continue;
        }
        let got_tags = parse(got).map(|p| p.tags).unwrap_or_default();
        wrong.push(match got_tags == *want {
            true => format!(
                "{what} arrived {} as expected, but the rest of the frame changed",
                tagged_text(want)
            ),
            false => format!(
                "{what} arrived {} (expected {})",
                tagged_text(&got_tags),
                tagged_text(want)
            ),
        });
    }
    match wrong.is_empty() {
        true => Ok(()),
        false => Err(wrong.join("; ")),
    }
}

/// "untagged" or "tagged 0x8100/vid 1".
fn tagged_text(tags: &Tags) -> String {
    match tags.is_empty() {
        true => "untagged".into(),
        false => format!("tagged {}", tags_text(tags)),
    }
}

fn tags_text(tags: &Tags) -> String {
    tags.iter()
        .map(|(tpid, tci)| format!("{tpid:#06x}/vid {}", tci & 0x0fff))
        .collect::<Vec<_>>()
        .join(" + ")
}
