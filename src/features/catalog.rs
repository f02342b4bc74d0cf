//! The kernel features `xdp-loader features` probes: their names, the
//! first mainline kernel that has each, and what in this tool needs them.
//!
//! The versions are for people reading the table; no decision in this tool
//! is taken from a version number: every command asks the probe.

use serde::Serialize;

/// One probed kernel feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    Btf,
    KernelBtf,
    Bpffs,
    Tracefs,
    MapBatch,
    Ringbuf,
    XdpReplace,
    XdpLink,
    Freplace,
    Fentry,
    XdpFrags,
    LiveFrames,
}

impl Feature {
    /// Every feature, in the order of the table (oldest first, roughly).
    pub const ALL: [Feature; 12] = [
        Feature::Btf,
        Feature::KernelBtf,
        Feature::Bpffs,
        Feature::Tracefs,
        Feature::MapBatch,
        Feature::Ringbuf,
        Feature::XdpReplace,
        Feature::XdpLink,
        Feature::Freplace,
        Feature::Fentry,
        Feature::XdpFrags,
        Feature::LiveFrames,
    ];

    /// The key in `--json` (stable: scripts match on it).
    pub fn key(self) -> &'static str {
        match self {
            Feature::Btf => "btf",
            Feature::KernelBtf => "kernel_btf",
            Feature::Bpffs => "bpffs",
            Feature::Tracefs => "tracefs",
            Feature::MapBatch => "map_batch",
            Feature::Ringbuf => "ringbuf",
            Feature::XdpReplace => "xdp_replace",
            Feature::XdpLink => "xdp_link",
            Feature::Freplace => "freplace",
            Feature::Fentry => "fentry",
            Feature::XdpFrags => "xdp_frags",
            Feature::LiveFrames => "live_frames",
        }
    }

    /// What it is, as messages name it.
    pub fn title(self) -> &'static str {
        match self {
            Feature::Btf => "BTF (BPF_BTF_LOAD)",
            Feature::KernelBtf => "kernel BTF (/sys/kernel/btf/vmlinux)",
            Feature::Bpffs => "bpffs (the BPF filesystem)",
            Feature::Tracefs => "tracefs",
            Feature::MapBatch => "batch lookup of per-CPU arrays (BPF_MAP_LOOKUP_BATCH)",
            Feature::Ringbuf => "BPF ring buffer (BPF_MAP_TYPE_RINGBUF)",
            Feature::XdpReplace => "XDP_FLAGS_REPLACE",
            Feature::XdpLink => "XDP bpf_link",
            Feature::Freplace => "BPF trampolines: freplace (BPF_PROG_TYPE_EXT)",
            Feature::Fentry => "BPF trampolines: fentry on an XDP program",
            Feature::XdpFrags => "xdp.frags (BPF_F_XDP_HAS_FRAGS)",
            Feature::LiveFrames => "BPF_F_TEST_XDP_LIVE_FRAMES",
        }
    }

    /// The first mainline kernel with the feature.
    pub fn since(self) -> &'static str {
        match self {
            Feature::Btf => "4.18",
            Feature::KernelBtf => "5.4",
            Feature::Bpffs => "4.4",
            Feature::Tracefs => "4.1",
            // Hash maps had it from 5.6.
            Feature::MapBatch => "5.13",
            Feature::Ringbuf => "5.8",
            Feature::XdpReplace => "5.7",
            Feature::XdpLink => "5.9",
            // Loading came in 5.6; attaching to a target given at attach
            // time (what libxdp's dispatcher does) in 5.10.
            Feature::Freplace => "5.10",
            Feature::Fentry => "5.5",
            Feature::XdpFrags => "5.18",
            Feature::LiveFrames => "5.18",
        }
    }

    /// What needs it: commands of this tool, or the XDP ecosystem.
    pub fn used_by(self) -> &'static str {
        match self {
            Feature::Btf => "BTF-defined maps (SEC(\".maps\")), `map` decoding entries by type",
            Feature::KernelBtf => "fentry/freplace targets in the kernel, CO-RE programs",
            Feature::Bpffs => "pinned maps and links (`load`, `pin`, `stats`, `--attach link`)",
            Feature::Tracefs => "`monitor`, `trace`",
            Feature::MapBatch => "`stats` (one read per sample; without it, one per action)",
            Feature::Ringbuf => "`capture` (one ring for all CPUs; a perf buffer without it)",
            Feature::XdpReplace => {
                "`load --force` and `unload`: replace/detach only the program seen"
            }
            Feature::XdpLink => "`load --attach link`, `capture`",
            Feature::Freplace => "several programs per interface (libxdp's dispatcher)",
            Feature::Fentry => "capturing around a running program (xdpdump-style)",
            Feature::XdpFrags => "loading SEC(\"xdp.frags\") programs (jumbo frames, multi-buffer)",
            Feature::LiveFrames => "`bench live` (real frames through a veth pair)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_json_safe() {
        let mut keys: Vec<&str> = Feature::ALL.iter().map(|f| f.key()).collect();
        assert!(keys
            .iter()
            .all(|k| k.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), Feature::ALL.len());
    }

    #[test]
    fn serde_name_is_the_key() {
        for feature in Feature::ALL {
            assert_eq!(
                serde_json::to_value(feature).unwrap(),
                serde_json::json!(feature.key())
            );
        }
    }
}
