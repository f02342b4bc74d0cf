//! The Internet checksum (RFC 1071), written out plainly: the tests build
//! and check frames with it, independently of the C programs under test.

/// One's-complement sum of 16-bit big-endian words (odd length: pad a 0).
pub fn sum16(data: &[u8]) -> u32 {
    data.chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)])))
        .sum()
}

/// Folds the carries back into 16 bits.
pub fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The checksum to store for `data` (whose checksum field is zero).
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum16(data))
}

/// Data with its checksum field filled in sums to 0xffff ("minus zero").
pub fn verifies(data: &[u8]) -> bool {
    fold(sum16(data)) == 0xffff
}
