//! Which map a command means (`/sys/fs/bpf/eth0/xdp_stats_map`, `id:12`
//! or `eth0:xdp_stats_map`), opened, with what the kernel says about it
//! and the layouts of its keys and values from its BTF.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use libbpf_rs::btf::Btf;
use libbpf_rs::{MapCore, MapHandle, MapType};
use serde::Serialize;

use super::layout::Layout;
use crate::error::{errno_of as errno, errno_text, Exit, Failure};
use crate::iface;
use crate::maps::maps_by_program;
use crate::pin::{self, BPFFS_ROOT};

/// How MAP may be written, for usage errors.
pub const MAP_FORMS: &str = "a pin path (/sys/fs/bpf/IFNAME/NAME), id:N, or IFNAME:NAME";

/// A map, opened.
pub struct Target {
    pub handle: MapHandle,
    pub summary: Summary,
    pub key: Layout,
    /// For per-CPU maps: the value of one CPU.
    pub value: Layout,
}

/// What `map list` and the dump header show of a map.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub name: String,
    pub id: u32,
    #[serde(rename = "type")]
    pub type_name: String,
    #[serde(skip)]
    pub ty: MapType,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub flags: u32,
    /// Whether keys and values print by their BTF types.
    pub btf: bool,
    pub pin: Option<PathBuf>,
}

impl Summary {
    /// `xdp_stats_map (id 12, percpu_array, key 4 B, value 16 B, 5 entries)`
    pub fn describe(&self) -> String {
        let entries = match self.max_entries {
            1 => "1 entry".to_string(),
            n => format!("{n} entries"),
        };
        format!(
            "{} (id {}, {}, key {} B, value {} B, {entries})",
            self.name, self.id, self.type_name, self.key_size, self.value_size
        )
    }

    pub fn is_map_of_maps(&self) -> bool {
        matches!(self.ty, MapType::ArrayOfMaps | MapType::HashOfMaps)
    }

    pub fn is_array(&self) -> bool {
        matches!(
            self.ty,
            MapType::Array | MapType::PercpuArray | MapType::ArrayOfMaps | MapType::ProgArray
        )
    }

    /// Keys are indexes 0..max_entries: arrays, and the redirect maps indexed
    /// by slot (devmap, cpumap, xskmap), which answer E2BIG past the end.
    pub fn has_index_keys(&self) -> bool {
        self.is_array() || matches!(self.ty, MapType::Devmap | MapType::Cpumap | MapType::Xskmap)
    }
}

/// Opens the map MAP names.
pub fn resolve(spec: &str) -> Result<Target, Failure> {
    let (handle, pin) = open(spec)?;
    Ok(inspect(handle, pin))
}

