//! The kernel's answers to map operations, in words: what each errno means
//! for this map type and update flag, and what to do instead.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use libbpf_rs::MapCore;

use super::target::{Summary, Target};
use crate::cli::UpdateFlag;
use crate::error::{errno_name, errno_of as errno, errno_text, Exit, Failure, ROOT_HINT};

#[derive(Debug, Clone, Copy)]
pub enum Op {
    Lookup,
    Update(UpdateFlag),
    Delete,
}

/// A refused map operation as one `Error:` line and a hint.
pub fn explain(op: Op, map: &Summary, key: &str, err: &libbpf_rs::Error) -> Failure {
    let errno = errno(err);
    let name = &map.name;
    let last_key = map.max_entries.saturating_sub(1);
    let (message, hint): (String, String) = match (op, errno) {
        (_, libc::EPERM | libc::EACCES) => (
            format!("not allowed to change map {name}"),
            ROOT_HINT.to_string(),
        ),
        (Op::Update(UpdateFlag::Noexist), libc::EEXIST) if map.is_array() => (
            format!("--flags noexist can never succeed on {name}: every key of an array map exists"),
            format!(
                "an array has all its keys 0..={last_key} from the start; use --flags any or exist to change one"
            ),
        ),
        (Op::Update(UpdateFlag::Noexist), libc::EEXIST) => (
            format!("key {key} is already in map {name}, and --flags noexist only adds new keys"),
            "use --flags any (add or replace) or --flags exist (replace only)".to_string(),
        ),
        (Op::Update(UpdateFlag::Exist), libc::ENOENT) => (
            format!("key {key} is not in map {name}, and --flags exist only changes existing keys"),
            "use --flags any or noexist to add it".to_string(),
        ),
        // E2BIG for an index map is the kernel's "index >= max_entries".
        (_, libc::E2BIG) if map.has_index_keys() => past_the_end(map, key),
        (Op::Update(_), libc::E2BIG | libc::ENOSPC) => (
            format!(
                "map {name} is full: it holds at most {} entries",
                map.max_entries
            ),
            "delete entries first (xdp-loader map delete), or give the map more max_entries".to_string(),
        ),
        (Op::Delete, libc::EINVAL) if map.is_array() => (
            format!("entries of array map {name} cannot be deleted: every key always exists"),
            "set it to zero instead, with xdp-loader map update".to_string(),
        ),
        (Op::Delete, libc::ENOENT) => missing(map, key),
        (Op::Update(_), libc::EINVAL | libc::EBADF) if map.is_map_of_maps() => (
            format!("map {name} refused the inner map for key {key}"),
            "an inner map must have the same type, key and value size (and max entries, for arrays) \
             as the template of the outer map: make one with xdp-loader map new-inner"
                .to_string(),
        ),
        (_, libc::EOPNOTSUPP | ENOTSUPP) => (
            format!("map {name} ({}) does not support this from user space", map.type_name),
            "bpftool map help lists what each map type allows".to_string(),
        ),
        _ => (
            format!(
                "{} key {key} of map {name} failed: {} ({})",
                match op {
                    Op::Lookup => "reading",
                    Op::Update(_) => "updating",
                    Op::Delete => "deleting",
                },
                errno_text(errno),
                errno_name(errno)
            ),
            "check the map with: xdp-loader map list, bpftool map show".to_string(),
        ),
    };
    Failure::new(Exit::Fail, message).hint(hint)
}

/// The kernel's own "not supported" (524), which libc does not name.
const ENOTSUPP: i32 = 524;

fn missing(map: &Summary, key: &str) -> (String, String) {
    (
        format!("key {key} is not in map {}", map.name),
        "see the keys there with: xdp-loader map dump MAP".to_string(),
    )
}

/// `lookup` of a key that is not there (for an array: one past its end).
pub fn missing_key(map: &Summary, key: &str) -> Failure {
    let (message, hint) = match map.is_array() && !map.is_map_of_maps() {
        true => past_the_end(map, key),
        false => missing(map, key),
    };
    Failure::new(Exit::Fail, message).hint(hint)
}

fn past_the_end(map: &Summary, key: &str) -> (String, String) {
    (
        format!(
            "key {key} is past the end of {} map {}",
            map.type_name, map.name
        ),
        format!(
            "its keys are 0..={} (max_entries {})",
            map.max_entries.saturating_sub(1),
            map.max_entries
        ),
    )
}

/// A new map with the template's type, sizes, flags and BTF (so it prints
/// by type too).
pub fn create_like(template: &Target) -> Result<OwnedFd, Failure> {
    let raw = template
        .handle
        .info()
        .map(|i| i.info)
        .map_err(|e| Failure::new(Exit::Fail, format!("cannot read the template map: {e}")))?;
    // SAFETY: a valid id; a non-negative return is a new fd we own.
    let btf_fd = match raw.btf_id {
        0 => None,
        id => {
            let fd = unsafe { libbpf_sys::bpf_btf_get_fd_by_id(id) };
            (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
        }
    };
    let opts = libbpf_sys::bpf_map_create_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_map_create_opts>() as _,
        map_flags: raw.map_flags,
        btf_fd: btf_fd
            .as_ref()
            .map_or(0, |fd| fd.as_fd().as_raw_fd() as u32),
        btf_key_type_id: btf_fd.as_ref().map_or(0, |_| raw.btf_key_type_id),
        btf_value_type_id: btf_fd.as_ref().map_or(0, |_| raw.btf_value_type_id),
        ..Default::default()
    };
    let name = std::ffi::CString::new(template.summary.name.as_str()).unwrap_or_default();
    // SAFETY: valid name, sizes and a properly sized opts struct.
    let fd = unsafe {
        libbpf_sys::bpf_map_create(
            raw.type_,
            name.as_ptr(),
            raw.key_size,
            raw.value_size,
            raw.max_entries,
            &opts,
        )
    };
    if fd < 0 {
        return Err(Failure::new(
            Exit::Fail,
            format!(
                "cannot create a map like {}: {}",
                template.summary.describe(),
                errno_text(-fd)
            ),
        ));
    }
    // SAFETY: a non-negative return is a new map fd that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
