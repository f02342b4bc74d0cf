//! Raw packet sockets (AF_PACKET): `check` sends its frames from one and
//! watches from another what arrives.
//!
//! A packet socket on an interface sees a frame after the interface's XDP
//! program has run: a dropped frame never reaches it, a rewritten one
//! arrives rewritten. That makes it an oracle independent of the program.
//! The kernel strips a VLAN tag into metadata before the socket sees the
//! frame; PACKET_AUXDATA hands it back, and `Socket::receive` puts it back
//! in place, so frames are compared as they were on the wire.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

const ETH_P_ALL: u16 = 0x0003;
const PACKET_AUXDATA: libc::c_int = 8;
const PACKET_OUTGOING: u8 = 4;
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;

/// `struct tpacket_auxdata` of <linux/if_packet.h>.
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct AuxData {
    tp_status: u32,
    tp_len: u32,
    tp_snaplen: u32,
    tp_mac: u16,
    tp_net: u16,
    tp_vlan_tci: u16,
    tp_vlan_tpid: u16,
}

/// A packet socket bound to one interface, created in the calling
/// thread's network namespace (it stays bound to it wherever it is used).
pub struct Socket {
    fd: OwnedFd,
    ifindex: u32,
}

impl Socket {
    pub fn bind(ifindex: u32) -> io::Result<Socket> {
        // Protocol 0 at first: nothing arrives before the bind to one interface.
        // SAFETY: plain socket(2) call; the fd is owned right after.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh fd nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let one: libc::c_int = 1;
        // SAFETY: the option value is a live c_int of the size given.
        let rc = unsafe {
            libc::setsockopt(
                raw,
                libc::SOL_PACKET,
                PACKET_AUXDATA,
                &one as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as u32,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: zeroed sockaddr_ll is valid; the fields set are its own.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = ETH_P_ALL.to_be();
        addr.sll_ifindex = ifindex as i32;
        // SAFETY: addr is a sockaddr_ll of the size given.
        let rc = unsafe {
            libc::bind(
                raw,
                &addr as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Socket { fd, ifindex })
    }

    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: zeroed sockaddr_ll is valid; the fields set are its own.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_ifindex = self.ifindex as i32;
        addr.sll_halen = 6;
        addr.sll_addr[..6].copy_from_slice(&frame[..6]);
        // SAFETY: frame and addr are live for the call, with the sizes given.
        let sent = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr() as *const libc::c_void,
                frame.len(),
                0,
                &addr as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// The frames arriving (not those sent out) until `done` says enough
    /// or `patience` has passed, VLAN tags put back in place.
    pub fn receive(
        &self,
        patience: Duration,
        done: impl Fn(&[Vec<u8>]) -> bool,
    ) -> io::Result<Vec<Vec<u8>>> {
        let deadline = Instant::now() + patience;
        let mut frames = Vec::new();
        while !done(&frames) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
            // SAFETY: one live pollfd.
            if unsafe { libc::poll(&mut pfd, 1, ms) } <= 0 {
                continue;
            }
            if let Some(frame) = self.receive_one()? {
                frames.push(frame);
            }
        }
        Ok(frames)
    }

    /// One frame; None for one this host sent out.
    fn receive_one(&self) -> io::Result<Option<Vec<u8>>> {
        let mut buf = vec![0u8; 65536];
        // SAFETY: zeroed sockaddr_ll and msghdr are valid starting values.
        let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut control = [0u64; 16];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr() as *mut libc::c_void,
            iov_len: buf.len(),
        };
        // SAFETY: see above.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = &mut from as *mut _ as *mut libc::c_void;
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_ll>() as u32;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = std::mem::size_of_val(&control);
        // SAFETY: every pointer in msg is live for the call.
        let len = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
        if len < 0 {
            let err = io::Error::last_os_error();
            return match err.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(err),
            };
        }
        if from.sll_pkttype == PACKET_OUTGOING {
            return Ok(None);
        }
        buf.truncate(len as usize);
        if let Some(aux) = auxdata(&msg) {
            if aux.tp_status & TP_STATUS_VLAN_VALID != 0 && buf.len() >= 12 {
                let tpid = match aux.tp_status & TP_STATUS_VLAN_TPID_VALID {
                    0 => crate::check::frames::ETH_P_8021Q,
                    _ => aux.tp_vlan_tpid,
                };
                let mut tag = tpid.to_be_bytes().to_vec();
                tag.extend_from_slice(&aux.tp_vlan_tci.to_be_bytes());
                buf.splice(12..12, tag);
            }
        }
        Ok(Some(buf))
    }
}

/// The PACKET_AUXDATA control message of a received frame.
fn auxdata(msg: &libc::msghdr) -> Option<AuxData> {
    // SAFETY: the CMSG_* macros walk the control buffer recvmsg filled in.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_PACKET && (*cmsg).cmsg_type == PACKET_AUXDATA {
                let data = libc::CMSG_DATA(cmsg) as *const AuxData;
                return Some(std::ptr::read_unaligned(data));
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    None
}
