//! The lesson's assignment 3: answer ICMPv6 echo requests from user space.
//! The request is turned into its reply in place, in the UMEM frame, and
//! that same frame goes out through the TX ring: no copy.
//!
//! Swapping the addresses leaves the ICMPv6 checksum (which covers them
//! through the pseudo-header) unchanged; only the type byte changes, so the
//! checksum is updated incrementally (RFC 1624), as the C solution does
//! with csum_replace2().

const ETH_HLEN: usize = 14;
const IPV6_HLEN: usize = 40;
const ETH_P_IPV6: u16 = 0x86dd;
const IPPROTO_ICMPV6: u8 = 58;
pub const ICMPV6_ECHO_REQUEST: u8 = 128;
pub const ICMPV6_ECHO_REPLY: u8 = 129;

/// Rewrites an Ethernet + IPv6 + ICMPv6 echo request into the reply.
/// Returns false (frame untouched) for anything else.
pub fn reply_in_place(frame: &mut [u8]) -> bool {
    let icmp = ETH_HLEN + IPV6_HLEN;
    if frame.len() < icmp + 8
        || u16::from_be_bytes([frame[12], frame[13]]) != ETH_P_IPV6
        || frame[ETH_HLEN + 6] != IPPROTO_ICMPV6
        || frame[icmp] != ICMPV6_ECHO_REQUEST
    {
        return false;
    }
    swap(frame, 0, 6, 6); // destination and source MAC
    swap(frame, ETH_HLEN + 8, ETH_HLEN + 24, 16); // source and destination address
    frame[icmp] = ICMPV6_ECHO_REPLY;
    let checksum = u16::from_be_bytes([frame[icmp + 2], frame[icmp + 3]]);
    let old_word = u16::from(ICMPV6_ECHO_REQUEST) << 8;
    let new_word = u16::from(ICMPV6_ECHO_REPLY) << 8;
    let updated = replace_in_checksum(checksum, old_word, new_word);
    frame[icmp + 2..icmp + 4].copy_from_slice(&updated.to_be_bytes());
    true
}

fn swap(frame: &mut [u8], a: usize, b: usize, len: usize) {
    for i in 0..len {
        frame.swap(a + i, b + i);
    }
}

/// RFC 1624 eq. 3: HC' = ~(~HC + ~m + m'), in ones' complement.
fn replace_in_checksum(checksum: u16, old: u16, new: u16) -> u16 {
    let mut sum = u32::from(!checksum) + u32::from(!old) + u32::from(new);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The ICMPv6 checksum of an Ethernet + IPv6 + ICMPv6 frame computed from
/// scratch (pseudo-header included), with the checksum field as it is:
/// 0 for a frame whose checksum is right.
pub fn icmpv6_checksum(frame: &[u8]) -> u16 {
    let ip = &frame[ETH_HLEN..];
    let payload = &ip[IPV6_HLEN..];
    let mut sum: u32 = 0;
    let mut add = |bytes: &[u8]| {
        for pair in bytes.chunks(2) {
            let hi = u32::from(pair[0]) << 8;
            sum += hi | pair.get(1).map_or(0, |&b| u32::from(b));
        }
    };
    add(&ip[8..40]);
    add(&(payload.len() as u32).to_be_bytes());
    add(&[0, 0, 0, IPPROTO_ICMPV6]);
    add(payload);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An echo request from fd00::1 to fd00::2 (id 0x1234, sequence 7).
pub fn echo_request() -> Vec<u8> {
    let mut f = vec![0u8; ETH_HLEN + IPV6_HLEN + 16];
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&ETH_P_IPV6.to_be_bytes());
    let ip = ETH_HLEN;
    f[ip] = 0x60;
    f[ip + 4..ip + 6].copy_from_slice(&16u16.to_be_bytes());
    f[ip + 6] = IPPROTO_ICMPV6;
    f[ip + 7] = 64;
    f[ip + 8..ip + 24].copy_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    f[ip + 24..ip + 40].copy_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    let icmp = ip + IPV6_HLEN;
    f[icmp] = ICMPV6_ECHO_REQUEST;
    f[icmp + 4..icmp + 8].copy_from_slice(&[0x12, 0x34, 0, 7]);
    f[icmp + 8..].copy_from_slice(b"payload!");
    let sum = icmpv6_checksum(&f);
    f[icmp + 2..icmp + 4].copy_from_slice(&sum.to_be_bytes());
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_becomes_a_reply_with_a_valid_checksum() {
        let request = echo_request();
        let mut frame = request.clone();
        assert!(reply_in_place(&mut frame));
        assert_eq!(&frame[0..6], &request[6..12]);
        assert_eq!(&frame[6..12], &request[0..6]);
        assert_eq!(&frame[22..38], &request[38..54]);
        assert_eq!(&frame[38..54], &request[22..38]);
        assert_eq!(frame[54], ICMPV6_ECHO_REPLY);
        assert_eq!(icmpv6_checksum(&frame), 0, "checksum right");
        assert_eq!(icmpv6_checksum(&request), 0, "the request's too");
    }

    #[test]
    fn other_packets_are_left_alone() {
        let mut reply = echo_request();
        reply[54] = ICMPV6_ECHO_REPLY;
        let mut short = echo_request()[..60].to_vec();
        let mut ipv4 = echo_request();
        ipv4[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        let mut udp = echo_request();
        udp[ETH_HLEN + 6] = 17;
        for frame in [&mut reply, &mut short, &mut ipv4, &mut udp] {
            let before = frame.clone();
            assert!(!reply_in_place(frame));
            assert_eq!(*frame, before);
        }
    }
}
