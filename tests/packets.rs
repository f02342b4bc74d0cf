//! The packet lessons (packet01-03) on real traffic: the built-in programs
//! attached to veth pairs in private namespaces, packets sent by sockets
//! that live in those namespaces, and the effect checked from the other
//! side.
//!
//! The oracles are independent of the code under test: which echo replies
//! a raw ICMP socket receives, what a UDP socket receives (and with which
//! hop limit), what an AF_PACKET socket captures on the receiving end
//! (checksums recomputed here), `ping`'s own summary, `ip -j link`, and
//! per-action counts read by `bpftool` (`common::bpftool_counts`).
//!
//! Every test owns its `TestNet`s (unique names and subnets, removed in
//! `Drop` even when the test panics), so the tests run in parallel.
//! Sockets for the inside of a namespace are made by
//! `TestNet::in_namespace` and stay there when handed back.

mod common;

use std::ffi::CString;
use std::io::{self, Read, Write};
use std::mem::{size_of, size_of_val, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use common::checksum::{checksum, verifies};
use common::{bpftool_counts, json, loader, sh, Ipv4Pair, TestNet};

const XDP_DROP: usize = 1;
const XDP_PASS: usize = 2;
const XDP_TX: usize = 3;
const XDP_REDIRECT: usize = 4;

const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const ETH_P_8021Q: u16 = 0x8100;
const ETH_P_8021AD: u16 = 0x88a8;
/// "Local experimental" ethertype (IEEE 802): frames no protocol handler
/// takes, so nothing answers or forwards them.
const ETH_P_EXPERIMENTAL: u16 = 0x88b5;
const IPPROTO_ICMP: u8 = 1;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_ICMPV6: u8 = 58;

// ---------------------------------------------------------------------------
// Frames, built here independently of the C code (checksums: common::checksum).

/// Source and destination of a test packet.
#[derive(Clone, Copy, Debug)]
enum Ip {
    V4(Ipv4Addr, Ipv4Addr),
    V6(Ipv6Addr, Ipv6Addr),
}

impl Ip {
    fn between(src: &str, dst: &str) -> Ip {
        match (src.parse().unwrap(), dst.parse().unwrap()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => Ip::V4(s, d),
            (IpAddr::V6(s), IpAddr::V6(d)) => Ip::V6(s, d),
            _ => panic!("{src} and {dst} are of different families"),
        }
    }

    fn ethertype(&self) -> u16 {
        match self {
            Ip::V4(..) => ETH_P_IP,
            Ip::V6(..) => ETH_P_IPV6,
        }
    }

    fn icmp_proto(&self) -> u8 {
        match self {
            Ip::V4(..) => IPPROTO_ICMP,
            Ip::V6(..) => IPPROTO_ICMPV6,
        }
    }

    fn header_len(&self) -> usize {
        match self {
            Ip::V4(..) => 20,
            Ip::V6(..) => 40,
        }
    }

    /// The network header for `payload_len` bytes of `proto`.
    fn header(&self, proto: u8, payload_len: usize) -> Vec<u8> {
        match self {
            Ip::V4(src, dst) => {
                let total = (20 + payload_len) as u16;
                let mut h = vec![0x45, 0];
                h.extend_from_slice(&total.to_be_bytes());
                // id, DF, TTL 64, protocol, checksum 0 for now.
                h.extend_from_slice(&[0x12, 0x34, 0x40, 0x00, 64, proto, 0, 0]);
                h.extend_from_slice(&src.octets());
                h.extend_from_slice(&dst.octets());
                let check = checksum(&h);
                h[10..12].copy_from_slice(&check.to_be_bytes());
                h
            }
            Ip::V6(src, dst) => {
                let mut h = vec![0x60, 0, 0, 0];
                h.extend_from_slice(&(payload_len as u16).to_be_bytes());
                h.extend_from_slice(&[proto, 64]);
                h.extend_from_slice(&src.octets());
                h.extend_from_slice(&dst.octets());
                h
            }
        }
    }

    /// The pseudo-header the UDP and ICMPv6 checksums cover.
    fn pseudo_header(&self, proto: u8, len: usize) -> Vec<u8> {
        let mut p = Vec::new();
        match self {
            Ip::V4(src, dst) => {
                p.extend_from_slice(&src.octets());
                p.extend_from_slice(&dst.octets());
                p.extend_from_slice(&[0, proto]);
                p.extend_from_slice(&(len as u16).to_be_bytes());
            }
            Ip::V6(src, dst) => {
                p.extend_from_slice(&src.octets());
                p.extend_from_slice(&dst.octets());
                p.extend_from_slice(&(len as u32).to_be_bytes());
                p.extend_from_slice(&[0, 0, 0, proto]);
            }
        }
        p
    }

    /// Checksum of a UDP or ICMP(v6) segment (checksum field zero).
    /// ICMPv4 has no pseudo-header.
    fn l4_checksum(&self, proto: u8, segment: &[u8]) -> u16 {
        if proto == IPPROTO_ICMP {
            return checksum(segment);
        }
        let mut all = self.pseudo_header(proto, segment.len());
        all.extend_from_slice(segment);
        checksum(&all)
    }

    /// Does the segment's checksum field verify (sum to all ones)?
    fn l4_verifies(&self, proto: u8, segment: &[u8]) -> bool {
        let mut all = self.pseudo_header(proto, segment.len());
        all.extend_from_slice(segment);
        verifies(&all)
    }

    /// Network header + `l4`.
    fn packet(&self, proto: u8, l4: &[u8]) -> Vec<u8> {
        let mut p = self.header(proto, l4.len());
        p.extend_from_slice(l4);
        p
    }
}

/// An ICMP or ICMPv6 echo request with a correct checksum.
fn echo_request(ip: &Ip, id: u16, seq: u16) -> Vec<u8> {
    let typ = match ip {
        Ip::V4(..) => 8,
        Ip::V6(..) => 128,
    };
    let mut m = vec![typ, 0, 0, 0];
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(b"xdp-tutorial packet test");
    let check = ip.l4_checksum(ip.icmp_proto(), &m);
    m[2..4].copy_from_slice(&check.to_be_bytes());
    m
}

/// A UDP segment; `good` gives it a correct checksum, else a wrong one.
fn udp_segment(ip: &Ip, sport: u16, dport: u16, data: &[u8], good: bool) -> Vec<u8> {
    let mut s = Vec::new();
    s.extend_from_slice(&sport.to_be_bytes());
    s.extend_from_slice(&dport.to_be_bytes());
    s.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    s.extend_from_slice(&[0, 0]);
    s.extend_from_slice(data);
    let mut check = ip.l4_checksum(IPPROTO_UDP, &s);
    if check == 0 {
        check = 0xffff; // RFC 768: a computed 0 is sent as all ones
    }
    if !good {
        check ^= 0x5a5a;
    }
    s[6..8].copy_from_slice(&check.to_be_bytes());
    s
}

/// A VLAN tag: (TPID, VLAN ID).
type Tag = (u16, u16);

fn mac_bytes(mac: &str) -> [u8; 6] {
    let bytes: Vec<u8> = mac
        .split(':')
        .map(|g| u8::from_str_radix(g, 16).unwrap())
        .collect();
    bytes.try_into().unwrap()
}

/// An Ethernet frame, with `tags` between the MACs and the ethertype.
fn ethernet(dst: [u8; 6], src: [u8; 6], tags: &[Tag], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    for (tpid, vid) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&vid.to_be_bytes()); // priority 0, DEI 0
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn be16(bytes: &[u8], offset: usize) -> u16 {
    u16::from_be_bytes([bytes[offset], bytes[offset + 1]])
}

// ---------------------------------------------------------------------------
// Sockets (libc): raw ICMP, AF_PACKET, and ancillary data on UDP.

#[track_caller]
fn check(ret: libc::c_int, what: &str) -> libc::c_int {
    assert!(ret >= 0, "{what}: {}", io::Error::last_os_error());
    ret
}

/// A new socket in the calling thread's network namespace.
fn socket(domain: libc::c_int, kind: libc::c_int, protocol: libc::c_int) -> OwnedFd {
    // SAFETY: plain system call; the fd is owned from here on.
    let fd = check(
        unsafe { libc::socket(domain, kind | libc::SOCK_CLOEXEC, protocol) },
        "socket",
    );
    // SAFETY: a fresh, valid fd that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn set_int_option(fd: &impl AsRawFd, level: libc::c_int, name: libc::c_int, value: libc::c_int) {
    // SAFETY: value lives across the call and its size is passed.
    check(
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                level,
                name,
                (&value as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        },
        "setsockopt",
    );
}

/// Waits until `fd` has something to read, or `deadline` passes.
fn readable(fd: &impl AsRawFd, deadline: Instant) -> bool {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let ret = unsafe { libc::poll(&mut pfd, 1, left.as_millis() as libc::c_int) };
        if ret >= 0 {
            return ret > 0;
        }
        let err = io::Error::last_os_error();
        assert_eq!(err.kind(), io::ErrorKind::Interrupted, "poll: {err}");
    }
}

