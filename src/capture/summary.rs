//! One line per captured packet, tcpdump-style: MACs, then what the IP
//! layer and the protocol above it say. Anything not understood is shown
//! by its ethertype or protocol number; a short packet is shown as far as
//! it goes.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::trace::ethertype_name;

const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const ETH_P_ARP: u16 = 0x0806;
const VLAN_TAGS: [u16; 2] = [0x8100, 0x88a8];

pub fn summarize(frame: &[u8], wire_len: u32) -> String {
    let mut out = match ethernet(frame) {
        Some(text) => text,
        None => "truncated Ethernet header".to_string(),
    };
    out.push_str(&format!(", length {wire_len}"));
    out
}

fn mac(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn ethernet(frame: &[u8]) -> Option<String> {
    let mut text = format!("{} > {}", mac(frame.get(6..12)?), mac(frame.get(0..6)?));
    let mut at = 12;
    let mut ethertype = be16(frame, at)?;
    while VLAN_TAGS.contains(&ethertype) {
        let tci = be16(frame, at + 2)?;
        text.push_str(&format!(", vlan {}", tci & 0x0fff));
        at += 4;
        ethertype = be16(frame, at)?;
    }
    let payload = &frame[at + 2..];
    let upper = match ethertype {
        ETH_P_IP => ipv4(payload),
        ETH_P_IPV6 => ipv6(payload),
        ETH_P_ARP => Some("ARP".to_string()),
        other => Some(format!(
            "ethertype {other:#06x} ({})",
            ethertype_name(other)
        )),
    };
    text.push_str(", ");
    text.push_str(&upper.unwrap_or_else(|| "truncated header".to_string()));
    Some(text)
}

fn ipv4(packet: &[u8]) -> Option<String> {
    let header_len = usize::from(packet.first()? & 0x0f) * 4;
    let src = Ipv4Addr::from(<[u8; 4]>::try_from(packet.get(12..16)?).ok()?);
    let dst = Ipv4Addr::from(<[u8; 4]>::try_from(packet.get(16..20)?).ok()?);
    let proto = *packet.get(9)?;
    let next = packet.get(header_len..).unwrap_or_default();
    Some(format!(
        "IPv4 {src} > {dst}: {}",
        transport(proto, next, false)
    ))
}

fn ipv6(packet: &[u8]) -> Option<String> {
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(packet.get(8..24)?).ok()?);
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(packet.get(24..40)?).ok()?);
    let (mut next_header, mut at) = (*packet.get(6)?, 40);
    // Step over extension headers (MLD reports carry hop-by-hop options).
    while let Some(len) = extension_len(next_header, packet.get(at..)?) {
        next_header = *packet.get(at)?;
        at += len;
    }
    let next = packet.get(at..).unwrap_or_default();
    Some(format!(
        "IPv6 {src} > {dst}: {}",
        transport(next_header, next, true)
    ))
}

/// The length of an IPv6 extension header of type `kind` starting `data`
/// (None: not one, or too short to tell).
fn extension_len(kind: u8, data: &[u8]) -> Option<usize> {
    match kind {
        // hop-by-hop, routing, destination options: 8-byte units after the first 8
        0 | 43 | 60 => Some((usize::from(*data.get(1)?) + 1) * 8),
        44 => Some(8), // fragment
        _ => None,
    }
}

fn transport(proto: u8, data: &[u8], v6: bool) -> String {
    let ports = || Some((be16(data, 0)?, be16(data, 2)?));
    match (proto, v6) {
        (1, false) | (58, true) => icmp(data, v6),
        (6, _) => ports().map_or("TCP".into(), |(s, d)| format!("TCP {s} > {d}")),
        (17, _) => ports().map_or("UDP".into(), |(s, d)| format!("UDP {s} > {d}")),
        (other, _) => format!("protocol {other}"),
    }
}

fn icmp(data: &[u8], v6: bool) -> String {
    let family = if v6 { "ICMPv6" } else { "ICMP" };
    let Some(&kind) = data.first() else {
        return family.to_string();
    };
    let echo = match (kind, v6) {
        (8, false) | (128, true) => Some("echo request"),
        (0, false) | (129, true) => Some("echo reply"),
        _ => None,
    };
    match (echo, be16(data, 4), be16(data, 6)) {
        (Some(what), Some(id), Some(seq)) => format!("{family} {what}, id {id}, seq {seq}"),
        (Some(what), _, _) => format!("{family} {what}"),
        (None, _, _) => format!("{family} type {kind}"),
    }
}

