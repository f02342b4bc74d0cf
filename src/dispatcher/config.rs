//! The dispatcher's configuration block: the value of its one-entry
//! `.rodata` map, which says how many slots run, each slot's chain-call
//! actions, run priority and flags.
//!
//! Three layouts exist (libxdp's protocol.org). Version 1 has no magic
//! byte: its version is only in the program's BTF. Versions 2 and 3 start
//! with the magic 236 and the version. Every version is read here; version
//! 2 is written, because Debian's libxdp 1.3 reads up to version 2.

/// Slots in every dispatcher (prog0..prog9).
pub const SLOTS: usize = 10;
/// First byte of a version 2+ block: 'X' + 'D' + 'P'.
pub const MAGIC: u8 = 236;
/// The version this loader writes.
pub const WRITTEN_VERSION: u8 = 2;
/// The newest version this loader reads.
pub const NEWEST_READ: u8 = 3;
/// What an empty slot returns; always in a slot's chain-call set.
pub const EMPTY_SLOT_VERDICT: u32 = 31;
/// BPF_F_XDP_HAS_FRAGS, as kept per slot in `program_flags`.
pub const FLAG_FRAGS: u32 = 1 << 5;

/// Byte sizes: v1 = u8 + pad + 2 arrays; v2 = 4 bytes + 3 arrays; v3 = v2 +
/// a devbound byte (padded).
const V1_SIZE: usize = 4 + 4 * SLOTS * 2;
const V2_SIZE: usize = 4 + 4 * SLOTS * 3;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    pub version: u8,
    pub num_progs_enabled: u8,
    pub is_xdp_frags: bool,
    /// Bitmaps of verdicts that continue to the next slot (bit 31 included).
    pub chain_call_actions: [u32; SLOTS],
    pub run_prios: [u32; SLOTS],
    pub program_flags: [u32; SLOTS],
}

/// Why a configuration block cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// A dispatcher from a newer protocol: changing it could break it.
    TooNew(u8),
    /// The block is shorter than its version needs, or names more slots
    /// than exist.
    Malformed(String),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::TooNew(v) => write!(
                f,
                "dispatcher protocol version {v} is newer than this loader reads (up to {NEWEST_READ})"
            ),
            ReadError::Malformed(why) => write!(f, "malformed dispatcher configuration: {why}"),
        }
    }
}

fn u32_at(bytes: &[u8], offset: usize) -> u32 {
    u32::from_ne_bytes(bytes[offset..offset + 4].try_into().expect("4 bytes"))
}

fn array_at(bytes: &[u8], offset: usize) -> [u32; SLOTS] {
    std::array::from_fn(|i| u32_at(bytes, offset + 4 * i))
}

impl Config {
    /// Reads a block. `btf_version` is the version from the program's BTF
    /// (`xdp_metadata` section), needed only for blocks without magic.
    pub fn read(bytes: &[u8], btf_version: Option<u32>) -> Result<Config, ReadError> {
        let version = match bytes.first() {
            Some(&MAGIC) if bytes.len() >= 2 => bytes[1] as u32,
            _ => btf_version.ok_or_else(|| {
                ReadError::Malformed("no magic byte and no version in the program's BTF".into())
            })?,
        };
        let need = |size: usize| {
            if bytes.len() < size {
                Err(ReadError::Malformed(format!(
                    "version {version} needs {size} bytes, the map holds {}",
                    bytes.len()
                )))
            } else {
                Ok(())
            }
        };
        let config = match version {
            1 => {
                need(V1_SIZE)?;
                Config {
                    version: 1,
                    num_progs_enabled: bytes[0],
                    chain_call_actions: array_at(bytes, 4),
                    run_prios: array_at(bytes, 4 + 4 * SLOTS),
                    ..Config::default()
                }
            }
            // Version 3 adds a trailing byte (device-bound dispatcher) that
            // only matters for hardware metadata kfuncs; slots are as in v2.
            2 | 3 => {
                need(V2_SIZE)?;
                Config {
                    version: version as u8,
                    num_progs_enabled: bytes[2],
                    is_xdp_frags: bytes[3] != 0,
                    chain_call_actions: array_at(bytes, 4),
                    run_prios: array_at(bytes, 4 + 4 * SLOTS),
                    program_flags: array_at(bytes, 4 + 8 * SLOTS),
                }
            }
            newer if newer > NEWEST_READ as u32 => {
                return Err(ReadError::TooNew(newer.min(255) as u8))
            }
            other => return Err(ReadError::Malformed(format!("unknown version {other}"))),
        };
        if config.num_progs_enabled as usize > SLOTS {
            return Err(ReadError::Malformed(format!(
                "{} slots enabled, a dispatcher has {SLOTS}",
                config.num_progs_enabled
            )));
        }
        Ok(config)
    }