/// `addr` as a sockaddr for sendto().
fn sockaddr(addr: IpAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut storage: libc::sockaddr_storage = unsafe { zeroed() };
    let len = match addr {
        IpAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for any sockaddr.
            let sin = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_in) };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_addr.s_addr = u32::from_ne_bytes(a.octets());
            size_of::<libc::sockaddr_in>()
        }
        IpAddr::V6(a) => {
            // SAFETY: as above.
            let sin6 = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_in6) };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_addr.s6_addr = a.octets();
            size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

static NEXT_ECHO_ID: AtomicU16 = AtomicU16::new(0x5a00);

/// A raw ICMP or ICMPv6 socket: we write the echo requests ourselves, so
/// we choose the identifier and sequence numbers, and we see every reply.
/// (ping would stop at the first missing reply's timeout and summarise.)
struct Pinger {
    fd: OwnedFd,
    dst: IpAddr,
    ip: Ip,
    id: u16,
}

impl Pinger {
    /// Make it with `TestNet::in_namespace` to ping from inside.
    fn new(src: &str, dst: &str) -> Pinger {
        let ip = Ip::between(src, dst);
        let fd = match ip {
            Ip::V4(..) => socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP),
            // The kernel fills in the ICMPv6 checksum of raw ICMPv6 sockets.
            Ip::V6(..) => socket(libc::AF_INET6, libc::SOCK_RAW, libc::IPPROTO_ICMPV6),
        };
        Pinger {
            fd,
            dst: dst.parse().unwrap(),
            ip,
            id: NEXT_ECHO_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    fn send(&self, seq: u16) {
        let message = echo_request(&self.ip, self.id, seq);
        let (addr, len) = sockaddr(self.dst);
        // SAFETY: buffer and address are valid for the lengths given.
        let sent = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                message.as_ptr().cast(),
                message.len(),
                0,
                (&addr as *const libc::sockaddr_storage).cast(),
                len,
            )
        };
        assert_eq!(
            sent,
            message.len() as isize,
            "sendto: {}",
            io::Error::last_os_error()
        );
    }

    /// The sequence number of an echo reply to us, if `data` is one. Raw
    /// IPv4 sockets receive the IP header too; raw IPv6 sockets do not.
    fn reply_seq(&self, data: &[u8]) -> Option<u16> {
        let (icmp, reply_type) = match self.ip {
            Ip::V4(..) => (data.get(usize::from(data.first()? & 0x0f) * 4..)?, 0),
            Ip::V6(..) => (data, 129),
        };
        (icmp.len() >= 8 && icmp[0] == reply_type && be16(icmp, 4) == self.id)
            .then(|| be16(icmp, 6))
    }

    /// Sends echo requests with sequence numbers `seqs`, then collects the
    /// replies: until every sequence number in `expected` has come back
    /// and 300 ms more have passed (a reply that should not come would
    /// have come by then), or at most 3 s. Returns the replies' sequence
    /// numbers in the order they came.
    fn exchange(&self, seqs: impl IntoIterator<Item = u16>, expected: &[u16]) -> Vec<u16> {
        for seq in seqs {
            self.send(seq);
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut replies = Vec::new();
        let mut deadline = Instant::now() + Duration::from_secs(3);
        let mut buf = [0u8; 2048];
        while readable(&self.fd, deadline) {
            // SAFETY: buf is valid for its length.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            let n = check(n as libc::c_int, "recv") as usize;
            if let Some(seq) = self.reply_seq(&buf[..n]) {
                replies.push(seq);
                if expected.iter().all(|s| replies.contains(s)) {
                    deadline = deadline.min(Instant::now() + Duration::from_millis(300));
                }
            }
        }
        replies
    }
}

