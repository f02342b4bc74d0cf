//! Reading `xdp_stats_map`: finding it (pin or id), checking its layout,
//! and reading every action's counters with a single bpf() call, or one
//! call per action on kernels without batch lookup (before 5.6).

use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use libbpf_rs::{MapCore, MapHandle, MapType};

use crate::error::{errno_of, errno_text, Exit, Failure};
use crate::features::{self, Feature};

/// Row names, indexed by the verdict a program returns (the map's key).
pub const ACTIONS: [&str; 5] = [
    "XDP_ABORTED",
    "XDP_DROP",
    "XDP_PASS",
    "XDP_TX",
    "XDP_REDIRECT",
];

/// One slot of the map: `struct datarec` in `src/bpf/xdp_stats_kern.h`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Datarec {
    pub rx_packets: u64,
    pub rx_bytes: u64,
}

/// The counters of every action at one moment, summed over all CPUs.
#[derive(Debug, Clone)]
pub struct Counters {
    pub at: Instant,
    pub actions: Vec<Datarec>,
}

impl Counters {
    /// All zero: the starting point for a map that was just created.
    pub fn zero(at: Instant, rows: usize) -> Counters {
        Counters {
            at,
            actions: vec![Datarec::default(); rows],
        }
    }
}

/// Where the map comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A pin on bpffs (`/sys/fs/bpf/IFNAME/xdp_stats_map` by default).
    Pin(PathBuf),
    /// A kernel map id (`--map-id`, as `bpftool map show` lists them).
    Id(u32),
}

/// What happened to the pin since the map was opened.
#[derive(Debug, PartialEq, Eq)]
pub enum PinState {
    Same,
    /// Another file now sits at the path (a reload pinned a new map).
    Replaced,
    Gone,
}

/// An open `xdp_stats_map` with buffers for the batch read.
pub struct StatsMap {
    handle: MapHandle,
    pub id: u32,
    pub location: Location,
    /// (device, inode) of the pin file: a new pin is a new inode, so one
    /// stat() per sample notices a replaced map without any bpf() call.
    pin_inode: Option<(u64, u64)>,
    /// Values per key: every possible CPU for PERCPU_ARRAY, 1 for ARRAY.
    cpus: usize,
    keys: Vec<u32>,
    values: Vec<Datarec>,
    /// BPF_MAP_LOOKUP_BATCH works here (probed once per process).
    batch: bool,
}

/// Says once per process that `stats` reads key by key, and why.
static PER_KEY_NOTE: std::sync::Once = std::sync::Once::new();

impl StatsMap {
    /// Opens the map and checks that it has the `xdp_stats_map` layout.
    pub fn open(location: &Location) -> Result<StatsMap, Failure> {
        let (handle, pin_inode) = match location {
            Location::Pin(path) => {
                let handle = MapHandle::from_pinned_path(path)
                    .map_err(|e| open_failure(&path.display().to_string(), &e))?;
                (handle, inode_of(path))
            }
            Location::Id(id) => {
                let handle = MapHandle::from_map_id(*id)
                    .map_err(|e| open_failure(&format!("map id {id}"), &e))?;
                (handle, None)
            }
        };
        let per_cpu = check_layout(&handle)?;
        let id = handle
            .info()
            .map_err(|e| open_failure("the map", &e))?
            .info
            .id;
        let cpus = if per_cpu {
            libbpf_rs::num_possible_cpus().map_err(|e| {
                Failure::new(Exit::Fail, format!("cannot count the possible CPUs: {e}"))
            })?
        } else {
            1
        };
        let rows = (handle.max_entries() as usize).min(ACTIONS.len());
        // Unknown (the probe could not tell): try the batch, as before.
        let batch = features::has(Feature::MapBatch) != Some(false);
        if !batch {
            PER_KEY_NOTE.call_once(|| {
                eprintln!(
                    "Note: this kernel has no {} (Linux {}+): reading one action at a time",
                    Feature::MapBatch.title(),
                    Feature::MapBatch.since()
                )
            });
        }
        Ok(StatsMap {
            handle,
            id,
            location: location.clone(),
            pin_inode,
            cpus,
            keys: vec![0; rows],
            values: vec![Datarec::default(); rows * cpus],
            batch,
        })
    }

