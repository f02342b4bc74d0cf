//! Probes that need no network interface: BTF, filesystems, map types and
//! calls, program flags. Each tries the thing itself and reports what the
//! kernel answered.

use std::os::fd::AsRawFd;
use std::path::Path;

use super::catalog::Feature;
use super::raw;
use super::{Outcome, Probed};

/// A BTF blob with one type, `int`: what BPF_BTF_LOAD must accept.
fn tiny_btf() -> Vec<u8> {
    let strings = b"\0int\0";
    // struct btf_type for `int`: name_off 1, info = kind INT (1) << 24,
    // size 4; then the INT encoding word: signed, 32 bits.
    let types: [u32; 4] = [1, 1 << 24, 4, (1 << 24) | 32];
    let type_len = (types.len() * 4) as u32;
    // struct btf_header: magic 0xeB9F, version 1, flags 0, hdr_len 24,
    // type_off 0, type_len, str_off = type_len, str_len.
    let mut blob = Vec::new();
    blob.extend_from_slice(&0xeb9fu16.to_ne_bytes());
    blob.extend_from_slice(&[1, 0]);
    for word in [24, 0, type_len, type_len, strings.len() as u32] {
        blob.extend_from_slice(&word.to_ne_bytes());
    }
    for word in types {
        blob.extend_from_slice(&word.to_ne_bytes());
    }
    blob.extend_from_slice(strings);
    blob
}

pub fn btf() -> Probed {
    let blob = tiny_btf();
    // SAFETY: the blob outlives the call; NULL opts means no log.
    let ret = unsafe {
        libbpf_sys::bpf_btf_load(blob.as_ptr().cast(), blob.len() as _, std::ptr::null_mut())
    };
    if ret < 0 {
        return Probed::no(Feature::Btf, "BPF_BTF_LOAD", -ret);
    }
    // SAFETY: a new fd we own; closing it frees the BTF object.
    unsafe { libc::close(ret) };
    Probed::yes(Feature::Btf, "the kernel accepted a one-type BTF blob")
}

/// The kernel's own BTF, as libbpf finds it for fentry/freplace and CO-RE.
pub fn kernel_btf() -> Probed {
    let sysfs = Path::new("/sys/kernel/btf/vmlinux");
    // SAFETY: libbpf returns an owned btf object or NULL (errno set).
    let btf = unsafe { libbpf_sys::btf__load_vmlinux_btf() };
    if btf.is_null() {
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        return Probed {
            feature: Feature::KernelBtf,
            outcome: Outcome::No {
                step: "read vmlinux BTF",
                errno: Some(errno),
            },
            detail: "no /sys/kernel/btf/vmlinux (the kernel is built without \
                     CONFIG_DEBUG_INFO_BTF) and no vmlinux file libbpf could read"
                .into(),
        };
    }
    // SAFETY: btf came from btf__load_vmlinux_btf above.
    let types = unsafe { libbpf_sys::btf__type_cnt(btf) };
    // SAFETY: freed exactly once.
    unsafe { libbpf_sys::btf__free(btf) };
    let from = if sysfs.exists() {
        sysfs.display().to_string()
    } else {
        "a vmlinux file".into()
    };
    Probed::yes(Feature::KernelBtf, format!("{types} types, from {from}"))
}

/// Does the kernel know filesystem `fstype` (/proc/filesystems), and where
/// is it mounted now? The probe mounts nothing: the commands that need
/// one mount it themselves, and say so.
fn filesystem(feature: Feature, fstype: &str, usual: &[&str]) -> Probed {
    let known = std::fs::read_to_string("/proc/filesystems");
    let Ok(known) = known else {
        return Probed::unknown(feature, "cannot read /proc/filesystems");
    };
    if !known
        .lines()
        .any(|l| l.split_whitespace().last() == Some(fstype))
    {
        return Probed {
            feature,
            outcome: Outcome::No {
                step: "/proc/filesystems",
                errno: None,
            },
            detail: format!("this kernel has no {fstype} filesystem"),
        };
    }
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let at: Vec<&str> = mounts
        .lines()
        .filter_map(|l| {
            let mut fields = l.split_whitespace();
            let dir = fields.nth(1)?;
            (fields.next()? == fstype).then_some(dir)
        })
        .collect();
    let detail = match at.iter().find(|dir| usual.contains(dir)) {
        Some(dir) => format!("mounted at {dir}"),
        None if at.is_empty() => format!(
            "not mounted; the commands that need it mount it at {}",
            usual[0]
        ),
        None => format!("mounted at {}", at.join(", ")),
    };
    Probed::yes(feature, detail)
}

pub fn bpffs() -> Probed {
    filesystem(Feature::Bpffs, "bpf", &[crate::pin::BPFFS_ROOT])
}

