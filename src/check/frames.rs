//! The frames `check` sends, built byte by byte here (independently of the
//! lesson's C helpers), and the few fields it reads back from what arrives.
//!
//! Every frame carries a tag, `XCHK` and a 32-bit number, as the last eight
//! bytes of its payload: whatever a program does to the headers, the frame
//! is still recognised on the far side.

pub const ETH_P_IP: u16 = 0x0800;
pub const ETH_P_IPV6: u16 = 0x86dd;
pub const ETH_P_8021Q: u16 = 0x8100;
pub const ETH_P_8021AD: u16 = 0x88a8;
/// IEEE's "local experimental" ethertype: no program parses it.
pub const ETH_P_LOCAL: u16 = 0x88b5;
pub const IPPROTO_ICMP: u8 = 1;
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;
pub const IPPROTO_ICMPV6: u8 = 58;
pub const ICMP_ECHO_REPLY: u8 = 0;
pub const ICMP_ECHO: u8 = 8;
pub const ICMPV6_ECHO_REQUEST: u8 = 128;
pub const ICMPV6_ECHO_REPLY: u8 = 129;

const TAG: &[u8; 4] = b"XCHK";

/// The tag that ends a frame's payload.
pub fn tag(id: u32) -> [u8; 8] {
    let mut bytes = [0; 8];
    bytes[..4].copy_from_slice(TAG);
    bytes[4..].copy_from_slice(&id.to_be_bytes());
    bytes
}

/// The tag a received frame carries, if any (searched from the end: a
/// program may have moved the headers).
pub fn tag_of(frame: &[u8]) -> Option<u32> {
    let at = frame.windows(4).rposition(|w| w == TAG)?;
    let id = frame.get(at + 4..at + 8)?;
    Some(u32::from_be_bytes(id.try_into().ok()?))
}

/// Addresses of an IP packet: they also go into the L4 checksums.
#[derive(Clone, Copy, Debug)]
pub enum Ips {
    V4([u8; 4], [u8; 4]),
    V6([u8; 16], [u8; 16]),
}

impl Ips {
    pub fn v6(src: &str, dst: &str) -> Ips {
        let parse = |s: &str| s.parse::<std::net::Ipv6Addr>().unwrap().octets();
        Ips::V6(parse(src), parse(dst))
    }

    pub fn v4(src: &str, dst: &str) -> Ips {
        let parse = |s: &str| s.parse::<std::net::Ipv4Addr>().unwrap().octets();
        Ips::V4(parse(src), parse(dst))
    }

    /// The pseudo-header's contribution to a UDP/TCP/ICMPv6 checksum.
    fn pseudo_sum(&self, proto: u8, len: usize) -> u32 {
        let addrs = match self {
            Ips::V4(s, d) => sum16(s) + sum16(d),
            Ips::V6(s, d) => sum16(s) + sum16(d),
        };
        addrs + proto as u32 + len as u32
    }
}

/// The one's complement sum of big-endian 16-bit words (odd tail padded).
pub fn sum16(bytes: &[u8]) -> u32 {
    bytes
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32)
        .sum()
}