    /// The version 2 block, as the dispatcher's `.rodata` holds it.
    pub fn to_v2_bytes(&self) -> Vec<u8> {
        let mut bytes = vec![
            MAGIC,
            WRITTEN_VERSION,
            self.num_progs_enabled,
            self.is_xdp_frags as u8,
        ];
        for array in [
            &self.chain_call_actions,
            &self.run_prios,
            &self.program_flags,
        ] {
            for value in array {
                bytes.extend_from_slice(&value.to_ne_bytes());
            }
        }
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Config {
        let mut c = Config {
            version: 2,
            num_progs_enabled: 2,
            is_xdp_frags: true,
            ..Config::default()
        };
        c.chain_call_actions[0] = (1 << 2) | (1 << EMPTY_SLOT_VERDICT);
        c.chain_call_actions[1] = (1 << 1) | (1 << EMPTY_SLOT_VERDICT);
        c.run_prios = [10, 20, 0, 0, 0, 0, 0, 0, 0, 0];
        c.program_flags[0] = FLAG_FRAGS;
        c
    }

    #[test]
    fn v2_round_trips_and_has_the_c_layout() {
        let bytes = sample().to_v2_bytes();
        assert_eq!(bytes.len(), 124, "sizeof(struct xdp_dispatcher_config) v2");
        assert_eq!(&bytes[..4], &[236, 2, 2, 1]);
        assert_eq!(Config::read(&bytes, None).unwrap(), sample());
    }

    #[test]
    fn v3_is_read_as_v2_plus_a_byte() {
        let mut bytes = sample().to_v2_bytes();
        bytes[1] = 3;
        bytes.extend_from_slice(&[1, 0, 0, 0]);
        let read = Config::read(&bytes, None).unwrap();
        assert_eq!(read.version, 3);
        assert_eq!(read.run_prios, sample().run_prios);
    }

    #[test]
    fn v1_needs_the_btf_version() {
        let mut bytes = vec![3u8, 0, 0, 0];
        for _ in 0..SLOTS {
            bytes.extend_from_slice(&(1u32 << 2).to_ne_bytes());
        }
        for i in 0..SLOTS as u32 {
            bytes.extend_from_slice(&(i * 10).to_ne_bytes());
        }
        assert!(matches!(
            Config::read(&bytes, None),
            Err(ReadError::Malformed(_))
        ));
        let read = Config::read(&bytes, Some(1)).unwrap();
        assert_eq!(read.num_progs_enabled, 3);
        assert_eq!(read.run_prios[2], 20);
        assert_eq!(read.chain_call_actions[9], 1 << 2);
    }

    #[test]
    fn rejects_newer_short_and_overfull_blocks() {
        let mut bytes = sample().to_v2_bytes();
        bytes[1] = 4;
        assert_eq!(Config::read(&bytes, None), Err(ReadError::TooNew(4)));
        assert!(ReadError::TooNew(4).to_string().contains("version 4"));
        let short = &sample().to_v2_bytes()[..100];
        assert!(matches!(
            Config::read(short, None),
            Err(ReadError::Malformed(_))
        ));
        let mut overfull = sample().to_v2_bytes();
        overfull[2] = 11;
        assert!(matches!(
            Config::read(&overfull, None),
            Err(ReadError::Malformed(_))
        ));
    }
}