    pub fn rows(&self) -> usize {
        self.keys.len()
    }

    pub fn pin(&self) -> Option<&Path> {
        match &self.location {
            Location::Pin(path) => Some(path),
            Location::Id(_) => None,
        }
    }

    /// The map's name as the kernel keeps it (15 characters at most).
    pub fn name(&self) -> String {
        self.handle.name().to_string_lossy().into_owned()
    }

    /// The C tutorial's description line of the map.
    pub fn describe(&self) -> String {
        format!(
            " - BPF map (bpf_map_type:{}) id:{} name:{} key_size:{} value_size:{} max_entries:{}",
            self.handle.map_type() as u32,
            self.id,
            self.handle.name().to_string_lossy(),
            self.handle.key_size(),
            self.handle.value_size(),
            self.handle.max_entries()
        )
    }

    /// Has the pin been removed or replaced since `open`?
    pub fn pin_state(&self) -> PinState {
        match (self.pin(), self.pin_inode) {
            (None, _) => PinState::Same,
            (Some(path), known) => match inode_of(path) {
                None => PinState::Gone,
                now if now == known => PinState::Same,
                Some(_) => PinState::Replaced,
            },
        }
    }

    /// Reads every action of every CPU: one BPF_MAP_LOOKUP_BATCH, or one
    /// lookup per action where the kernel has no batch lookup.
    pub fn read(&mut self) -> Result<Counters, Failure> {
        let result = match self.batch {
            true => self.lookup_batch(),
            false => self.lookup_each(),
        };
        let read = result.map_err(|errno| {
            Failure::new(
                Exit::Fail,
                format!(
                    "cannot read xdp_stats_map (id {}): {}",
                    self.id,
                    errno_text(errno)
                ),
            )
        })?;
        Ok(self.sum(read))
    }

    /// One BPF_MAP_LOOKUP_BATCH into keys/values (libbpf-rs refuses
    /// batches on per-CPU maps, so libbpf-sys directly). The kernel writes
    /// one value per possible CPU for each key, each padded to 8 bytes:
    /// `Datarec` is 16 bytes, so no padding here. Returns the keys read.
    fn lookup_batch(&mut self) -> Result<usize, i32> {
        let mut count = self.keys.len() as u32;
        let mut next_batch: u32 = 0;
        let opts = libbpf_sys::bpf_map_batch_opts {
            sz: std::mem::size_of::<libbpf_sys::bpf_map_batch_opts>() as _,
            ..Default::default()
        };
        // SAFETY: keys holds `count` u32 keys and values `count * cpus`
        // Datarecs (value_size 16, checked at open); a null in_batch
        // starts at the first key; the kernel writes nothing beyond.
        let ret = unsafe {
            libbpf_sys::bpf_map_lookup_batch(
                self.handle.as_fd().as_raw_fd(),
                std::ptr::null_mut(),
                (&mut next_batch as *mut u32).cast(),
                self.keys.as_mut_ptr().cast(),
                self.values.as_mut_ptr().cast(),
                &mut count,
                &opts,
            )
        };
        // ENOENT only says the batch reached the last key.
        if ret < 0 && ret != -libc::ENOENT {
            return Err(-ret);
        }
        Ok((count as usize).min(self.rows()))
    }

    /// The C tutorial's way: one BPF_MAP_LOOKUP_ELEM per action, each
    /// filling that action's per-CPU values. Returns the keys read.
    fn lookup_each(&mut self) -> Result<usize, i32> {
        for key in 0..self.rows() {
            self.keys[key] = key as u32;
            let values = &mut self.values[key * self.cpus..(key + 1) * self.cpus];
            // SAFETY: `values` has room for one 16-byte Datarec per
            // possible CPU, which is what a per-CPU array lookup writes
            // (and one Datarec for a plain array).
            let ret = unsafe {
                libbpf_sys::bpf_map_lookup_elem(
                    self.handle.as_fd().as_raw_fd(),
                    (&self.keys[key] as *const u32).cast(),
                    values.as_mut_ptr().cast(),
                )
            };
            if ret < 0 {
                return Err(-ret);
            }
        }
        Ok(self.rows())
    }