/// `struct tpacket_auxdata` (linux/if_packet.h).
#[repr(C)]
#[derive(Clone, Copy)]
struct TpacketAuxdata {
    tp_status: u32,
    tp_len: u32,
    tp_snaplen: u32,
    tp_mac: u16,
    tp_net: u16,
    tp_vlan_tci: u16,
    tp_vlan_tpid: u16,
}

const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;
const PACKET_OUTGOING: u8 = 4;

/// A frame an AF_PACKET socket received.
#[derive(Debug)]
struct Captured {
    /// The bytes from the Ethernet header on.
    frame: Vec<u8>,
    /// The VLAN tag the kernel took out of the frame into the packet's
    /// metadata, as (TPID, TCI), from PACKET_AUXDATA.
    vlan: Option<(u16, u16)>,
}

/// An AF_PACKET socket on one interface: sends whole Ethernet frames, and
/// (made with `capture`) receives every frame that interface receives.
struct PacketSocket {
    fd: OwnedFd,
    ifindex: i32,
}

impl PacketSocket {
    fn ifindex(ifname: &str) -> i32 {
        let name = CString::new(ifname).unwrap();
        // SAFETY: a valid C string.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        assert!(index > 0, "no interface {ifname} in this namespace");
        index as i32
    }

    fn bind(fd: OwnedFd, ifindex: i32, protocol: u16) -> PacketSocket {
        // SAFETY: all-zero is a valid sockaddr_ll.
        let mut addr: libc::sockaddr_ll = unsafe { zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = protocol.to_be();
        addr.sll_ifindex = ifindex;
        // SAFETY: addr is a sockaddr_ll of the size given.
        check(
            unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    (&addr as *const libc::sockaddr_ll).cast(),
                    size_of::<libc::sockaddr_ll>() as libc::socklen_t,
                )
            },
            "bind AF_PACKET",
        );
        PacketSocket { fd, ifindex }
    }

    /// For sending only: protocol 0 receives nothing.
    fn sender(ifname: &str) -> PacketSocket {
        let fd = socket(libc::AF_PACKET, libc::SOCK_RAW, 0);
        PacketSocket::bind(fd, PacketSocket::ifindex(ifname), 0)
    }

    /// Receives every frame on `ifname` from now on (made with protocol 0
    /// and bound to ETH_P_ALL, so nothing from other interfaces slips in
    /// before the bind), with PACKET_AUXDATA for the VLAN metadata.
    fn capture(ifname: &str) -> PacketSocket {
        let fd = socket(libc::AF_PACKET, libc::SOCK_RAW, 0);
        let sock = PacketSocket::bind(fd, PacketSocket::ifindex(ifname), libc::ETH_P_ALL as u16);
        set_int_option(&sock.fd, libc::SOL_PACKET, libc::PACKET_AUXDATA, 1);
        sock
    }

    fn send(&self, frame: &[u8]) {
        // SAFETY: all-zero is a valid sockaddr_ll.
        let mut addr: libc::sockaddr_ll = unsafe { zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_ifindex = self.ifindex;
        addr.sll_halen = 6;
        addr.sll_addr[..6].copy_from_slice(&frame[..6]);
        // SAFETY: buffer and address are valid for the lengths given.
        let sent = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&addr as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        assert_eq!(
            sent,
            frame.len() as isize,
            "send on AF_PACKET: {}",
            io::Error::last_os_error()
        );
    }

    /// The next frame the interface received (frames it sent are
    /// skipped), or None at `deadline`.
    fn recv(&self, deadline: Instant) -> Option<Captured> {
        let mut buf = vec![0u8; 65536];
        // u64 elements: cmsg buffers must be aligned for cmsghdr.
        let mut control = [0u64; 64];
        while readable(&self.fd, deadline) {
            // SAFETY: all-zero is a valid sockaddr_ll and msghdr.
            let mut from: libc::sockaddr_ll = unsafe { zeroed() };
            let mut iov = libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: buf.len(),
            };
            let mut msg: libc::msghdr = unsafe { zeroed() };
            msg.msg_name = (&mut from as *mut libc::sockaddr_ll).cast();
            msg.msg_namelen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = size_of_val(&control);
            // SAFETY: msg points at buffers that outlive the call.
            let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut msg, 0) };
            let n = check(n as libc::c_int, "recvmsg AF_PACKET") as usize;
            if from.sll_pkttype == PACKET_OUTGOING {
                continue;
            }
            let mut vlan = None;
            // SAFETY: the CMSG_* macros walk the control buffer recvmsg filled.
            unsafe {
                let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
                while !cmsg.is_null() {
                    if (*cmsg).cmsg_level == libc::SOL_PACKET
                        && (*cmsg).cmsg_type == libc::PACKET_AUXDATA
                    {
                        let aux: TpacketAuxdata =
                            std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                        if aux.tp_status & TP_STATUS_VLAN_VALID != 0 {
                            let tpid = if aux.tp_status & TP_STATUS_VLAN_TPID_VALID != 0 {
                                aux.tp_vlan_tpid
                            } else {
                                ETH_P_8021Q
                            };
                            vlan = Some((tpid, aux.tp_vlan_tci));
                        }
                    }
                    cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
                }
            }
            return Some(Captured {
                frame: buf[..n].to_vec(),
                vlan,
            });
        }
        None
    }

    /// The first received frame `wanted` picks, or None by `deadline`.
    fn recv_matching(
        &self,
        deadline: Instant,
        wanted: impl Fn(&Captured) -> bool,
    ) -> Option<Captured> {
        while let Some(captured) = self.recv(deadline) {
            if wanted(&captured) {
                return Some(captured);
            }
        }
        None
    }
}

