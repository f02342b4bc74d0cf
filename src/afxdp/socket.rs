//! An AF_XDP socket (XSK) bound to one receive queue of a device, with its
//! UMEM registered and its four rings mapped: what libxdp's
//! `xsk_umem__create` + `xsk_socket__create` do, step by step.
//!
//! 1. socket(AF_XDP, SOCK_RAW)
//! 2. setsockopt(XDP_UMEM_REG): the frame area
//! 3. setsockopt(XDP_{UMEM_FILL,UMEM_COMPLETION,RX,TX}_RING): ring sizes
//! 4. getsockopt(XDP_MMAP_OFFSETS): where the indexes and slots are
//! 5. mmap each ring at its fixed page offset
//! 6. bind(ifindex, queue, copy/zero-copy)

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::driver;
use super::mapping::Mapping;
use super::ring::Ring;
use super::umem::Umem;
use crate::error::{errno_name, errno_text, Exit, Failure};
use crate::iface::Interface;

/// Entries per ring (libxdp's defaults).
pub const RING_SIZE: u32 = 2048;

/// How the kernel moves frames between the driver and the UMEM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// Zero-copy where the driver can, else copy (the kernel decides).
    Auto,
    /// Copy mode: works with every driver that runs XDP.
    Copy,
    /// Zero-copy: the driver DMAs into the UMEM; needs driver support.
    ZeroCopy,
}

impl Binding {
    fn flags(self) -> u16 {
        let mode = match self {
            Binding::Auto => 0,
            Binding::Copy => libc::XDP_COPY,
            Binding::ZeroCopy => libc::XDP_ZEROCOPY,
        };
        // The kernel tells us when it needs a syscall to look at a ring,
        // instead of our making one every round.
        mode | libc::XDP_USE_NEED_WAKEUP
    }
}

/// The rings are dropped (unmapped) before the socket is closed.
pub struct XskSocket {
    pub fill: Ring<u64>,
    pub completion: Ring<u64>,
    pub rx: Ring<libc::xdp_desc>,
    pub tx: Ring<libc::xdp_desc>,
    /// Did the kernel give us zero-copy?
    pub zero_copy: bool,
    fd: OwnedFd,
}

impl AsFd for XskSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// What the socket was being set up for, for the messages.
pub struct Target<'a> {
    pub iface: &'a Interface,
    pub queue: u32,
    pub binding: Binding,
}

pub fn open(umem: &Umem, target: &Target) -> Result<XskSocket, Failure> {
    // SAFETY: plain socket(2); the fd is owned below.
    let raw = unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        let errno = last_errno();
        let failure = Failure::new(
            Exit::Fail,
            format!("cannot create an AF_XDP socket: {}", errno_text(errno)),
        );
        return Err(match errno {
            libc::EAFNOSUPPORT => failure.hint(
                "this kernel has no AF_XDP sockets: it needs CONFIG_XDP_SOCKETS (Linux 4.18+)",
            ),
            libc::EPERM | libc::EACCES => failure.hint(crate::error::ROOT_HINT),
            _ => failure,
        });
    }
    // SAFETY: a new fd we own.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let setup = |what: &str, errno: i32| {
        Failure::new(
            Exit::Fail,
            format!(
                "AF_XDP socket for {} queue {}: {what} failed: {} ({})",
                target.iface.name,
                target.queue,
                errno_text(errno),
                errno_name(errno)
            ),
        )
    };

    set(&fd, libc::XDP_UMEM_REG, &umem.registration()).map_err(|e| setup("XDP_UMEM_REG", e))?;
    for option in [
        libc::XDP_UMEM_FILL_RING,
        libc::XDP_UMEM_COMPLETION_RING,
        libc::XDP_RX_RING,
        libc::XDP_TX_RING,
    ] {
        set(&fd, option, &RING_SIZE).map_err(|e| setup("setting a ring size", e))?;
    }
    let offsets = mmap_offsets(&fd).map_err(|e| setup("XDP_MMAP_OFFSETS", e))?;
    let map = |offset: u64, ring: &libc::xdp_ring_offset, entry: usize| {
        let len = ring.desc as usize + RING_SIZE as usize * entry;
        Mapping::ring(fd.as_fd(), offset, len)
            .map_err(|e| setup("mmap of a ring", e.raw_os_error().unwrap_or(0)))
    };
    let desc = std::mem::size_of::<libc::xdp_desc>();
    let fill = Ring::new(
        map(libc::XDP_UMEM_PGOFF_FILL_RING, &offsets.fr, 8)?,
        &offsets.fr,
        RING_SIZE,
    );
    let completion = Ring::new(
        map(libc::XDP_UMEM_PGOFF_COMPLETION_RING, &offsets.cr, 8)?,
        &offsets.cr,
        RING_SIZE,
    );
    let rx = Ring::new(
        map(libc::XDP_PGOFF_RX_RING as u64, &offsets.rx, desc)?,
        &offsets.rx,
        RING_SIZE,
    );
    let tx = Ring::new(
        map(libc::XDP_PGOFF_TX_RING as u64, &offsets.tx, desc)?,
        &offsets.tx,
        RING_SIZE,
    );

    bind(&fd, target).map_err(|errno| bind_failure(target, errno))?;
    let zero_copy = options(&fd).is_ok_and(|o| o & libc::XDP_OPTIONS_ZEROCOPY != 0);
    Ok(XskSocket {
        fill,
        completion,
        rx,
        tx,
        zero_copy,
        fd,
    })
}

