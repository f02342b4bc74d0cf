//! Lesson advanced03, assignment 3: answer ICMPv6 echo requests from user
//! space. `make run IF=NAME` runs it behind an AF_XDP socket; `make
//! check-user` checks it.

/// Called for every frame the socket receives, in its UMEM frame. Turn it
/// into the reply and return true to send it back out of the same
/// interface (the frame goes to the TX ring as it is); return false to
/// drop it.
///
/// The frame: Ethernet (14 bytes: destination MAC, source MAC, ethertype
/// 0x86dd for IPv6), IPv6 (40 bytes: next header at byte 6 is 58 for
/// ICMPv6, source address at 8..24, destination at 24..40), ICMPv6 (type
/// 128 is an echo request, 129 the reply; checksum at bytes 2..4).
pub fn process_packet(frame: &mut [u8]) -> bool {
    // TODO 3a: return false unless the frame is long enough and is
    //          Ethernet + IPv6 + ICMPv6 echo request.
    // TODO 3b: swap the MAC addresses and the IPv6 addresses.
    // TODO 3c: set the type to 129 and update the checksum. Swapping the
    //          addresses leaves it right (the pseudo-header sums them in
    //          either order); only the changed type word counts:
    //          RFC 1624: HC' = ~(~HC + ~m + m'), with m = 128 << 8 and
    //          m' = 129 << 8, in ones' complement arithmetic.
    let _ = frame;
    false
}