fn open(spec: &str) -> Result<(MapHandle, Option<PathBuf>), Failure> {
    if let Some(id) = spec.strip_prefix("id:") {
        let id: u32 = id.parse().map_err(|_| {
            Failure::new(
                Exit::Usage,
                format!("'{spec}': the map id must be a number"),
            )
            .hint(format!("MAP is {MAP_FORMS}"))
        })?;
        let handle = MapHandle::from_map_id(id).map_err(|e| {
            Failure::new(
                Exit::Fail,
                format!("no map with id {id}: {}", errno_text(errno(&e))),
            )
            .hint("list the maps with: xdp-loader map list, or bpftool map show")
        })?;
        let pin = pin_of(handle_id(&handle));
        return Ok((handle, pin));
    }
    if spec.contains('/') {
        let path = Path::new(spec);
        if !path.exists() {
            return Err(Failure::new(Exit::Fail, format!("nothing is pinned at {spec}"))
                .hint("see what is pinned with: ls /sys/fs/bpf/IFNAME (or xdp-loader map list IFNAME)"));
        }
        if !pin::is_bpffs(path) {
            return Err(Failure::new(
                Exit::Usage,
                format!("{spec} is not on a BPF filesystem, so it is not a map pin"),
            )
            .hint(format!("MAP is {MAP_FORMS}")));
        }
        let handle = open_map_pin(path)?;
        return Ok((handle, Some(path.to_path_buf())));
    }
    let Some((ifname, name)) = spec.split_once(':') else {
        return Err(
            Failure::new(Exit::Usage, format!("'{spec}' does not name a map"))
                .hint(format!("MAP is {MAP_FORMS}")),
        );
    };
    let iface = iface::resolve(ifname)?;
    let (ids, pins) = maps_of_interface(&iface.name, iface.index)?;
    // The kernel keeps 15 characters of a map's name.
    let short: String = name.chars().take(15).collect();
    for id in &ids {
        if let Ok(handle) = MapHandle::from_map_id(*id) {
            if handle.name().to_string_lossy() == short {
                let pin = pin_of(*id);
                return Ok((handle, pin));
            }
        }
    }
    let pinned = pin::default_dir(&iface.name).join(name);
    if pin::open_pinned(&pinned).is_ok() {
        return Ok((open_map_pin(&pinned)?, Some(pinned)));
    }
    let mut known: Vec<String> = ids
        .iter()
        .filter_map(|id| MapHandle::from_map_id(*id).ok())
        .map(|h| h.name().to_string_lossy().into_owned())
        .chain(
            pins.iter()
                .filter_map(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned()),
        )
        .collect();
    known.sort();
    known.dedup();
    let hint = match known.is_empty() {
        true => format!(
            "no XDP program on {} uses maps, and none are pinned in {}",
            iface.name,
            pin::default_dir(&iface.name).display()
        ),
        false => format!("maps there: {}", known.join(", ")),
    };
    Err(Failure::new(Exit::Fail, format!("no map '{name}' on {}", iface.name)).hint(hint))
}

/// Ids of the maps the XDP programs on an interface use, and the pins in
/// /sys/fs/bpf/IFNAME.
pub fn maps_of_interface(ifname: &str, ifindex: u32) -> Result<(Vec<u32>, Vec<PathBuf>), Failure> {
    let attached = iface::attached(ifindex)?
        .iter()
        .map(|p| p.prog_id)
        .collect();
    // A dispatcher's own map is its configuration: the maps that matter
    // belong to the programs in its slots.
    let programs = crate::dispatcher::with_components(ifindex, attached);
    let by_program = maps_by_program();
    let mut ids: Vec<u32> = programs
        .iter()
        .filter_map(|p| by_program.get(p))
        .flatten()
        .copied()
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut pins: Vec<PathBuf> = std::fs::read_dir(pin::default_dir(ifname))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| open_map_pin(p).is_ok())
        .collect();
    pins.sort();
    Ok((ids, pins))
}

/// Where this tool's layout would have pinned map `id`:
/// /sys/fs/bpf/<dir>/<pin> for every directory there.
fn pin_of(id: u32) -> Option<PathBuf> {
    std::fs::read_dir(BPFFS_ROOT)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|dir| dir.path().is_dir())
        .flat_map(|dir| {
            std::fs::read_dir(dir.path())
                .into_iter()
                .flatten()
                .flatten()
        })
        .map(|entry| entry.path())
        .find(|path| open_map_pin(path).is_ok_and(|h| handle_id(&h) == id))
}

/// Opens the map pinned at `path`; a program or link pinned there is named.
pub fn open_map_pin(path: &Path) -> Result<MapHandle, Failure> {
    let shown = path.display();
    let fd = pin::open_pinned(path).map_err(|errno| {
        Failure::new(
            Exit::Fail,
            format!("{shown} is not a pinned map: {}", errno_text(errno)),
        )
    })?;
    // libbpf reads a program's or link's info as a map's without complaint
    // (ids and sizes of the wrong object), so ask the kernel what it is.
    match pin::kind_of(&fd) {
        pin::Kind::Map => MapHandle::from_pinned_path(path).map_err(|e| {
            Failure::new(
                Exit::Fail,
                format!(
                    "cannot open the map pinned at {shown}: {}",
                    errno_text(errno(&e))
                ),
            )
        }),
        pin::Kind::Program => Err(Failure::new(
            Exit::Usage,
            format!("{shown} pins a program, not a map"),
        )
        .hint(format!(
            "bpftool prog show pinned {shown} shows it; its maps: xdp-loader map list"
        ))),
        kind => Err(Failure::new(
            Exit::Usage,
            format!("{shown} pins a {}, not a map", kind.name()),
        )
        .hint(format!(
            "bpftool link show pinned {shown} shows it; its program's maps: xdp-loader map list"
        ))),
    }
}

