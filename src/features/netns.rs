//! Probes that attach XDP programs, made where they can disturb nothing:
//! on the loopback device of a network namespace made for the probe (in a
//! thread of its own, which is the only member of it), which disappears
//! with everything attached to it when the thread ends.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use super::catalog::Feature;
use super::raw;
use super::Probed;

/// Loopback's ifindex in a fresh network namespace.
const LO: u32 = 1;

/// Runs the XDP attach probes in a private network namespace.
pub fn probe_all() -> Vec<Probed> {
    let run = std::thread::spawn(|| {
        // SAFETY: unshare affects only this thread's network namespace.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
            return [Feature::XdpLink, Feature::XdpReplace, Feature::LiveFrames]
                .map(|f| Probed::unknown_errno(f, "make a private network namespace", errno))
                .to_vec();
        }
        vec![xdp_link(), xdp_replace(), live_frames()]
    });
    run.join().unwrap_or_default()
}

/// The program id in lo's skb (generic) XDP slot, 0 if none.
fn skb_prog_on_lo() -> u32 {
    let mut opts = libbpf_sys::bpf_xdp_query_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_xdp_query_opts>() as _,
        ..Default::default()
    };
    // SAFETY: opts is a properly sized query struct.
    match unsafe { libbpf_sys::bpf_xdp_query(LO as i32, 0, &mut opts) } {
        0 => opts.skb_prog_id,
        _ => 0,
    }
}

/// bpf_link_create(BPF_XDP) on lo, and the program seen attached.
fn xdp_link() -> Probed {
    let feature = Feature::XdpLink;
    let prog = match raw::xdp_program(libbpf_sys::XDP_PASS, 0) {
        Ok(prog) => prog,
        Err(errno) => return Probed::unknown_errno(feature, "load an XDP program", errno),
    };
    let opts = libbpf_sys::bpf_link_create_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_link_create_opts>() as _,
        // lo has no native XDP: generic mode, as every device has.
        flags: libbpf_sys::XDP_FLAGS_SKB_MODE,
        ..Default::default()
    };
    // SAFETY: valid program fd; opts properly sized.
    let ret = unsafe {
        libbpf_sys::bpf_link_create(prog.as_raw_fd(), LO as i32, libbpf_sys::BPF_XDP, &opts)
    };
    if ret < 0 {
        return Probed::no(feature, "bpf_link_create", -ret);
    }
    // SAFETY: a new link fd we own; dropping it detaches the program.
    let link = unsafe { OwnedFd::from_raw_fd(ret) };
    let seen = skb_prog_on_lo();
    drop(link);
    if Some(seen) != raw::prog_id(prog.as_fd()) {
        return Probed::unknown(
            feature,
            format!("the link was made but lo runs program id {seen}, not ours"),
        );
    }
    Probed::yes(feature, "attached a bpf_link to lo in a private netns")
}

/// Netlink attach of A, then B in its place with XDP_FLAGS_REPLACE and A
/// as the expected program; a second replace expecting A (gone by then)
/// must be refused, or the flag is not really checked.
fn xdp_replace() -> Probed {
    let feature = Feature::XdpReplace;
    let (first, second) = match (
        raw::xdp_program(libbpf_sys::XDP_PASS, 0),
        raw::xdp_program(libbpf_sys::XDP_PASS, 0),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(errno), _) | (_, Err(errno)) => {
            return Probed::unknown_errno(feature, "load an XDP program", errno)
        }
    };
    let skb = libbpf_sys::XDP_FLAGS_SKB_MODE;
    if let Err(errno) = xdp_attach(first.as_raw_fd(), skb, None) {
        return Probed::unknown_errno(feature, "attach through netlink", errno);
    }
    let flags = skb | libbpf_sys::XDP_FLAGS_REPLACE;
    let replaced = xdp_attach(second.as_raw_fd(), flags, Some(first.as_raw_fd()));
    let stale = xdp_attach(first.as_raw_fd(), flags, Some(first.as_raw_fd()));
    let seen = skb_prog_on_lo();
    // Leave lo empty (the namespace goes away anyway).
    let _ = xdp_attach(-1, skb, None);
    match (replaced, stale) {
        (Err(errno), _) => Probed::no(feature, "replace", errno),
        (Ok(()), Err(libc::EEXIST)) if Some(seen) == raw::prog_id(second.as_fd()) => Probed::yes(
            feature,
            "replaced the expected program, refused a stale expectation",
        ),
        (Ok(()), stale) => Probed::unknown(
            feature,
            format!("the replace worked, but a stale one answered {stale:?}"),
        ),
    }
}

fn xdp_attach(prog_fd: i32, flags: u32, expected: Option<i32>) -> Result<(), i32> {
    let opts = libbpf_sys::bpf_xdp_attach_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_xdp_attach_opts>() as _,
        old_prog_fd: expected.unwrap_or(0),
        ..Default::default()
    };
    // SAFETY: valid fds (or -1: detach); opts properly sized.
    let ret = unsafe { libbpf_sys::bpf_xdp_attach(LO as i32, prog_fd, flags, &opts) };
    if ret < 0 {
        return Err(-ret);
    }
    Ok(())
}

/// BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES: one frame, dropped
/// by the program, "arriving" on this namespace's lo.
fn live_frames() -> Probed {
    let feature = Feature::LiveFrames;
    let prog = match raw::xdp_program(libbpf_sys::XDP_DROP, 0) {
        Ok(prog) => prog,
        Err(errno) => return Probed::unknown_errno(feature, "load an XDP program", errno),
    };
    let frame = [0u8; 64];
    let ctx = libbpf_sys::xdp_md {
        data_end: frame.len() as u32,
        ingress_ifindex: LO,
        ..Default::default()
    };
    let mut opts = libbpf_sys::bpf_test_run_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_test_run_opts>() as _,
        data_in: frame.as_ptr().cast(),
        data_size_in: frame.len() as u32,
        ctx_in: (&ctx as *const libbpf_sys::xdp_md).cast(),
        ctx_size_in: std::mem::size_of_val(&ctx) as u32,
        repeat: 1,
        flags: libbpf_sys::BPF_F_TEST_XDP_LIVE_FRAMES,
        ..Default::default()
    };
    // SAFETY: frame and ctx outlive the call; no output buffers given.
    let ret = unsafe { libbpf_sys::bpf_prog_test_run_opts(prog.as_raw_fd(), &mut opts) };
    if ret < 0 {
        return Probed::no(feature, "BPF_PROG_TEST_RUN", -ret);
    }
    Probed::yes(feature, "ran one live frame into lo in a private netns")
}