    /// Sums the first `read` keys' per-CPU values into one row per action.
    fn sum(&self, read: usize) -> Counters {
        let at = Instant::now();
        let mut counters = Counters::zero(at, self.rows());
        for (slot, &key) in self.keys[..read].iter().enumerate() {
            let Some(total) = counters.actions.get_mut(key as usize) else {
                continue;
            };
            for value in &self.values[slot * self.cpus..(slot + 1) * self.cpus] {
                total.rx_packets += value.rx_packets;
                total.rx_bytes += value.rx_bytes;
            }
        }
        counters
    }
}

/// `xdp_stats_map` is an (optionally per-CPU) array with a 4-byte key and a
/// 16-byte `struct datarec`. Returns whether it is per-CPU.
fn check_layout(map: &MapHandle) -> Result<bool, Failure> {
    let per_cpu = match map.map_type() {
        MapType::PercpuArray => true,
        MapType::Array => false,
        other => return Err(layout_failure(map, format!("its type is {other:?}"))),
    };
    if map.key_size() != 4 || map.value_size() != std::mem::size_of::<Datarec>() as u32 {
        return Err(layout_failure(
            map,
            format!(
                "key {} B and value {} B, not key 4 B and value 16 B",
                map.key_size(),
                map.value_size()
            ),
        ));
    }
    Ok(per_cpu)
}

fn layout_failure(map: &MapHandle, why: String) -> Failure {
    Failure::new(
        Exit::Bpf,
        format!(
            "map '{}' is not an xdp_stats_map: {why}",
            map.name().to_string_lossy()
        ),
    )
    .hint(
        "stats reads a PERCPU_ARRAY (or ARRAY) of struct datarec { __u64 rx_packets; \
         __u64 rx_bytes; } keyed by XDP action, as src/bpf/xdp_stats_kern.h declares",
    )
}

fn open_failure(what: &str, err: &libbpf_rs::Error) -> Failure {
    Failure::new(
        Exit::Bpf,
        format!("cannot open {what}: {}", errno_text(errno_of(err))),
    )
}

fn inode_of(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use libbpf_rs::MapFlags;

    /// The key-by-key reader (kernels without batch lookup) must read
    /// exactly what the batch reader reads, on a real per-CPU map with
    /// different values on every CPU. Needs root; skipped otherwise.
    #[test]
    fn key_by_key_reads_what_the_batch_reads() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: needs root");
            return;
        }
        let opts = libbpf_sys::bpf_map_create_opts {
            sz: std::mem::size_of::<libbpf_sys::bpf_map_create_opts>() as _,
            ..Default::default()
        };
        let map = MapHandle::create(MapType::PercpuArray, Some("stats_test"), 4, 16, 5, &opts)
            .expect("create a per-CPU array");
        let cpus = libbpf_rs::num_possible_cpus().unwrap();
        for key in 0u32..5 {
            let values: Vec<Vec<u8>> = (0..cpus as u64)
                .map(|cpu| {
                    let rec = [u64::from(key) * 100 + cpu, u64::from(key) * 1000 + cpu];
                    rec.iter().flat_map(|v| v.to_ne_bytes()).collect()
                })
                .collect();
            map.update_percpu(&key.to_ne_bytes(), &values, MapFlags::ANY)
                .unwrap();
        }
        let id = map.info().unwrap().info.id;
        let mut stats = StatsMap::open(&Location::Id(id)).unwrap();
        stats.batch = true;
        let batch = stats.read().unwrap().actions;
        stats.batch = false;
        let each = stats.read().unwrap().actions;
        assert_eq!(batch, each);
        let cpu_sum: u64 = (0..cpus as u64).sum();
        assert_eq!(each[3].rx_packets, 300 * cpus as u64 + cpu_sum);
        assert_eq!(each[4].rx_bytes, 4000 * cpus as u64 + cpu_sum);
    }
}