/// Asks for the hop limit (IPv6) or TTL (IPv4) of each datagram `sock` receives.
fn want_hop_limits(sock: &UdpSocket) {
    match sock.local_addr().unwrap() {
        SocketAddr::V4(_) => set_int_option(sock, libc::IPPROTO_IP, libc::IP_RECVTTL, 1),
        SocketAddr::V6(_) => set_int_option(sock, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, 1),
    }
}

/// Sets the hop limit (TTL) of the unicast datagrams `sock` sends.
fn set_hop_limit(sock: &UdpSocket, hops: u8) {
    match sock.local_addr().unwrap() {
        SocketAddr::V4(_) => sock.set_ttl(u32::from(hops)).unwrap(),
        SocketAddr::V6(_) => set_int_option(
            sock,
            libc::IPPROTO_IPV6,
            libc::IPV6_UNICAST_HOPS,
            libc::c_int::from(hops),
        ),
    }
}

/// One datagram and the hop limit (TTL) it arrived with (see
/// `want_hop_limits`), or None at `deadline`.
fn recv_with_hop_limit(sock: &UdpSocket, deadline: Instant) -> Option<(Vec<u8>, i32)> {
    if !readable(sock, deadline) {
        return None;
    }
    let mut buf = vec![0u8; 2048];
    let mut control = [0u64; 16];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: all-zero is a valid msghdr.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = size_of_val(&control);
    // SAFETY: msg points at buffers that outlive the call.
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, 0) };
    let n = check(n as libc::c_int, "recvmsg UDP") as usize;
    let mut hops = None;
    // SAFETY: the CMSG_* macros walk the control buffer recvmsg filled.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            let (level, kind) = ((*cmsg).cmsg_level, (*cmsg).cmsg_type);
            if (level, kind) == (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT)
                || (level, kind) == (libc::IPPROTO_IP, libc::IP_TTL)
            {
                hops = Some(std::ptr::read_unaligned(
                    libc::CMSG_DATA(cmsg).cast::<libc::c_int>(),
                ));
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    buf.truncate(n);
    Some((buf, hops.expect("no hop limit / TTL control message")))
}

/// Every datagram `sock` receives until nothing more comes for 300 ms
/// after `count` have arrived (or at most 3 s): payload and sender.
fn recv_datagrams(sock: &UdpSocket, count: usize) -> Vec<(Vec<u8>, SocketAddr)> {
    let mut got = Vec::new();
    let mut deadline = Instant::now() + Duration::from_secs(3);
    let mut buf = [0u8; 2048];
    sock.set_nonblocking(true).unwrap();
    while readable(sock, deadline) {
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            got.push((buf[..n].to_vec(), from));
        }
        if got.len() >= count {
            deadline = deadline.min(Instant::now() + Duration::from_millis(300));
        }
    }
    sock.set_nonblocking(false).unwrap();
    got
}

/// Did anything arrive at `sock` within `wait`?
fn nothing_arrives(sock: &UdpSocket, wait: Duration) -> bool {
    !readable(sock, Instant::now() + wait)
}

// ---------------------------------------------------------------------------
// Counts, addresses and commands.

/// Per-action packet counts of the xdp_stats_map that `load` pinned for the
/// host end (bpftool's raw dump, per-CPU values summed).
fn host_counts(net: &TestNet) -> [u64; 5] {
    bpftool_counts(&format!("/sys/fs/bpf/{}/xdp_stats_map", net.host_if())).map(|(p, _)| p)
}

