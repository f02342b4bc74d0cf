//! Frames for the benchmarks: Ethernet (optionally one 802.1Q tag), IPv4,
//! and UDP or an ICMP echo request, padded to an exact size, with correct
//! checksums, so each program under test takes the path it takes on real
//! traffic (a bad checksum would not matter to XDP, but a wrong length or
//! protocol would send the parser down another branch).

const ETH_P_IP: u16 = 0x0800;
const ETH_P_8021Q: u16 = 0x8100;
const IPPROTO_ICMP: u8 = 1;
const IPPROTO_UDP: u8 = 17;
const ICMP_ECHO: u8 = 8;

/// Locally administered and on no interface: a frame the program passes
/// is "for another host" (PACKET_OTHERHOST) and the stack drops it unseen.
const DST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xd1];
const SRC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x51];
/// TEST-NET-1 (RFC 5737): documentation addresses, routed nowhere.
const SRC_IP: [u8; 4] = [192, 0, 2, 1];
const DST_IP: [u8; 4] = [192, 0, 2, 2];
/// UDP port 9 (discard): nothing answers.
const UDP_PORTS: (u16, u16) = (40000, 9);
const VLAN_ID: u16 = 100;

const ETH_HLEN: usize = 14;
const VLAN_HLEN: usize = 4;
const IP_HLEN: usize = 20;
const L4_HLEN: usize = 8; // UDP header, or ICMP echo header

/// The kind of frame a program acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// IPv4 UDP to the discard port.
    Udp,
    /// IPv4 ICMP echo request with sequence number 2 (even, so
    /// xdp_parser_func drops it; xdp_icmp_echo_func answers it).
    EchoRequest,
    /// IPv4 UDP behind one 802.1Q tag (VLAN 100).
    VlanUdp,
}

impl Kind {
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Udp => "UDP",
            Kind::EchoRequest => "ICMP echo request",
            Kind::VlanUdp => "802.1Q-tagged UDP",
        }
    }

    fn header_len(self) -> usize {
        let vlan = if self == Kind::VlanUdp { VLAN_HLEN } else { 0 };
        ETH_HLEN + vlan + IP_HLEN + L4_HLEN
    }
}

/// A frame of `kind`, exactly `size` bytes long (no FCS).
pub fn build(kind: Kind, size: usize) -> Vec<u8> {
    assert!(size >= kind.header_len(), "{size} B cannot hold {kind:?}");
    let payload = vec![0xa5; size - kind.header_len()];
    let (proto, l4) = match kind {
        Kind::Udp | Kind::VlanUdp => (IPPROTO_UDP, udp(&payload)),
        Kind::EchoRequest => (IPPROTO_ICMP, echo_request(2, &payload)),
    };
    let mut frame = Vec::with_capacity(size);
    frame.extend_from_slice(&DST_MAC);
    frame.extend_from_slice(&SRC_MAC);
    if kind == Kind::VlanUdp {
        frame.extend_from_slice(&ETH_P_8021Q.to_be_bytes());
        frame.extend_from_slice(&VLAN_ID.to_be_bytes());
    }
    frame.extend_from_slice(&ETH_P_IP.to_be_bytes());
    frame.extend_from_slice(&ipv4_header(proto, l4.len()));
    frame.extend_from_slice(&l4);
    debug_assert_eq!(frame.len(), size);
    frame
}

fn ipv4_header(proto: u8, l4_len: usize) -> [u8; IP_HLEN] {
    let total = (IP_HLEN + l4_len) as u16;
    let mut h = [0u8; IP_HLEN];
    h[0] = 0x45; // version 4, 5 words of header
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h[6] = 0x40; // don't fragment
    h[8] = 64; // TTL
    h[9] = proto;
    h[12..16].copy_from_slice(&SRC_IP);
    h[16..20].copy_from_slice(&DST_IP);
    let check = checksum(&[&h]);
    h[10..12].copy_from_slice(&check.to_be_bytes());
    h
}

fn udp(payload: &[u8]) -> Vec<u8> {
    let len = (L4_HLEN + payload.len()) as u16;
    let mut s = Vec::with_capacity(len as usize);
    s.extend_from_slice(&UDP_PORTS.0.to_be_bytes());
    s.extend_from_slice(&UDP_PORTS.1.to_be_bytes());
    s.extend_from_slice(&len.to_be_bytes());
    s.extend_from_slice(&[0, 0]);
    s.extend_from_slice(payload);
    // The pseudo-header: addresses, protocol and length.
    let mut pseudo = Vec::with_capacity(12);
    pseudo.extend_from_slice(&SRC_IP);
    pseudo.extend_from_slice(&DST_IP);
    pseudo.extend_from_slice(&[0, IPPROTO_UDP]);
    pseudo.extend_from_slice(&len.to_be_bytes());
    // RFC 768: a computed 0 is sent as all ones (0 means "no checksum").
    let check = match checksum(&[&pseudo, &s]) {
        0 => 0xffff,
        sum => sum,
    };
    s[6..8].copy_from_slice(&check.to_be_bytes());
    s
}

fn echo_request(sequence: u16, payload: &[u8]) -> Vec<u8> {
    let mut m = vec![ICMP_ECHO, 0, 0, 0, 0x42, 0x42];
    m.extend_from_slice(&sequence.to_be_bytes());
    m.extend_from_slice(payload);
    let check = checksum(&[&m]);
    m[2..4].copy_from_slice(&check.to_be_bytes());
    m
}

/// The Internet checksum (RFC 1071) of the parts, read as one run of
/// bytes (every part but the last has an even length here).
fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = parts
        .iter()
        .flat_map(|part| part.chunks(2))
        .map(|w| u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Data whose checksum field is filled in sums to 0xffff.
    fn sums_to_ffff(parts: &[&[u8]]) -> bool {
        checksum(parts) == 0
    }

    #[test]
    fn sizes_are_exact() {
        for kind in [Kind::Udp, Kind::EchoRequest, Kind::VlanUdp] {
            for size in [64, 512, 1500] {
                assert_eq!(build(kind, size).len(), size, "{kind:?}");
            }
        }
    }

    #[test]
    fn checksums_verify() {
        let frame = build(Kind::EchoRequest, 64);
        assert!(sums_to_ffff(&[&frame[14..34]]), "IPv4 header");
        assert!(sums_to_ffff(&[&frame[34..]]), "ICMP");

        let frame = build(Kind::VlanUdp, 64);
        assert_eq!(&frame[12..14], &[0x81, 0x00]);
        let ip = &frame[18..38];
        assert!(sums_to_ffff(&[ip]), "IPv4 header behind the tag");
        let udp = &frame[38..];
        let pseudo = [
            &ip[12..20],
            &[0, IPPROTO_UDP],
            &(udp.len() as u16).to_be_bytes(),
        ]
        .concat();
        assert!(sums_to_ffff(&[&pseudo, udp]), "UDP");
    }

    #[test]
    fn echo_sequence_is_even() {
        let frame = build(Kind::EchoRequest, 64);
        assert_eq!(frame[34], ICMP_ECHO);
        assert_eq!(u16::from_be_bytes([frame[40], frame[41]]) % 2, 0);
    }
}