/// The bytes in tcpdump -X's layout: per 16 bytes, the offset, eight
/// groups of two bytes in hex, then the printable ones as ASCII.
pub fn hex_dump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (line, chunk) in bytes.chunks(16).enumerate() {
        let hex: Vec<String> = chunk
            .chunks(2)
            .map(|pair| pair.iter().map(|b| format!("{b:02x}")).collect())
            .collect();
        let ascii: String = chunk
            .iter()
            .map(|&b| match b {
                0x20..=0x7e => b as char,
                _ => '.',
            })
            .collect();
        out.push_str(&format!(
            "\t0x{:04x}:  {:<40} {ascii}\n",
            line * 16,
            hex.join(" ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02];
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    fn ipv6_echo_request(seq: u16) -> Vec<u8> {
        let mut ip = vec![0x60, 0, 0, 0, 0, 16, 58, 64];
        ip.extend_from_slice(&"fd00::2".parse::<Ipv6Addr>().unwrap().octets());
        ip.extend_from_slice(&"fd00::1".parse::<Ipv6Addr>().unwrap().octets());
        ip.extend_from_slice(&[128, 0, 0, 0, 0x12, 0x34]);
        ip.extend_from_slice(&seq.to_be_bytes());
        ip
    }

    #[test]
    fn ipv6_ping() {
        let frame = eth(ETH_P_IPV6, &ipv6_echo_request(3));
        assert_eq!(
            summarize(&frame, 118),
            "02:00:00:00:00:02 > 02:00:00:00:00:01, IPv6 fd00::2 > fd00::1: \
             ICMPv6 echo request, id 4660, seq 3, length 118"
        );
    }

    #[test]
    fn ipv4_udp_behind_a_vlan_tag() {
        let mut ip = vec![
            0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        ip.extend_from_slice(&[0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0]);
        let mut tagged = vec![0x00, 0x05];
        tagged.extend_from_slice(&ETH_P_IP.to_be_bytes());
        tagged.extend_from_slice(&ip);
        let frame = eth(0x8100, &tagged);
        assert_eq!(
            summarize(&frame, 64),
            "02:00:00:00:00:02 > 02:00:00:00:00:01, vlan 5, IPv4 10.0.0.1 > 10.0.0.2: UDP 12345 > 53, length 64"
        );
    }

    #[test]
    fn extension_headers_are_skipped() {
        let mut ip = vec![0x60, 0, 0, 0, 0, 36, 0, 1];
        ip.extend_from_slice(
            &[0xfe, 0x80]
                .iter()
                .chain(&[0; 14])
                .copied()
                .collect::<Vec<_>>(),
        );
        ip.extend_from_slice(&"ff02::16".parse::<Ipv6Addr>().unwrap().octets());
        ip.extend_from_slice(&[58, 0, 5, 2, 0, 0, 1, 0]); // hop-by-hop: router alert
        ip.extend_from_slice(&[143, 0, 0, 0]); // MLDv2 report
        let frame = eth(ETH_P_IPV6, &ip);
        assert!(
            summarize(&frame, 90).contains("fe80:: > ff02::16: ICMPv6 type 143"),
            "{}",
            summarize(&frame, 90)
        );
    }

    #[test]
    fn hex_dump_layout() {
        let bytes: Vec<u8> = (0x41..0x41 + 18).collect();
        let dump = hex_dump(&bytes);
        let lines: Vec<&str> = dump.lines().collect();
        assert_eq!(
            lines[0],
            "\t0x0000:  4142 4344 4546 4748 494a 4b4c 4d4e 4f50  ABCDEFGHIJKLMNOP"
        );
        assert_eq!(lines[1], format!("\t0x0010:  5152{} QR", " ".repeat(36)));
        assert_eq!(
            hex_dump(&[0, 0x7f, b' ']),
            format!("\t0x0000:  007f 20{} .. \n", " ".repeat(33))
        );
        assert_eq!(hex_dump(&[]), "");
    }

    #[test]
    fn short_and_unknown_packets() {
        assert_eq!(
            summarize(&[1, 2, 3], 3),
            "truncated Ethernet header, length 3"
        );
        let frame = eth(ETH_P_IPV6, &[0x60, 0, 0]);
        assert!(summarize(&frame, 17).ends_with("truncated header, length 17"));
        let frame = eth(0x88cc, &[]);
        assert!(summarize(&frame, 14).contains("ethertype 0x88cc (LLDP)"));
    }
}
