//! Writing the classic pcap file format (what `tcpdump -w` writes):
//! a 24-byte file header, then per packet a 16-byte record header and the
//! captured bytes. All numbers in this machine's byte order; readers tell
//! the order from the magic number.

use std::io::{self, Write};
use std::time::SystemTime;

/// Microsecond-resolution pcap.
const MAGIC: u32 = 0xa1b2_c3d4;
/// LINKTYPE_ETHERNET: every record starts with an Ethernet header.
const LINKTYPE_ETHERNET: u32 = 1;

pub struct PcapWriter<W: Write> {
    out: W,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header; `snaplen` is the most any record holds.
    pub fn new(mut out: W, snaplen: u32) -> io::Result<Self> {
        let mut header = Vec::with_capacity(24);
        header.extend_from_slice(&MAGIC.to_ne_bytes());
        header.extend_from_slice(&2u16.to_ne_bytes()); // version 2.4
        header.extend_from_slice(&4u16.to_ne_bytes());
        header.extend_from_slice(&0i32.to_ne_bytes()); // timezone: UTC
        header.extend_from_slice(&0u32.to_ne_bytes()); // timestamp accuracy
        header.extend_from_slice(&snaplen.to_ne_bytes());
        header.extend_from_slice(&LINKTYPE_ETHERNET.to_ne_bytes());
        out.write_all(&header)?;
        Ok(PcapWriter { out })
    }

    /// One packet: `data` is what was captured of a `wire_len`-byte frame.
    pub fn write(&mut self, at: SystemTime, wire_len: u32, data: &[u8]) -> io::Result<()> {
        let since_epoch = at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let mut record = Vec::with_capacity(16 + data.len());
        record.extend_from_slice(&(since_epoch.as_secs() as u32).to_ne_bytes());
        record.extend_from_slice(&since_epoch.subsec_micros().to_ne_bytes());
        record.extend_from_slice(&(data.len() as u32).to_ne_bytes());
        record.extend_from_slice(&wire_len.to_ne_bytes());
        record.extend_from_slice(data);
        self.out.write_all(&record)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn u32_at(bytes: &[u8], at: usize) -> u32 {
        u32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn header_and_record_layout() {
        let mut file = Vec::new();
        let mut pcap = PcapWriter::new(&mut file, 128).unwrap();
        let at = SystemTime::UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        pcap.write(at, 100, &[0xaa; 60]).unwrap();
        assert_eq!(file.len(), 24 + 16 + 60);
        assert_eq!(u32_at(&file, 0), MAGIC);
        assert_eq!(u32_at(&file, 16), 128, "snaplen");
        assert_eq!(u32_at(&file, 20), LINKTYPE_ETHERNET);
        assert_eq!(u32_at(&file, 24), 1_700_000_000, "seconds");
        assert_eq!(u32_at(&file, 28), 123_456, "microseconds");
        assert_eq!(u32_at(&file, 32), 60, "captured length");
        assert_eq!(u32_at(&file, 36), 100, "length on the wire");
        assert!(file[40..].iter().all(|&b| b == 0xaa));
    }
}