/// Per-action packet counts of the program on veth0 inside `net`. It was
/// loaded through `ip netns exec`, whose private bpffs (and the pins in
/// it) went with that command, so bpftool finds the map through the
/// attached program: `ip -j link` -> program id -> its map ids -> the one
/// named xdp_stats_map.
fn inside_counts(net: &TestNet) -> [u64; 5] {
    let link = json(
        "ip",
        &["-n", &net.name, "-j", "link", "show", "dev", "veth0"],
    );
    let prog_id = link[0]["xdp"]["prog"]["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("no XDP program on veth0 in {}: {link}", net.name));
    let prog = json(
        "bpftool",
        &["-j", "prog", "show", "id", &prog_id.to_string()],
    );
    let map_id = prog["map_ids"]
        .as_array()
        .expect("the program has maps")
        .iter()
        .map(|id| id.as_u64().unwrap().to_string())
        .find(|id| json("bpftool", &["-j", "map", "show", "id", id])["name"] == "xdp_stats_map")
        .unwrap_or_else(|| panic!("program {prog_id} has no xdp_stats_map: {prog}"));
    let dump = json("bpftool", &["-j", "map", "dump", "id", &map_id]);
    let mut totals = [0u64; 5];
    for entry in dump.as_array().unwrap() {
        let key = common::hex_bytes(&entry["key"]);
        let action = u32::from_le_bytes(key[..4].try_into().unwrap()) as usize;
        for cpu in entry["values"].as_array().unwrap() {
            let value = common::hex_bytes(&cpu["value"]);
            totals[action] += u64::from_le_bytes(value[..8].try_into().unwrap());
        }
    }
    totals
}

/// `after - before`, per action.
fn delta(before: [u64; 5], after: [u64; 5]) -> [u64; 5] {
    std::array::from_fn(|i| after[i] - before[i])
}

/// Reads counts until `done` holds for the change since `before` (at
/// most 3 s), then once more 200 ms later, so that a packet that should
/// not have been counted has time to show up; returns that last change.
fn settled_delta(
    read: impl Fn() -> [u64; 5],
    before: [u64; 5],
    done: impl Fn(&[u64; 5]) -> bool,
) -> [u64; 5] {
    let start = Instant::now();
    while !done(&delta(before, read())) && start.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    delta(before, read())
}

/// Turns off transmit checksum offload on veth0 inside `net`, so that
/// UDP sent from there carries a complete checksum.
///
/// With offload on (the veth default), a local UDP datagram leaves with
/// only the pseudo-header sum in its checksum field and a mark on the
/// packet (CHECKSUM_PARTIAL) saying "to be completed". A veth hands the
/// mark over to its peer, whose kernel then trusts the packet. An XDP
/// redirect does not: the frame reaches the other veth as bare bytes, its
/// kernel checks the checksum, and drops the datagram (Udp6InCsumErrors).
/// ICMP (ping) is not affected: its checksum is always complete.
/// (`ethtool -K veth0 tx off`, as an ioctl: ETHTOOL_STXCSUM.)
fn tx_checksum_offload_off(net: &TestNet) {
    #[repr(C)]
    struct EthtoolValue {
        cmd: u32,
        data: u32,
    }
    #[repr(C)]
    struct Ifreq {
        name: [u8; 16],
        data: *mut EthtoolValue,
        _rest: [u8; 16],
    }
    const SIOCETHTOOL: u64 = 0x8946;
    const ETHTOOL_STXCSUM: u32 = 0x17;
    net.in_namespace(|| {
        let fd = socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        let mut value = EthtoolValue {
            cmd: ETHTOOL_STXCSUM,
            data: 0,
        };
        let mut ifr = Ifreq {
            name: [0; 16],
            data: &mut value,
            _rest: [0; 16],
        };
        ifr.name[..5].copy_from_slice(b"veth0");
        // SAFETY: ifr and the value it points at outlive the call.
        check(
            unsafe { libc::ioctl(fd.as_raw_fd(), SIOCETHTOOL as _, &mut ifr) },
            "ioctl ETHTOOL_STXCSUM on veth0",
        );
    });
}

/// `fd00:...::/64`, the IPv6 subnet of a TestNet.
fn subnet6(net: &TestNet) -> String {
    let prefix = net
        .host_ip
        .strip_suffix("::1")
        .expect("host ip ends in ::1");
    format!("{prefix}::/64")
}

/// `ip -n NS ARGS`.
fn ip_in(net: &TestNet, args: &[&str]) {
    let mut full = vec!["-n", net.name.as_str()];
    full.extend_from_slice(args);
    sh("ip", &full);
}

/// Sets a sysctl inside the namespace (never on the host).
fn sysctl_in(net: &TestNet, setting: &str) {
    sh(
        "ip",
        &["netns", "exec", &net.name, "sysctl", "-qw", setting],
    );
}

/// Pings `addr` from this (the host's) namespace with `ping` itself;
/// returns how many replies its summary reports.
fn host_ping(addr: &str, count: u32) -> u32 {
    let family = if addr.contains(':') { "-6" } else { "-4" };
    let out = Command::new("ping")
        .args([family, "-n", "-q", "-c", &count.to_string()])
        .args(["-i", "0.2", "-W", "1", addr])
        .output()
        .expect("run ping");
    let text = String::from_utf8_lossy(&out.stdout);
    // "5 packets transmitted, 5 received, 0% packet loss, time 813ms"
    text.lines()
        .find_map(|line| {
            let (_, rest) = line.split_once("transmitted, ")?;
            rest.split_once(" received")?.0.parse().ok()
        })
        .unwrap_or_else(|| panic!("no ping summary: {text}"))
}

/// Runs xdp-loader inside `net` (through `ip netns exec`) and expects success.
#[track_caller]
fn load_inside(net: &TestNet, args: &[&str]) {
    net.loader_inside(args).ok();
}

// ---------------------------------------------------------------------------
// packet01: xdp_parser_func drops echo requests with an even sequence number.

/// 10 echo requests from inside to the host end, where xdp_parser runs:
/// exactly the 5 odd ones are answered, and bpftool counts 5 drops.
fn parser_answers_only_odd_echo_requests(v4: bool) {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let (src, dst) = if v4 {
        let Ipv4Pair {
            host_ip, peer_ip, ..
        } = net.add_ipv4();
        (peer_ip, host_ip)
    } else {
        (net.peer_ip.clone(), net.host_ip.clone())
    };
    loader(&["load", net.host_if(), "xdp_parser"]).ok();
    net.settle();
    let before = host_counts(&net);

    let pinger = net.in_namespace(|| Pinger::new(&src, &dst));
    let odd = [1, 3, 5, 7, 9];
    let mut replies = pinger.exchange(1..=10, &odd);
    replies.sort_unstable();
    assert_eq!(replies, odd, "echo replies (sequence numbers) from {dst}");

    let change = settled_delta(
        || host_counts(&net),
        before,
        |d| d[XDP_DROP] >= 5 && d[XDP_PASS] >= 5,
    );
    assert_eq!(
        change[XDP_DROP], 5,
        "XDP_DROP: the even requests {change:?}"
    );
    // The odd requests, and whatever else the namespace sent meanwhile.
    assert!(change[XDP_PASS] >= 5, "XDP_PASS {change:?}");
}

#[test]
fn packet01_ipv6_only_odd_echo_requests_are_answered() {
    parser_answers_only_odd_echo_requests(false);
}

#[test]
fn packet01_ipv4_only_odd_echo_requests_are_answered() {
    parser_answers_only_odd_echo_requests(true);
}

/// Everything that is not an echo request passes: UDP and TCP over both
/// families get through, and nothing is counted as dropped.
#[test]
fn packet01_other_traffic_passes() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let v4 = net.add_ipv4();
    loader(&["load", net.host_if(), "xdp_parser"]).ok();
    let before = host_counts(&net);

    for (src, dst) in [
        (net.peer_ip.as_str(), net.host_ip.as_str()),
        (v4.peer_ip.as_str(), v4.host_ip.as_str()),
    ] {
        let receiver = UdpSocket::bind((dst, 0)).unwrap();
        let sender = net.in_namespace(|| UdpSocket::bind((src, 0)).unwrap());
        let target = receiver.local_addr().unwrap();
        for i in 0..5 {
            sender
                .send_to(format!("udp {i}").as_bytes(), target)
                .unwrap();
        }
        assert_eq!(recv_datagrams(&receiver, 5).len(), 5, "UDP to {target}");

        let listener = TcpListener::bind((dst, 0)).unwrap();
        let target = listener.local_addr().unwrap();
        let mut client = net
            .in_namespace(|| TcpStream::connect_timeout(&target, Duration::from_secs(3)).unwrap());
        let (mut server, _) = listener.accept().unwrap();
        client.write_all(b"tcp through xdp_parser").unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let mut text = String::new();
        server.read_to_string(&mut text).unwrap();
        assert_eq!(text, "tcp through xdp_parser");
    }
    let change = delta(before, host_counts(&net));
    assert_eq!(change[XDP_DROP], 0, "{change:?}");
    assert!(change[XDP_PASS] >= 2 * (5 + 3), "{change:?}");
}