/// Folds a sum to 16 bits and complements it: the Internet checksum.
pub fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An Ethernet frame with VLAN tags (TPID, VLAN id), outermost first.
pub fn ethernet(
    dst: [u8; 6],
    src: [u8; 6],
    tags: &[(u16, u16)],
    proto: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut frame = Vec::with_capacity(14 + 4 * tags.len() + payload.len());
    frame.extend_from_slice(&dst);
    frame.extend_from_slice(&src);
    for (tpid, vid) in tags {
        frame.extend_from_slice(&tpid.to_be_bytes());
        frame.extend_from_slice(&vid.to_be_bytes());
    }
    frame.extend_from_slice(&proto.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// An IP packet around `l4` (whose checksum is already set). IPv4 gets
/// `options` (a multiple of 4 bytes, each 4 adding one to ihl).
pub fn ip(ips: Ips, proto: u8, ttl: u8, options: &[u8], l4: &[u8]) -> Vec<u8> {
    match ips {
        Ips::V4(src, dst) => {
            let ihl = 5 + options.len() / 4;
            let total = ihl * 4 + l4.len();
            let mut h = vec![0x40 | ihl as u8, 0];
            h.extend_from_slice(&(total as u16).to_be_bytes());
            h.extend_from_slice(&[0, 1, 0x40, 0, ttl, proto, 0, 0]);
            h.extend_from_slice(&src);
            h.extend_from_slice(&dst);
            h.extend_from_slice(options);
            let check = fold(sum16(&h));
            h[10..12].copy_from_slice(&check.to_be_bytes());
            h.extend_from_slice(l4);
            h
        }
        Ips::V6(src, dst) => {
            let mut h = vec![0x60, 0, 0, 0];
            h.extend_from_slice(&(l4.len() as u16).to_be_bytes());
            h.extend_from_slice(&[proto, ttl]);
            h.extend_from_slice(&src);
            h.extend_from_slice(&dst);
            h.extend_from_slice(l4);
            h
        }
    }
}

/// Sets the checksum at `at` of an L4 segment (UDP, TCP, ICMP, ICMPv6).
fn with_checksum(ips: Ips, proto: u8, mut segment: Vec<u8>, at: usize) -> Vec<u8> {
    let sum = match proto {
        IPPROTO_ICMP => sum16(&segment), // ICMPv4 has no pseudo-header
        _ => ips.pseudo_sum(proto, segment.len()) + sum16(&segment),
    };
    let mut check = fold(sum);
    if proto == IPPROTO_UDP && check == 0 {
        check = 0xffff;
    }
    segment[at..at + 2].copy_from_slice(&check.to_be_bytes());
    segment
}

/// An ICMP (IPv4) or ICMPv6 echo request with this sequence number.
pub fn echo_request(ips: Ips, seq: u16, payload: &[u8]) -> (u8, Vec<u8>) {
    echo(ips, false, seq, payload)
}

/// An echo request or reply: (IP protocol, the ICMP message).
pub fn echo(ips: Ips, reply: bool, seq: u16, payload: &[u8]) -> (u8, Vec<u8>) {
    let (proto, kind) = match (ips, reply) {
        (Ips::V4(..), false) => (IPPROTO_ICMP, ICMP_ECHO),
        (Ips::V4(..), true) => (IPPROTO_ICMP, ICMP_ECHO_REPLY),
        (Ips::V6(..), false) => (IPPROTO_ICMPV6, ICMPV6_ECHO_REQUEST),
        (Ips::V6(..), true) => (IPPROTO_ICMPV6, ICMPV6_ECHO_REPLY),
    };
    let mut icmp = vec![kind, 0, 0, 0, 0x12, 0x34];
    icmp.extend_from_slice(&seq.to_be_bytes());
    icmp.extend_from_slice(payload);
    (proto, with_checksum(ips, proto, icmp, 2))
}

pub fn udp(ips: Ips, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut udp = Vec::new();
    udp.extend_from_slice(&sport.to_be_bytes());
    udp.extend_from_slice(&dport.to_be_bytes());
    udp.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    with_checksum(ips, IPPROTO_UDP, udp, 6)
}

/// A TCP SYN with a payload (the tag): no handshake is needed to see it.
pub fn tcp_syn(ips: Ips, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut tcp = Vec::new();
    tcp.extend_from_slice(&sport.to_be_bytes());
    tcp.extend_from_slice(&dport.to_be_bytes());
    tcp.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    tcp.extend_from_slice(payload);
    with_checksum(ips, IPPROTO_TCP, tcp, 16)
}

/// What `check` reads of a received frame.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub dst: [u8; 6],
    pub src: [u8; 6],
    /// VLAN tags (TPID, TCI), outermost first.
    pub tags: Vec<(u16, u16)>,
    pub proto: u16,
    /// Offset of the network header.
    pub l3: usize,
}

pub fn parse(frame: &[u8]) -> Option<Parsed> {
    let mac = |at: usize| -> Option<[u8; 6]> { frame.get(at..at + 6)?.try_into().ok() };
    let word = |at: usize| -> Option<u16> {
        Some(u16::from_be_bytes(frame.get(at..at + 2)?.try_into().ok()?))
    };
    let (dst, src) = (mac(0)?, mac(6)?);
    let mut at = 12;
    let mut tags = Vec::new();
    let mut proto = word(at)?;
    while proto == ETH_P_8021Q || proto == ETH_P_8021AD {
        tags.push((proto, word(at + 2)?));
        at += 4;
        proto = word(at)?;
    }
    Some(Parsed {
        dst,
        src,
        tags,
        proto,
        l3: at + 2,
    })
}

/// The L4 part of an IP packet: (protocol, ttl or hop limit, its offset in
/// `frame`, IP addresses), or None when it is not IP.
pub fn l4_of(frame: &[u8], p: &Parsed) -> Option<(u8, u8, usize, Ips)> {
    let ip = frame.get(p.l3..)?;
    match p.proto {
        ETH_P_IP => {
            let ihl = (*ip.first()? & 0x0f) as usize * 4;
            let src = ip.get(12..16)?.try_into().ok()?;
            let dst = ip.get(16..20)?.try_into().ok()?;
            Some((*ip.get(9)?, *ip.get(8)?, p.l3 + ihl, Ips::V4(src, dst)))
        }
        ETH_P_IPV6 => {
            let src = ip.get(8..24)?.try_into().ok()?;
            let dst = ip.get(24..40)?.try_into().ok()?;
            Some((*ip.get(6)?, *ip.get(7)?, p.l3 + 40, Ips::V6(src, dst)))
        }
        _ => None,
    }
}

/// Does the L4 checksum of this IP frame verify (UDP, TCP, ICMP, ICMPv6)?
pub fn l4_checksum_ok(frame: &[u8]) -> bool {
    let Some(p) = parse(frame) else { return false };
    let Some((proto, _, at, ips)) = l4_of(frame, &p) else {
        return false;
    };
    let Some(segment) = frame.get(at..) else {
        return false;
    };
    let sum = match proto {
        IPPROTO_ICMP => sum16(segment),
        _ => ips.pseudo_sum(proto, segment.len()) + sum16(segment),
    };
    fold(sum) == 0
}

/// Does the IPv4 header checksum verify?
pub fn ipv4_checksum_ok(frame: &[u8], p: &Parsed) -> bool {
    let Some(&first) = frame.get(p.l3) else {
        return false;
    };
    let ihl = (first & 0x0f) as usize * 4;
    frame
        .get(p.l3..p.l3 + ihl)
        .is_some_and(|h| fold(sum16(h)) == 0)
}

pub fn mac_text(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_checksums_verify() {
        let v6 = Ips::v6("fc00::1", "fc00::2");
        let v4 = Ips::v4("10.0.0.1", "10.0.0.2");
        for ips in [v6, v4] {
            let (proto, icmp) = echo_request(ips, 7, &tag(1));
            let opts: &[u8] = if matches!(ips, Ips::V4(..)) {
                &[1, 1, 1, 0]
            } else {
                &[]
            };
            for (proto, l4) in [
                (proto, icmp),
                (IPPROTO_UDP, udp(ips, 1, 2, &tag(2))),
                (IPPROTO_TCP, tcp_syn(ips, 1, 2, &tag(3))),
            ] {
                let eth = if matches!(ips, Ips::V4(..)) {
                    ETH_P_IP
                } else {
                    ETH_P_IPV6
                };
                let frame = ethernet(
                    [2; 6],
                    [4; 6],
                    &[(ETH_P_8021Q, 5)],
                    eth,
                    &ip(ips, proto, 64, opts, &l4),
                );
                assert!(l4_checksum_ok(&frame), "{proto}");
                let p = parse(&frame).unwrap();
                assert_eq!(p.tags, vec![(ETH_P_8021Q, 5)]);
                if eth == ETH_P_IP {
                    assert!(ipv4_checksum_ok(&frame, &p));
                }
                let mut broken = frame.clone();
                let last = broken.len() - 9;
                broken[last] ^= 1;
                assert!(!l4_checksum_ok(&broken));
            }
        }
    }

    #[test]
    fn tags_are_found_where_the_headers_moved_them() {
        let frame = ethernet([2; 6], [4; 6], &[], ETH_P_LOCAL, &tag(0xabcd));
        assert_eq!(tag_of(&frame), Some(0xabcd));
        assert_eq!(tag_of(&frame[..frame.len() - 1]), None);
    }
}