impl XskSocket {
    /// Asks the kernel to look at the fill ring (needed when it set the
    /// ring's need-wakeup flag and nothing else calls into it).
    pub fn wake_rx(&self) {
        // SAFETY: a zero-length non-blocking recvfrom only kicks the driver.
        unsafe {
            libc::recvfrom(
                self.fd.as_raw_fd(),
                std::ptr::null_mut(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
    }

    /// Asks the kernel to send what is in the TX ring. In copy mode nothing
    /// is sent without this call. EAGAIN/EBUSY/ENOBUFS only mean "later".
    pub fn kick_tx(&self) {
        // SAFETY: a zero-length non-blocking sendto only kicks the driver.
        unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                std::ptr::null(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null(),
                0,
            )
        };
    }

    /// Frames the kernel dropped: (RX ring full, fill ring empty, invalid
    /// descriptors), from getsockopt(XDP_STATISTICS).
    pub fn drops(&self) -> Option<libc::xdp_statistics> {
        // SAFETY: all-zero is valid for this plain struct.
        let mut stats: libc::xdp_statistics = unsafe { std::mem::zeroed() };
        get(&self.fd, libc::XDP_STATISTICS, &mut stats).ok()?;
        Some(stats)
    }
}

fn bind(fd: &OwnedFd, target: &Target) -> Result<(), i32> {
    let address = libc::sockaddr_xdp {
        sxdp_family: libc::AF_XDP as u16,
        sxdp_flags: target.binding.flags(),
        sxdp_ifindex: target.iface.index,
        sxdp_queue_id: target.queue,
        sxdp_shared_umem_fd: 0,
    };
    // SAFETY: a valid sockaddr_xdp and its size.
    let ret = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&address as *const libc::sockaddr_xdp).cast(),
            std::mem::size_of::<libc::sockaddr_xdp>() as u32,
        )
    };
    if ret != 0 {
        return Err(last_errno());
    }
    Ok(())
}

/// Why bind refused, in the words of what the user can change.
fn bind_failure(target: &Target, errno: i32) -> Failure {
    let ifname = &target.iface.name;
    let queues = receive_queues(ifname);
    let driver = driver::name(ifname).unwrap_or_else(|| "unknown".into());
    let base = |message: String| Failure::new(Exit::Fail, message);
    match errno {
        libc::EOPNOTSUPP | libc::EINVAL if target.binding == Binding::ZeroCopy => base(format!(
            "{ifname} (driver {driver}) cannot do zero-copy AF_XDP: the kernel refused \
             XDP_ZEROCOPY ({})",
            errno_name(errno)
        ))
        .hint(format!(
            "use --copy (copy mode works on every device that runs XDP, {driver} included); \
             zero-copy needs a driver with AF_XDP buffer-pool support (ice, i40e, ixgbe, mlx5, ...) \
             and native XDP"
        )),
        libc::EINVAL if queues.is_some_and(|n| target.queue >= n) => base(format!(
            "{ifname} has no receive queue {}: it has {} (0..{})",
            target.queue,
            queues.unwrap_or(0),
            queues.unwrap_or(1) - 1
        ))
        .hint("pick one with --queue N"),
        libc::EBUSY => base(format!(
            "queue {} of {ifname} already has an AF_XDP socket bound to it",
            target.queue
        ))
        .hint("another AF_XDP program uses it: stop it, or use another --queue"),
        _ => base(format!(
            "cannot bind an AF_XDP socket to {ifname} queue {}: {} ({})",
            target.queue,
            errno_text(errno),
            errno_name(errno)
        )),
    }
}

/// Receive queues of `ifname`, as sysfs lists them.
fn receive_queues(ifname: &str) -> Option<u32> {
    let dir = std::fs::read_dir(format!("/sys/class/net/{ifname}/queues")).ok()?;
    let count = dir
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("rx-"))
        .count();
    Some(count as u32)
}

fn mmap_offsets(fd: &OwnedFd) -> Result<libc::xdp_mmap_offsets, i32> {
    // SAFETY: all-zero is valid for this plain struct.
    let mut offsets: libc::xdp_mmap_offsets = unsafe { std::mem::zeroed() };
    get(fd, libc::XDP_MMAP_OFFSETS, &mut offsets)?;
    Ok(offsets)
}

fn options(fd: &OwnedFd) -> Result<u32, i32> {
    let mut flags = 0u32;
    get(fd, libc::XDP_OPTIONS, &mut flags)?;
    Ok(flags)
}

fn set<T>(fd: &OwnedFd, option: i32, value: &T) -> Result<(), i32> {
    // SAFETY: `value` is a live T and its size is passed with it.
    let ret = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_XDP,
            option,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as u32,
        )
    };
    if ret != 0 {
        return Err(last_errno());
    }
    Ok(())
}

fn get<T>(fd: &OwnedFd, option: i32, value: &mut T) -> Result<(), i32> {
    let mut len = std::mem::size_of::<T>() as u32;
    // SAFETY: the kernel writes at most `len` bytes into `value`.
    let ret = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_XDP,
            option,
            (value as *mut T).cast(),
            &mut len,
        )
    };
    if ret != 0 {
        return Err(last_errno());
    }
    Ok(())
}

fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}
