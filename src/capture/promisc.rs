//! `capture -P`: promiscuous mode while capturing.
//!
//! Joined as libpcap does, through an AF_PACKET socket's
//! PACKET_MR_PROMISC membership: the kernel counts such requests
//! (`promiscuity` in `ip -d link`) and drops ours when the socket closes,
//! however the process ends (even SIGKILL). An interface someone else put
//! in promiscuous mode stays so; one we put in it leaves it with us.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::error::{errno_text, Exit, Failure};
use crate::iface::Interface;

/// Holds the interface in promiscuous mode until dropped.
pub struct Promiscuous {
    _socket: OwnedFd,
}

impl Promiscuous {
    pub fn enter(iface: &Interface) -> Result<Promiscuous, Failure> {
        let failed = |what: &str| {
            let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
            Failure::new(
                Exit::Fail,
                format!(
                    "cannot put {} in promiscuous mode ({what}): {}",
                    iface.name,
                    errno_text(errno)
                ),
            )
        };
        // Protocol 0: the socket receives no packets, it only holds the mode.
        // SAFETY: plain socket(2) call.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(failed("AF_PACKET socket"));
        }
        // SAFETY: fd is a new socket we own.
        let socket = unsafe { OwnedFd::from_raw_fd(fd) };
        let request = libc::packet_mreq {
            mr_ifindex: iface.index as i32,
            mr_type: libc::PACKET_MR_PROMISC as u16,
            mr_alen: 0,
            mr_address: [0; 8],
        };
        // SAFETY: a valid socket and a packet_mreq of the size given.
        let ret = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_ADD_MEMBERSHIP,
                (&request as *const libc::packet_mreq).cast(),
                std::mem::size_of::<libc::packet_mreq>() as u32,
            )
        };
        if ret < 0 {
            return Err(failed("PACKET_ADD_MEMBERSHIP"));
        }
        Ok(Promiscuous { _socket: socket })
    }
}
