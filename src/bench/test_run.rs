//! BPF_PROG_TEST_RUN: the kernel runs a loaded XDP program on our frame.
//!
//! Two flavours. Plain runs have no side effects: the kernel runs the
//! program `repeat` times on the same buffer and reports the mean time
//! per run. Live-frame runs (BPF_F_TEST_XDP_LIVE_FRAMES) act on each
//! verdict as a driver would: XDP_TX sends the frame out of the interface
//! given as ingress, which makes the kernel a traffic generator.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// The verdict of the last run and the kernel's mean nanoseconds per run.
#[derive(Debug, Clone, Copy)]
pub struct Timed {
    pub verdict: u32,
    pub ns_per_run: u32,
}

/// Runs `prog` `repeat` times on `frame`. The program sees its own output
/// of the previous run (the buffer is not reset between runs).
pub fn repeat(prog: BorrowedFd, frame: &[u8], repeat: u32) -> io::Result<Timed> {
    let mut opts = options(frame);
    opts.repeat = repeat as i32;
    run(prog, &mut opts)?;
    Ok(Timed {
        verdict: opts.retval,
        ns_per_run: opts.duration,
    })
}

/// Runs `prog` on `repeat` copies of `frame`, each as if it had arrived on
/// `ifindex`, and carries out the verdicts (in batches of 64, like NAPI).
/// Returns the kernel's mean ns per frame: the batches only, without the
/// call's setup (which waits for RCU grace periods).
pub fn live(prog: BorrowedFd, frame: &[u8], ifindex: u32, repeat: u32) -> io::Result<u32> {
    // ctx_in: data_end must equal the frame length; data and data_meta 0.
    let ctx = libbpf_sys::xdp_md {
        data_end: frame.len() as u32,
        ingress_ifindex: ifindex,
        ..Default::default()
    };
    let mut opts = options(frame);
    opts.repeat = repeat as i32;
    opts.flags = libbpf_sys::BPF_F_TEST_XDP_LIVE_FRAMES;
    opts.ctx_in = (&ctx as *const libbpf_sys::xdp_md).cast();
    opts.ctx_size_in = std::mem::size_of_val(&ctx) as u32;
    run(prog, &mut opts)?;
    Ok(opts.duration)
}

fn options(frame: &[u8]) -> libbpf_sys::bpf_test_run_opts {
    libbpf_sys::bpf_test_run_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_test_run_opts>() as _,
        data_in: frame.as_ptr().cast(),
        data_size_in: frame.len() as u32,
        ..Default::default()
    }
}

fn run(prog: BorrowedFd, opts: &mut libbpf_sys::bpf_test_run_opts) -> io::Result<()> {
    // SAFETY: opts points at `frame` (and `ctx`), which the callers keep
    // alive across the call; no output buffers are given, so the kernel
    // writes only into opts itself.
    let ret = unsafe { libbpf_sys::bpf_prog_test_run_opts(prog.as_raw_fd(), opts) };
    match ret {
        0 => Ok(()),
        err => Err(io::Error::from_raw_os_error(-err)),
    }
}
