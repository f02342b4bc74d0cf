//! The few bpf() calls the probes make directly, on programs and maps built
//! from nothing: two instructions of XDP program, small maps.
//! Going around libbpf here is deliberate: libbpf quietly works around
//! missing kernel features (that is its job), and a probe must not.

use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd};

/// `r0 = verdict; exit`: the smallest XDP program the verifier accepts.
fn returning(verdict: u32) -> [libbpf_sys::bpf_insn; 2] {
    [
        libbpf_sys::bpf_insn {
            code: (libbpf_sys::BPF_ALU64 | libbpf_sys::BPF_MOV | libbpf_sys::BPF_K) as u8,
            imm: verdict as i32,
            ..Default::default()
        },
        libbpf_sys::bpf_insn {
            code: (libbpf_sys::BPF_JMP | libbpf_sys::BPF_EXIT) as u8,
            ..Default::default()
        },
    ]
}

/// Loads an XDP program returning `verdict`, with `prog_flags`
/// (e.g. BPF_F_XDP_HAS_FRAGS). Err is the errno.
pub fn xdp_program(verdict: u32, prog_flags: u32) -> Result<OwnedFd, i32> {
    let insns = returning(verdict);
    let opts = libbpf_sys::bpf_prog_load_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_prog_load_opts>() as _,
        prog_flags,
        ..Default::default()
    };
    // SAFETY: the instructions and opts outlive the call; names are
    // NUL-terminated literals.
    let ret = unsafe {
        libbpf_sys::bpf_prog_load(
            libbpf_sys::BPF_PROG_TYPE_XDP,
            c"xdp_probe".as_ptr(),
            c"GPL".as_ptr(),
            insns.as_ptr(),
            insns.len() as _,
            &opts as *const _ as *mut _,
        )
    };
    owned(ret)
}

/// Creates a map of `map_type` (key and value u32). Err is the errno.
pub fn map(map_type: libbpf_sys::bpf_map_type, max_entries: u32) -> Result<OwnedFd, i32> {
    // A ring buffer has no keys or values, only a power-of-two page count.
    let (key, value) = match map_type {
        libbpf_sys::BPF_MAP_TYPE_RINGBUF => (0, 0),
        _ => (4, 4),
    };
    // SAFETY: NULL opts means defaults; the name is a literal.
    let ret = unsafe {
        libbpf_sys::bpf_map_create(
            map_type,
            c"probe".as_ptr(),
            key,
            value,
            max_entries,
            std::ptr::null(),
        )
    };
    owned(ret)
}

/// The kernel's id of a program or map fd.
pub fn prog_id(fd: BorrowedFd) -> Option<u32> {
    libbpf_rs::Program::id_from_fd(fd).ok()
}

fn owned(ret: i32) -> Result<OwnedFd, i32> {
    if ret < 0 {
        return Err(-ret);
    }
    // SAFETY: a non-negative return is a new fd that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(ret) })
}