fn handle_id(handle: &MapHandle) -> u32 {
    handle.info().map(|i| i.info.id).unwrap_or(0)
}

/// Reads what the kernel knows about the map, and its BTF if it has one.
pub fn inspect(handle: MapHandle, pin: Option<PathBuf>) -> Target {
    let raw = handle.info().map(|i| i.info).unwrap_or_default();
    let ty = handle.map_type();
    // Maps of maps have BTF for their key only (the value is a map).
    let btf = (raw.btf_id != 0 && (raw.btf_key_type_id != 0 || raw.btf_value_type_id != 0))
        .then(|| load_btf(raw.btf_id))
        .flatten();
    let (key_size, value_size) = (raw.key_size as usize, raw.value_size as usize);
    let typed = |type_id: u32, size: usize| {
        btf.as_ref()
            .and_then(|btf| Layout::from_btf(btf, type_id, size))
    };
    let key = typed(raw.btf_key_type_id, key_size).unwrap_or(Layout::Bytes { size: key_size });
    let value = match ty {
        MapType::ArrayOfMaps | MapType::HashOfMaps => Layout::MapId,
        _ => typed(raw.btf_value_type_id, value_size).unwrap_or(Layout::Bytes { size: value_size }),
    };
    // The kernel keeps 15 characters of a name; a pin often has them all.
    let kernel_name = handle.name().to_string_lossy().into_owned();
    let name = pin
        .as_ref()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&kernel_name))
        .unwrap_or(kernel_name);
    let summary = Summary {
        name,
        id: raw.id,
        type_name: type_name(ty),
        ty,
        key_size: raw.key_size,
        value_size: raw.value_size,
        max_entries: raw.max_entries,
        flags: raw.map_flags,
        btf: !matches!(key, Layout::Bytes { .. })
            || !matches!(value, Layout::Bytes { .. } | Layout::MapId),
        pin,
    };
    Target {
        handle,
        summary,
        key,
        value,
    }
}

/// `PercpuArray` → `percpu_array`, as bpftool and the kernel's names go.
pub fn type_name(ty: MapType) -> String {
    let debug = format!("{ty:?}");
    let mut out = String::new();
    for (i, c) in debug.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The BTF object with kernel id `id`. libbpf-rs reads BTF from a file, so
/// its raw bytes go into an in-memory file first.
fn load_btf(id: u32) -> Option<Btf<'static>> {
    // SAFETY: returns a new btf object (or NULL), which we free below.
    let loaded = unsafe { libbpf_sys::btf__load_from_kernel_by_id(id) };
    if loaded.is_null() {
        return None;
    }
    let mut size = 0u32;
    // SAFETY: `loaded` is valid; the data stays valid until btf__free.
    let bytes = unsafe {
        let data = libbpf_sys::btf__raw_data(loaded, &mut size);
        let bytes = (!data.is_null())
            .then(|| std::slice::from_raw_parts(data.cast::<u8>(), size as usize).to_vec());
        libbpf_sys::btf__free(loaded);
        bytes
    }?;
    // SAFETY: memfd_create with a valid name; a non-negative return is ours.
    let fd = unsafe { libc::memfd_create(c"map-btf".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    // SAFETY: fd was just created and is owned here.
    let file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    use std::io::Write;
    (&file).write_all(&bytes).ok()?;
    Btf::from_path(format!("/proc/self/fd/{}", file.as_fd().as_raw_fd())).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_read_like_bpftool() {
        assert_eq!(type_name(MapType::PercpuArray), "percpu_array");
        assert_eq!(type_name(MapType::HashOfMaps), "hash_of_maps");
        assert_eq!(type_name(MapType::Devmap), "devmap");
        assert_eq!(type_name(MapType::LruHash), "lru_hash");
    }
}
