//! Recognising a dispatcher in the kernel (ours or libxdp's) and reading
//! its slots back, as libxdp does: the program is named `xdp_dispatcher`,
//! has exactly one map (the frozen configuration), and its components are
//! pinned under `/sys/fs/bpf/xdp/dispatch-IFINDEX-ID/`.
//!
//! Priorities and actions come from the configuration, not from the
//! components' objects: they may have been overridden at load time.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

use libbpf_rs::btf::types::{Array, DataSec, Ptr, Var};
use libbpf_rs::btf::{Btf, ReferencesType};

use super::config::{Config, EMPTY_SLOT_VERDICT, FLAG_FRAGS};
use super::pins;
use super::run_config::RunConfig;
use crate::error::{errno_text, Exit, Failure};
use crate::iface::prog_summary;

pub const DISPATCHER_NAME: &str = "xdp_dispatcher";

/// A dispatcher found on an interface.
pub struct Found {
    pub id: u32,
    pub fd: OwnedFd,
    pub config: Config,
    pub pin_dir: PathBuf,
    pub components: Vec<Component>,
}

/// One program in a dispatcher slot.
pub struct Component {
    pub slot: usize,
    pub id: u32,
    pub name: String,
    pub fd: OwnedFd,
    pub run: RunConfig,
    pub frags: bool,
}

/// What the program with id `prog_id` on `ifindex` is.
pub enum Seen {
    /// Not a dispatcher: an ordinary XDP program.
    Plain,
    Dispatcher(Found),
    /// A dispatcher this loader must not change (too new, or unreadable).
    Unusable {
        id: u32,
        why: String,
    },
}

/// The fixed part of bpf_prog_info we need, with its one map id.
pub(super) struct ProgInfo {
    pub name: String,
    pub id: u32,
    nr_map_ids: u32,
    map_id: u32,
}

pub(super) fn prog_info(fd: &OwnedFd) -> Result<ProgInfo, i32> {
    let mut map_id = 0u32;
    let mut info = libbpf_sys::bpf_prog_info {
        nr_map_ids: 1,
        map_ids: &mut map_id as *mut u32 as u64,
        ..Default::default()
    };
    let mut len = std::mem::size_of_val(&info) as u32;
    // SAFETY: info is a bpf_prog_info with room for one map id; len its size.
    let ret = unsafe {
        libbpf_sys::bpf_obj_get_info_by_fd(fd.as_raw_fd(), &mut info as *mut _ as *mut _, &mut len)
    };
    if ret < 0 {
        return Err(-ret);
    }
    let name: Vec<u8> = info
        .name
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    Ok(ProgInfo {
        name: String::from_utf8_lossy(&name).into_owned(),
        id: info.id,
        nr_map_ids: info.nr_map_ids,
        map_id,
    })
}

pub fn prog_fd_by_id(id: u32) -> Result<OwnedFd, Failure> {
    // SAFETY: plain syscall wrapper; a non-negative result is ours.
    let fd = unsafe { libbpf_sys::bpf_prog_get_fd_by_id(id) };
    if fd < 0 {
        return Err(Failure::new(
            Exit::Fail,
            format!("cannot open program id {id}: {}", errno_text(-fd)),
        ));
    }
    // SAFETY: just returned by the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Reads the one-entry configuration map `map_id`.
fn read_config_map(map_id: u32) -> Option<Vec<u8>> {
    // SAFETY: plain syscall wrapper.
    let fd = unsafe { libbpf_sys::bpf_map_get_fd_by_id(map_id) };
    if fd < 0 {
        return None;
    }
    // SAFETY: just returned by the kernel.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let info = libbpf_rs::MapInfo::new(std::os::fd::AsFd::as_fd(&fd)).ok()?;
    if info.info.key_size != 4 || info.info.max_entries != 1 {
        return None;
    }
    let mut value = vec![0u8; info.info.value_size as usize];
    let key = 0u32;
    // SAFETY: key and value buffers have the map's sizes.
    let ret = unsafe {
        libbpf_sys::bpf_map_lookup_elem(
            fd.as_raw_fd(),
            &key as *const u32 as *const _,
            value.as_mut_ptr() as *mut _,
        )
    };
    (ret == 0).then_some(value)
}

/// The version in the program's BTF (`xdp_metadata`: `dispatcher_version`),
/// the only place a version 1 dispatcher says which version it is.
fn btf_version(prog_id: u32) -> Option<u32> {
    let btf = Btf::from_prog_id(prog_id).ok()?;
    let section = btf.type_by_name::<DataSec>("xdp_metadata")?;
    let var = section
        .iter()
        .filter_map(|info| btf.type_by_id::<Var>(info.ty))
        .find(|v| v.name().and_then(|n| n.to_str()) == Some("dispatcher_version"))?;
    let ptr = Ptr::try_from(var.referenced_type()).ok()?;
    Some(Array::try_from(ptr.referenced_type()).ok()?.capacity() as u32)
}

/// Looks at the program `prog_id` attached to `ifindex`.
pub fn inspect(ifindex: u32, prog_id: u32) -> Result<Seen, Failure> {
    let fd = prog_fd_by_id(prog_id)?;
    let info = prog_info(&fd).map_err(|errno| {
        Failure::new(
            Exit::Fail,
            format!("cannot read program id {prog_id}: {}", errno_text(errno)),
        )
    })?;
    if info.name != DISPATCHER_NAME || info.nr_map_ids != 1 {
        return Ok(Seen::Plain);
    }
    let Some(bytes) = read_config_map(info.map_id) else {
        return Ok(Seen::Plain);
    };
    let config = match Config::read(&bytes, btf_version(prog_id)) {
        Ok(config) => config,
        Err(why) => {
            return Ok(Seen::Unusable {
                id: prog_id,
                why: why.to_string(),
            })
        }
    };
    let pin_dir = pins::dir(ifindex, prog_id);
    let mut components = Vec::new();
    for slot in 0..config.num_progs_enabled as usize {
        let Ok(fd) = pins::open_prog(&pin_dir, slot) else {
            return Ok(Seen::Unusable {
                id: prog_id,
                why: format!(
                    "its slot {slot} is not pinned under {} (a killed run, or pins removed by hand)",
                    pin_dir.display()
                ),
            });
        };
        let id = prog_info(&fd).map(|i| i.id).unwrap_or(0);
        components.push(Component {
            slot,
            id,
            name: prog_summary(id).name,
            fd,
            run: RunConfig {
                priority: config.run_prios[slot],
                actions: config.chain_call_actions[slot] & !(1 << EMPTY_SLOT_VERDICT),
            },
            frags: config.program_flags[slot] & FLAG_FRAGS != 0,
        });
    }
    Ok(Seen::Dispatcher(Found {
        id: prog_id,
        fd,
        config,
        pin_dir,
        components,
    }))
}