pub fn tracefs() -> Probed {
    filesystem(
        Feature::Tracefs,
        "tracefs",
        &["/sys/kernel/tracing", "/sys/kernel/debug/tracing"],
    )
}

/// BPF_MAP_LOOKUP_BATCH on a two-entry per-CPU array, the map type
/// `stats` reads: every CPU's value of both entries must come back. (Hash
/// maps had batch lookup from 5.6, per-CPU arrays only from 5.13.)
pub fn map_batch() -> Probed {
    let feature = Feature::MapBatch;
    let map = match raw::map(libbpf_sys::BPF_MAP_TYPE_PERCPU_ARRAY, 2) {
        Ok(map) => map,
        Err(errno) => return Probed::unknown_errno(feature, "create a per-CPU array", errno),
    };
    // SAFETY: no preconditions.
    let cpus = unsafe { libbpf_sys::libbpf_num_possible_cpus() };
    if cpus <= 0 {
        return Probed::unknown_errno(feature, "count the possible CPUs", -cpus);
    }
    let cpus = cpus as usize;
    // Per-CPU values are u32, each padded to 8 bytes (a u64 here).
    let value_of = |key: u32, cpu: usize| u64::from(key * 10) + cpu as u64;
    for key in [0u32, 1] {
        let values: Vec<u64> = (0..cpus).map(|cpu| value_of(key, cpu)).collect();
        // SAFETY: one padded value per possible CPU, as the kernel reads.
        let ret = unsafe {
            libbpf_sys::bpf_map_update_elem(
                map.as_raw_fd(),
                (&key as *const u32).cast(),
                values.as_ptr().cast(),
                0,
            )
        };
        if ret < 0 {
            return Probed::unknown_errno(feature, "fill the per-CPU array", -ret);
        }
    }
    let mut keys = [0u32; 2];
    let mut values = vec![0u64; 2 * cpus];
    let mut count = 2u32;
    let mut next = 0u32;
    let opts = libbpf_sys::bpf_map_batch_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_map_batch_opts>() as _,
        ..Default::default()
    };
    // SAFETY: keys has room for `count` keys, values for `count` keys'
    // padded per-CPU values.
    let ret = unsafe {
        libbpf_sys::bpf_map_lookup_batch(
            map.as_raw_fd(),
            std::ptr::null_mut(),
            (&mut next as *mut u32).cast(),
            keys.as_mut_ptr().cast(),
            values.as_mut_ptr().cast(),
            &mut count,
            &opts,
        )
    };
    // ENOENT only says the batch reached the end of the map.
    if ret < 0 && ret != -libc::ENOENT {
        return Probed::no(feature, "BPF_MAP_LOOKUP_BATCH", -ret);
    }
    let expected: Vec<u64> = [0u32, 1]
        .iter()
        .flat_map(|&key| (0..cpus).map(move |cpu| value_of(key, cpu)))
        .collect();
    if count != 2 || keys != [0, 1] || values != expected {
        return Probed::unknown(
            feature,
            format!("the batch returned {count} keys {keys:?}, not the entries written"),
        );
    }
    Probed::yes(
        feature,
        format!("read both entries of a per-CPU array ({cpus} CPUs) in one call"),
    )
}

pub fn ringbuf() -> Probed {
    match raw::map(libbpf_sys::BPF_MAP_TYPE_RINGBUF, 4096) {
        Ok(_) => Probed::yes(Feature::Ringbuf, "created a 4 KiB ring buffer"),
        Err(errno) => Probed::no(Feature::Ringbuf, "create the map", errno),
    }
}

pub fn xdp_frags() -> Probed {
    match raw::xdp_program(libbpf_sys::XDP_PASS, libbpf_sys::BPF_F_XDP_HAS_FRAGS) {
        Ok(_) => Probed::yes(
            Feature::XdpFrags,
            "loaded an XDP program with BPF_F_XDP_HAS_FRAGS",
        ),
        Err(errno) => Probed::no(Feature::XdpFrags, "load the program", errno),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_btf_header_is_consistent() {
        let blob = tiny_btf();
        assert_eq!(&blob[..2], &0xeb9fu16.to_ne_bytes());
        let word = |at: usize| u32::from_ne_bytes(blob[at..at + 4].try_into().unwrap());
        let (hdr_len, type_len, str_off, str_len) = (word(4), word(12), word(16), word(20));
        assert_eq!(hdr_len, 24);
        assert_eq!(str_off, type_len);
        assert_eq!(blob.len() as u32, hdr_len + type_len + str_len);
        assert_eq!(&blob[blob.len() - 5..], b"\0int\0");
    }
}