/// Echo requests inside one and two VLAN tags, sent as raw frames.
///
/// Why raw frames, and why only verdicts: the test environments' `--vlan`
/// uses the kernel's 802.1Q VLAN devices, which not every kernel has (the
/// one these tests were written on has none: `ip link add ... type vlan`
/// says "Unknown device type"). Without a VLAN device for the tag, the host's kernel drops a
/// tagged frame after XDP passes it, so no reply can come back. What XDP
/// decides is counted all the same: 5 drops (even sequence numbers) and 5
/// passes (odd) per batch of 10, exactly. Frames with three tags are more
/// than the parser looks through, so they all pass.
#[test]
fn packet01_tagged_echo_requests_get_the_same_verdicts() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let v4 = net.add_ipv4();
    loader(&["load", net.host_if(), "xdp_parser"]).ok();
    let (dst_mac, src_mac) = (mac_bytes(&net.host_mac()), mac_bytes(&net.peer_mac()));
    let sender = net.in_namespace(|| PacketSocket::sender("veth0"));
    net.settle();

    let one_tag: &[Tag] = &[(ETH_P_8021Q, 1)];
    let q_in_q: &[Tag] = &[(ETH_P_8021AD, 100), (ETH_P_8021Q, 200)];
    let three: &[Tag] = &[(ETH_P_8021AD, 1), (ETH_P_8021Q, 2), (ETH_P_8021Q, 3)];
    let ips = [
        Ip::between(&net.peer_ip, &net.host_ip),
        Ip::between(&v4.peer_ip, &v4.host_ip),
    ];
    for (tags, want_drop, want_pass) in [(one_tag, 5, 5), (q_in_q, 5, 5), (three, 0, 10)] {
        for ip in &ips {
            let before = host_counts(&net);
            for seq in 1..=10 {
                let packet = ip.packet(ip.icmp_proto(), &echo_request(ip, 0x7777, seq));
                sender.send(&ethernet(dst_mac, src_mac, tags, ip.ethertype(), &packet));
            }
            let change = settled_delta(
                || host_counts(&net),
                before,
                |d| d[XDP_DROP] + d[XDP_PASS] >= 10,
            );
            assert_eq!(
                (change[XDP_DROP], change[XDP_PASS]),
                (want_drop, want_pass),
                "tags {tags:x?}, {ip:?}: (XDP_DROP, XDP_PASS), all counts {change:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// packet02: xdp_port_rewrite_func and xdp_vlan_swap_func.

/// Two UDP sockets on the host end's address, on ports P-1 and P.
fn port_pair(ip: &str) -> (UdpSocket, UdpSocket, u16) {
    for _ in 0..50 {
        let low = UdpSocket::bind((ip, 0)).unwrap();
        let p = low.local_addr().unwrap().port().wrapping_add(1);
        if p == 0 {
            continue;
        }
        if let Ok(high) = UdpSocket::bind((ip, p)) {
            return (low, high, p);
        }
    }
    panic!("no two free neighbouring UDP ports on {ip}");
}

/// A datagram sent to port P arrives on P-1, and nothing on P.
///
/// Two senders. A UDP socket inside, the ordinary way; but on a veth its
/// datagrams carry only a partial checksum (checksum offload: the kernel
/// trusts such packets and checks nothing). So also a raw frame with a
/// complete checksum, which the receiving kernel does verify: a control
/// frame with a wrong checksum is dropped, so the rewritten one arriving
/// shows that XDP left its checksum right. A capture on the host end
/// checks the rewritten frame's checksum here as well.
fn port_rewrite(v4: bool) {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let (src, dst) = if v4 {
        let pair = net.add_ipv4();
        (pair.peer_ip, pair.host_ip)
    } else {
        (net.peer_ip.clone(), net.host_ip.clone())
    };
    loader(&[
        "load",
        net.host_if(),
        "xdp_rewrite",
        "-n",
        "xdp_port_rewrite_func",
    ])
    .ok();
    let (low, high, p) = port_pair(&dst);
    let to_p = SocketAddr::new(dst.parse().unwrap(), p);

    // 1. From a UDP socket.
    let sender = net.in_namespace(|| UdpSocket::bind((src.as_str(), 0)).unwrap());
    for i in 0..3 {
        sender
            .send_to(format!("socket {i}").as_bytes(), to_p)
            .unwrap();
    }
    let got = recv_datagrams(&low, 3);
    let texts: Vec<String> = got
        .iter()
        .map(|(data, _)| String::from_utf8_lossy(data).into_owned())
        .collect();
    assert_eq!(texts, ["socket 0", "socket 1", "socket 2"], "on port P-1");
    for (_, from) in &got {
        assert_eq!(*from, sender.local_addr().unwrap());
    }

    // 2. Raw frames with complete checksums: a wrong one, then a right one.
    let ip = Ip::between(&src, &dst);
    let (dst_mac, src_mac) = (mac_bytes(&net.host_mac()), mac_bytes(&net.peer_mac()));
    let frame = |data: &[u8], good: bool| {
        let segment = udp_segment(&ip, 40000, p, data, good);
        ethernet(
            dst_mac,
            src_mac,
            &[],
            ip.ethertype(),
            &ip.packet(IPPROTO_UDP, &segment),
        )
    };
    let raw = net.in_namespace(|| PacketSocket::sender("veth0"));
    let capture = PacketSocket::capture(net.host_if());
    raw.send(&frame(b"bad checksum", false));
    raw.send(&frame(b"good checksum", true));
    let got = recv_datagrams(&low, 1);
    let texts: Vec<&[u8]> = got.iter().map(|(data, _)| data.as_slice()).collect();
    assert_eq!(
        texts,
        [b"good checksum".as_slice()],
        "only the frame with the right checksum is delivered"
    );
    assert!(
        nothing_arrives(&high, Duration::from_millis(200)),
        "a datagram arrived on port P"
    );

    // What the host end received after XDP: port P-1, checksum right (for
    // the good frame) and still wrong (for the bad one).
    let l4 = 14 + ip.header_len();
    let deadline = Instant::now() + Duration::from_secs(2);
    for (data, good) in [(&b"bad checksum"[..], false), (b"good checksum", true)] {
        let seen = capture
            .recv_matching(deadline, |c| c.frame.ends_with(data))
            .unwrap_or_else(|| panic!("the host end did not capture {data:?}"));
        let segment = &seen.frame[l4..];
        assert_eq!(be16(segment, 2), p - 1, "destination port after XDP");
        assert_eq!(
            ip.l4_verifies(IPPROTO_UDP, segment),
            good,
            "UDP checksum of {data:?} after XDP"
        );
    }
}

#[test]
fn packet02_ipv6_udp_to_port_p_arrives_on_p_minus_1() {
    port_rewrite(false);
}

#[test]
fn packet02_ipv4_udp_to_port_p_arrives_on_p_minus_1() {
    port_rewrite(true);
}

/// xdp_vlan_swap_func on the host end: an untagged frame arrives with VLAN
/// 1, a tagged one without its tag, a double-tagged one with its inner tag
/// only.
///
/// Observed with an AF_PACKET socket on the host end. The kernel moves
/// the outermost tag of a received frame out of the bytes into the
/// packet's metadata before any capture sees it (`skb_vlan_untag` comes
/// before the taps in `__netif_receive_skb_core`), so a tag shows up in
/// PACKET_AUXDATA (`tp_vlan_tci`, `tp_vlan_tpid`), not in the bytes read.
/// tcpdump does the same, and puts the tag back into what it prints.
#[test]
fn packet02_vlan_swap_pushes_and_pops_tags() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    loader(&[
        "load",
        net.host_if(),
        "xdp_rewrite",
        "-n",
        "xdp_vlan_swap_func",
    ])
    .ok();
    let (dst_mac, src_mac) = (mac_bytes(&net.host_mac()), mac_bytes(&net.peer_mac()));
    let sender = net.in_namespace(|| PacketSocket::sender("veth0"));
    let capture = PacketSocket::capture(net.host_if());

    // (tags sent, the tag expected in the metadata: (TPID, VLAN ID), what it shows)
    let untagged: &[Tag] = &[];
    let cases = [
        (untagged, Some((ETH_P_8021Q, 1)), "untagged: VLAN 1 pushed"),
        (&[(ETH_P_8021Q, 5)], None, "one tag: popped"),
        (
            &[(ETH_P_8021AD, 100), (ETH_P_8021Q, 200)],
            Some((ETH_P_8021Q, 200)),
            "two tags: the outer one popped",
        ),
    ];
    for (i, (tags, want_vlan, what)) in cases.iter().enumerate() {
        let marker = format!("vlan swap case {i}");
        let sent = ethernet(
            dst_mac,
            src_mac,
            tags,
            ETH_P_EXPERIMENTAL,
            marker.as_bytes(),
        );
        sender.send(&sent);
        let seen = capture
            .recv_matching(Instant::now() + Duration::from_secs(2), |c| {
                c.frame.ends_with(marker.as_bytes())
            })
            .unwrap_or_else(|| panic!("{what}: the frame did not arrive"));
        assert_eq!(
            seen.vlan.map(|(tpid, tci)| (tpid, tci & 0x0fff)),
            *want_vlan,
            "{what}: the VLAN tag the host end received"
        );
        // What is left in the bytes: the MACs, then straight the ethertype.
        assert_eq!(&seen.frame[..12], &sent[..12], "{what}: MACs");
        assert_eq!(be16(&seen.frame, 12), ETH_P_EXPERIMENTAL, "{what}");
        assert_eq!(seen.frame.len(), 14 + marker.len(), "{what}: {seen:x?}");
    }
    // Each frame passed once.
    let counts = host_counts(&net);
    assert!(counts[XDP_PASS] >= 3, "{counts:?}");
}

// ---------------------------------------------------------------------------
// packet03: XDP_TX, redirects, and the router.

/// xdp_icmp_echo_func on veth0 inside, with the namespace's kernel told
/// to ignore echo requests: pings from the host get replies only while
/// the program runs.
#[test]
fn packet03_xdp_answers_pings_the_kernel_ignores() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let v4 = net.add_ipv4();
    sysctl_in(&net, "net.ipv4.icmp_echo_ignore_all=1");
    sysctl_in(&net, "net.ipv6.icmp.echo_ignore_all=1");
    // A veth drops what its peer sends with XDP_TX unless it runs XDP itself.
    loader(&["load", net.host_if(), "xdp_redirect", "-n", "xdp_pass_func"]).ok();

    // Without the program: the namespace's kernel is silent.
    for addr in [&net.peer_ip, &v4.peer_ip] {
        assert_eq!(host_ping(addr, 2), 0, "{addr} answered without XDP");
    }

    load_inside(
        &net,
        &["load", "veth0", "xdp_redirect", "-n", "xdp_icmp_echo_func"],
    );
    let before = inside_counts(&net);
    for addr in [&net.peer_ip, &v4.peer_ip] {
        assert_eq!(host_ping(addr, 5), 5, "echo replies from XDP at {addr}");
    }
    let change = settled_delta(|| inside_counts(&net), before, |d| d[XDP_TX] >= 10);
    assert_eq!(
        change[XDP_TX], 10,
        "XDP_TX: one per echo request {change:?}"
    );

    // Taken off again (with ip, not the code under test): silence.
    ip_in(&net, &["link", "set", "dev", "veth0", "xdp", "off"]);
    for addr in [&net.peer_ip, &v4.peer_ip] {
        assert_eq!(
            host_ping(addr, 2),
            0,
            "{addr} answered after XDP was removed"
        );
    }
}

/// Datagrams from A's namespace, redirected by the program on A's host end
/// out of B's host end, arrive at a socket in B's namespace; every one is
/// counted as XDP_REDIRECT.
fn redirect_between_namespaces(program: &str) {
    let Some(a) = TestNet::for_privileged_test() else {
        return;
    };
    let b = TestNet::new();
    // B's veth0 needs an XDP program to receive what is redirected into its peer.
    load_inside(&b, &["load", "veth0", "xdp_pass"]);
    loader(&["load", a.host_if(), "xdp_redirect", "-n", program]).ok();
    let (a_mac, b_mac) = (a.peer_mac(), b.peer_mac());
    let mut args = vec!["redirect", a.host_if(), "--to", b.host_if()];
    if program == "xdp_redirect_map_func" {
        // Frames from A's veth0 go to B's veth0.
        args.extend(["--src-mac", &a_mac, "--dest-mac", &b_mac]);
    } else {
        args.extend(["--dest-mac", &b_mac]);
    }
    loader(&args).ok();
    // A sends B's subnet out of veth0; its frames' destination MAC does
    // not matter, XDP replaces it.
    ip_in(
        &a,
        &["-6", "route", "replace", &subnet6(&b), "dev", "veth0"],
    );
    let host_mac = a.host_mac();
    ip_in(
        &a,
        &[
            "-6",
            "neigh",
            "replace",
            &b.peer_ip,
            "lladdr",
            &host_mac,
            "nud",
            "permanent",
            "dev",
            "veth0",
        ],
    );
    tx_checksum_offload_off(&a);
    a.settle();

    let receiver = b.in_namespace(|| UdpSocket::bind((b.peer_ip.as_str(), 0)).unwrap());
    let sender = a.in_namespace(|| UdpSocket::bind((a.peer_ip.as_str(), 0)).unwrap());
    let target = receiver.local_addr().unwrap();
    let before = host_counts(&a);
    let count = 20;
    for i in 0..count {
        sender
            .send_to(format!("redirected {i}").as_bytes(), target)
            .unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    let got = recv_datagrams(&receiver, count);
    let texts: Vec<String> = got
        .iter()
        .map(|(data, _)| String::from_utf8_lossy(data).into_owned())
        .collect();
    let sent: Vec<String> = (0..count).map(|i| format!("redirected {i}")).collect();
    assert_eq!(texts, sent, "datagrams received in B's namespace");
    assert!(got
        .iter()
        .all(|(_, from)| *from == sender.local_addr().unwrap()));
    let change = settled_delta(
        || host_counts(&a),
        before,
        |d| d[XDP_REDIRECT] >= count as u64,
    );
    assert_eq!(
        change[XDP_REDIRECT], count as u64,
        "XDP_REDIRECT on A {change:?}"
    );
}

#[test]
fn packet03_redirect_map_carries_udp_to_the_other_namespace() {
    redirect_between_namespaces("xdp_redirect_map_func");
}

#[test]
fn packet03_redirect_func_carries_udp_to_the_other_namespace() {
    redirect_between_namespaces("xdp_redirect_func");
}

/// xdp_router_func on both host ends, forwarding on for those two
/// interfaces only: datagrams between the namespaces arrive, over IPv6
/// and IPv4, both ways, with the hop limit (TTL) one lower than sent, and
/// each one counted as XDP_REDIRECT where it entered.
///
/// bpf_fib_lookup() checks forwarding on the interface the packet came in
/// on, so the per-interface sysctls are enough for XDP; they go with the
/// interfaces, and the global switches stay as they are. The kernel would
/// forward IPv4 by itself with these settings (IPv6 only with
/// net.ipv6.conf.all.forwarding), also one hop lower, so the exact
/// XDP_REDIRECT counts are what show that XDP did the forwarding.
#[test]
fn packet03_router_forwards_with_the_kernel_fib() {
    let Some(a) = TestNet::for_privileged_test() else {
        return;
    };
    let b = TestNet::new();
    let (a4, b4) = (a.add_ipv4(), b.add_ipv4());
    for net in [&a, &b] {
        for family in ["ipv6", "ipv4"] {
            let path = format!("/proc/sys/net/{family}/conf/{}/forwarding", net.host_if());
            std::fs::write(&path, "1").unwrap_or_else(|e| panic!("{path}: {e}"));
        }
        // Redirected frames reach veth0 only if it runs XDP, and UDP
        // survives a redirect only with a complete checksum.
        load_inside(net, &["load", "veth0", "xdp_pass"]);
        tx_checksum_offload_off(net);
        loader(&[
            "load",
            net.host_if(),
            "xdp_redirect",
            "-n",
            "xdp_router_func",
        ])
        .ok();
    }
    for (net, own4, other, other4) in [(&a, &a4, &b, &b4), (&b, &b4, &a, &a4)] {
        ip_in(
            net,
            &["-6", "route", "add", &subnet6(other), "via", &net.host_ip],
        );
        ip_in(
            net,
            &["-4", "route", "add", &other4.subnet, "via", &own4.host_ip],
        );
    }
    a.settle();
    b.settle();

    let sent_hops = 64;
    let count = 5;
    for (from, to, src, dst) in [
        (&a, &b, &a.peer_ip, &b.peer_ip),
        (&a, &b, &a4.peer_ip, &b4.peer_ip),
        (&b, &a, &b.peer_ip, &a.peer_ip),
        (&b, &a, &b4.peer_ip, &a4.peer_ip),
    ] {
        let receiver = to.in_namespace(|| UdpSocket::bind((dst.as_str(), 0)).unwrap());
        want_hop_limits(&receiver);
        let sender = from.in_namespace(|| UdpSocket::bind((src.as_str(), 0)).unwrap());
        set_hop_limit(&sender, sent_hops);
        let target = receiver.local_addr().unwrap();
        let before = host_counts(from);
        for i in 0..count {
            sender
                .send_to(format!("routed {i}").as_bytes(), target)
                .unwrap();
        }
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(3);
        while got.len() < count {
            match recv_with_hop_limit(&receiver, deadline) {
                Some(datagram) => got.push(datagram),
                None => break,
            }
        }
        assert_eq!(got.len(), count, "{src} -> {dst}: datagrams received");
        for (data, hops) in &got {
            assert_eq!(
                *hops,
                i32::from(sent_hops) - 1,
                "{src} -> {dst}: hop limit of {:?}",
                String::from_utf8_lossy(data)
            );
        }
        let change = settled_delta(
            || host_counts(from),
            before,
            |d| d[XDP_REDIRECT] >= count as u64,
        );
        assert_eq!(
            change[XDP_REDIRECT],
            count as u64,
            "{src} -> {dst}: XDP_REDIRECT on {} {change:?}",
            from.host_if()
        );
    }
}
