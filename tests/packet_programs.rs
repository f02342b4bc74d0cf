//! The packet lessons' programs (packet01-03) run on hand-built frames with
//! BPF_PROG_TEST_RUN: the kernel runs the loaded program once on our bytes
//! and hands back the verdict and the packet as the program left it.
//!
//! The frames and every checksum are built here in Rust, independently of
//! the C helpers, so a wrong bounds check, byte order or checksum update in
//! the BPF code makes these tests fail.

mod common;

use std::mem::MaybeUninit;

use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use libbpf_rs::{MapCore, MapFlags, MapMut, ProgramInput, ProgramMut};
use xdp_tutorial::builtin::skel::{xdp_parser, xdp_redirect, xdp_rewrite};

use common::checksum::{checksum, fold, sum16, verifies};

const XDP_ABORTED: u32 = 0;
const XDP_DROP: u32 = 1;
const XDP_PASS: u32 = 2;
const XDP_TX: u32 = 3;
const XDP_REDIRECT: u32 = 4;

const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const ETH_P_ARP: u16 = 0x0806;
const ETH_P_8021Q: u16 = 0x8100;
const ETH_P_8021AD: u16 = 0x88a8;
const IPPROTO_ICMP: u8 = 1;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_ICMPV6: u8 = 58;

const MAC_DST: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0xd1];
const MAC_SRC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x51];

// ---------------------------------------------------------------------------
// Frame building.

/// The network layer of a test frame.
#[derive(Clone, Debug)]
enum L3 {
    V4 {
        src: [u8; 4],
        dst: [u8; 4],
        /// IPv4 options, a multiple of 4 bytes: each 4 adds one to IHL.
        options: Vec<u8>,
        ttl: u8,
    },
    V6 {
        src: [u8; 16],
        dst: [u8; 16],
        hop_limit: u8,
    },
}

fn v6_addr(text: &str) -> [u8; 16] {
    text.parse::<std::net::Ipv6Addr>().unwrap().octets()
}

impl L3 {
    fn v4() -> L3 {
        L3::V4 {
            src: [192, 0, 2, 1],
            dst: [192, 0, 2, 2],
            options: Vec::new(),
            ttl: 64,
        }
    }

    /// IPv4 with IHL 6: four bytes of options (NOP, NOP, NOP, end of list).
    fn v4_with_options() -> L3 {
        L3::V4 {
            src: [192, 0, 2, 1],
            dst: [192, 0, 2, 2],
            options: vec![1, 1, 1, 0],
            ttl: 64,
        }
    }

    fn v6() -> L3 {
        L3::V6 {
            src: v6_addr("2001:db8::1"),
            dst: v6_addr("2001:db8::2"),
            hop_limit: 64,
        }
    }

    /// The three network layers every test runs over.
    fn all() -> [L3; 3] {
        [L3::v4(), L3::v4_with_options(), L3::v6()]
    }

    fn ethertype(&self) -> u16 {
        match self {
            L3::V4 { .. } => ETH_P_IP,
            L3::V6 { .. } => ETH_P_IPV6,
        }
    }

    fn icmp_proto(&self) -> u8 {
        match self {
            L3::V4 { .. } => IPPROTO_ICMP,
            L3::V6 { .. } => IPPROTO_ICMPV6,
        }
    }

    fn header_len(&self) -> usize {
        match self {
            L3::V4 { options, .. } => 20 + options.len(),
            L3::V6 { .. } => 40,
        }
    }

    /// Byte range of the source address in the header (dst follows it).
    fn addr_len(&self) -> usize {
        match self {
            L3::V4 { .. } => 4,
            L3::V6 { .. } => 16,
        }
    }

    fn src_offset(&self) -> usize {
        match self {
            L3::V4 { .. } => 12,
            L3::V6 { .. } => 8,
        }
    }

    fn header(&self, proto: u8, payload_len: usize) -> Vec<u8> {
        match self {
            L3::V4 {
                src,
                dst,
                options,
                ttl,
            } => {
                assert_eq!(options.len() % 4, 0, "IPv4 options come in 32-bit words");
                let ihl = (20 + options.len()) / 4;
                let total = (ihl * 4 + payload_len) as u16;
                let mut h = vec![0x40 | ihl as u8, 0];
                h.extend_from_slice(&total.to_be_bytes());
                h.extend_from_slice(&[0x12, 0x34, 0x40, 0x00, *ttl, proto, 0, 0]);
                h.extend_from_slice(src);
                h.extend_from_slice(dst);
                h.extend_from_slice(options);
                let check = checksum(&h);
                h[10..12].copy_from_slice(&check.to_be_bytes());
                h
            }
            L3::V6 {
                src,
                dst,
                hop_limit,
            } => {
                let mut h = vec![0x60, 0x01, 0x23, 0x45];
                h.extend_from_slice(&(payload_len as u16).to_be_bytes());
                h.extend_from_slice(&[proto, *hop_limit]);
                h.extend_from_slice(src);
                h.extend_from_slice(dst);
                h
            }
        }
    }

    /// The pseudo-header that the TCP, UDP and ICMPv6 checksums cover.
    fn pseudo_header(&self, proto: u8, len: usize) -> Vec<u8> {
        let mut p = Vec::new();
        match self {
            L3::V4 { src, dst, .. } => {
                p.extend_from_slice(src);
                p.extend_from_slice(dst);
                p.extend_from_slice(&[0, proto]);
                p.extend_from_slice(&(len as u16).to_be_bytes());
            }
            L3::V6 { src, dst, .. } => {
                p.extend_from_slice(src);
                p.extend_from_slice(dst);
                p.extend_from_slice(&(len as u32).to_be_bytes());
                p.extend_from_slice(&[0, 0, 0, proto]);
            }
        }
        p
    }

    /// The checksum of an L4 segment (checksum field zero). ICMPv4 has no
    /// pseudo-header; TCP, UDP and ICMPv6 do.
    fn l4_checksum(&self, proto: u8, segment: &[u8]) -> u16 {
        if proto == IPPROTO_ICMP {
            return checksum(segment);
        }
        let mut all = self.pseudo_header(proto, segment.len());
        all.extend_from_slice(segment);
        checksum(&all)
    }

    /// Does the segment's checksum field verify?
    fn l4_verifies(&self, proto: u8, segment: &[u8]) -> bool {
        if proto == IPPROTO_ICMP {
            return verifies(segment);
        }
        let mut all = self.pseudo_header(proto, segment.len());
        all.extend_from_slice(segment);
        verifies(&all)
    }
}

/// A VLAN tag: (TPID, VLAN ID).
type Tag = (u16, u16);
const NO_TAGS: &[Tag] = &[];
const ONE_TAG: &[Tag] = &[(ETH_P_8021Q, 100)];
const QINQ_TAGS: &[Tag] = &[(ETH_P_8021AD, 100), (ETH_P_8021Q, 200)];
const DOUBLE_Q_TAGS: &[Tag] = &[(ETH_P_8021Q, 100), (ETH_P_8021Q, 4095)];
const TRIPLE_TAGS: &[Tag] = &[(ETH_P_8021AD, 1), (ETH_P_8021Q, 2), (ETH_P_8021Q, 3)];

/// Tag stacks the parser must see through (up to two).
const TAG_STACKS: [&[Tag]; 4] = [NO_TAGS, ONE_TAG, QINQ_TAGS, DOUBLE_Q_TAGS];

fn ethernet(tags: &[Tag], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&MAC_DST);
    f.extend_from_slice(&MAC_SRC);
    for (tpid, vid) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        // TCI: priority 3 and DEI 0 above the VLAN ID, so a parser that
        // forgets VLAN_VID_MASK would see a different ID.
        f.extend_from_slice(&((3 << 13) | vid).to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// Ethernet (+ tags) + network header + `l4`.
fn packet(tags: &[Tag], l3: &L3, proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut payload = l3.header(proto, l4.len());
    payload.extend_from_slice(l4);
    ethernet(tags, l3.ethertype(), &payload)
}

fn l3_offset(tags: &[Tag]) -> usize {
    14 + 4 * tags.len()
}

fn l4_offset(tags: &[Tag], l3: &L3) -> usize {
    l3_offset(tags) + l3.header_len()
}

/// ICMP or ICMPv6 echo (request or reply) with a checksum.
fn echo(l3: &L3, request: bool, id: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let typ = match (l3, request) {
        (L3::V4 { .. }, true) => 8,
        (L3::V4 { .. }, false) => 0,
        (L3::V6 { .. }, true) => 128,
        (L3::V6 { .. }, false) => 129,
    };
    let mut m = vec![typ, 0, 0, 0];
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(data);
    let check = l3.l4_checksum(l3.icmp_proto(), &m);
    m[2..4].copy_from_slice(&check.to_be_bytes());
    m
}

fn echo_request(tags: &[Tag], l3: &L3, seq: u16) -> Vec<u8> {
    let msg = echo(l3, true, 0x4242, seq, b"ping payload");
    packet(tags, l3, l3.icmp_proto(), &msg)
}

/// UDP with a correct checksum (over IPv6 a checksum is mandatory).
fn udp(l3: &L3, sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let mut s = Vec::new();
    s.extend_from_slice(&sport.to_be_bytes());
    s.extend_from_slice(&dport.to_be_bytes());
    s.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    s.extend_from_slice(&[0, 0]);
    s.extend_from_slice(data);
    let mut check = l3.l4_checksum(IPPROTO_UDP, &s);
    if check == 0 {
        check = 0xffff; // RFC 768: a computed 0 is sent as all ones
    }
    s[6..8].copy_from_slice(&check.to_be_bytes());
    s
}

/// TCP (a PSH|ACK segment) with `options` (a multiple of 4 bytes).
fn tcp(l3: &L3, sport: u16, dport: u16, options: &[u8], data: &[u8]) -> Vec<u8> {
    assert_eq!(options.len() % 4, 0);
    let doff = (20 + options.len()) / 4;
    let mut s = Vec::new();
    s.extend_from_slice(&sport.to_be_bytes());
    s.extend_from_slice(&dport.to_be_bytes());
    s.extend_from_slice(&0x0102_0304u32.to_be_bytes()); // seq
    s.extend_from_slice(&0x0a0b_0c0du32.to_be_bytes()); // ack
    s.extend_from_slice(&[(doff as u8) << 4, 0x18]); // doff, PSH|ACK
    s.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]); // window, check, urg
    s.extend_from_slice(options);
    s.extend_from_slice(data);
    let check = l3.l4_checksum(IPPROTO_TCP, &s);
    s[16..18].copy_from_slice(&check.to_be_bytes());
    s
}

/// TCP options: MSS 1460 (4 bytes), making doff 6.
const TCP_MSS_OPTION: [u8; 4] = [2, 4, 0x05, 0xb4];

fn be16(frame: &[u8], offset: usize) -> u16 {
    u16::from_be_bytes([frame[offset], frame[offset + 1]])
}

// ---------------------------------------------------------------------------
// Running programs.

/// Runs `prog` once on `frame`; returns the verdict and the frame as the
/// program left it (which may be longer or shorter).
fn run(prog: &ProgramMut, frame: &[u8]) -> (u32, Vec<u8>) {
    let mut out = vec![0u8; frame.len() + 256];
    let input = ProgramInput {
        data_in: Some(frame),
        data_out: Some(&mut out),
        ..Default::default()
    };
    let output = prog.test_run(input).expect("BPF_PROG_TEST_RUN");
    let data = output.data.expect("data_out").to_vec();
    (output.return_value, data)
}

/// What xdp_stats_map should hold: packets and bytes per verdict, counted
/// here for every run of a test.
#[derive(Default, Debug, PartialEq)]
struct Tally([(u64, u64); 5]);

impl Tally {
    /// Runs `prog` like `run`, and counts the verdict.
    fn run(&mut self, prog: &ProgramMut, frame: &[u8]) -> (u32, Vec<u8>) {
        let (verdict, out) = run(prog, frame);
        // The program counts the bytes between data and data_end when it
        // returns: the length of the frame it hands back.
        let slot = &mut self.0[verdict as usize];
        slot.0 += 1;
        slot.1 += out.len() as u64;
        (verdict, out)
    }

    /// The per-CPU counters of xdp_stats_map, summed, must equal ours.
    #[track_caller]
    fn check(&self, map: &MapMut) {
        let mut seen = Tally::default();
        for (action, slot) in seen.0.iter_mut().enumerate() {
            let per_cpu = map
                .lookup_percpu(&(action as u32).to_ne_bytes(), MapFlags::ANY)
                .expect("read xdp_stats_map")
                .expect("every verdict has a slot");
            for rec in per_cpu {
                slot.0 += u64::from_ne_bytes(rec[0..8].try_into().unwrap());
                slot.1 += u64::from_ne_bytes(rec[8..16].try_into().unwrap());
            }
        }
        assert_eq!(seen, *self, "xdp_stats_map (left) vs the runs (right)");
    }
}

/// Opens and loads a skeleton into `$storage` (which must outlive it).
macro_rules! load {
    ($builder:ty, $storage:ident) => {
        <$builder>::default()
            .open(&mut $storage)
            .and_then(|open| open.load())
            .expect(concat!("load ", stringify!($builder)))
    };
}

// ---------------------------------------------------------------------------
// packet01: xdp_parser

#[test]
fn parser_drops_even_echo_requests() {
    if !common::privileged() {
        return;
    }
    let mut storage = MaybeUninit::uninit();
    let skel = load!(xdp_parser::XdpParserSkelBuilder, storage);
    let prog = &skel.progs.xdp_parser_func;
    let mut tally = Tally::default();

    for tags in TAG_STACKS {
        for l3 in L3::all() {
            for seq in 1..=10u16 {
                let frame = echo_request(tags, &l3, seq);
                let (verdict, out) = tally.run(prog, &frame);
                let want = if seq % 2 == 0 { XDP_DROP } else { XDP_PASS };
                assert_eq!(verdict, want, "seq {seq}, tags {tags:?}, {l3:?}");
                assert_eq!(out, frame, "the parser must not change packets");
            }
            // A sequence number whose low byte is even but the number odd
            // (0x0101 = 257): fails if the byte order is forgotten.
            let frame = echo_request(tags, &l3, 0x0101);
            assert_eq!(tally.run(prog, &frame).0, XDP_PASS, "seq 257 {l3:?}");
            let frame = echo_request(tags, &l3, 0x0100);
            assert_eq!(tally.run(prog, &frame).0, XDP_DROP, "seq 256 {l3:?}");
        }
    }
    tally.check(&skel.maps.xdp_stats_map);
}

#[test]
fn parser_passes_everything_else() {
    if !common::privileged() {
        return;
    }
    let mut storage = MaybeUninit::uninit();
    let skel = load!(xdp_parser::XdpParserSkelBuilder, storage);
    let prog = &skel.progs.xdp_parser_func;
    let mut tally = Tally::default();

    let mut frames = Vec::new();
    for tags in TAG_STACKS {
        for l3 in L3::all() {
            // Echo replies and other ICMP types, even sequence numbers.
            let reply = echo(&l3, false, 1, 2, b"pong");
            frames.push(packet(tags, &l3, l3.icmp_proto(), &reply));
            let unreachable = [3, 1, 0, 0, 0, 0, 0, 2];
            frames.push(packet(tags, &l3, l3.icmp_proto(), &unreachable));
            frames.push(packet(tags, &l3, IPPROTO_UDP, &udp(&l3, 53, 2, b"q")));
            frames.push(packet(
                tags,
                &l3,
                IPPROTO_TCP,
                &tcp(&l3, 80, 2, &TCP_MSS_OPTION, b"GET"),
            ));
            // An ICMP echo request (seq 2) in the wrong protocol: ICMPv6
            // over IPv4 and ICMPv4 over IPv6 are not echo requests.
            let wrong = if l3.icmp_proto() == IPPROTO_ICMP {
                IPPROTO_ICMPV6
            } else {
                IPPROTO_ICMP
            };
            frames.push(packet(tags, &l3, wrong, &echo(&l3, true, 1, 2, b"")));
        }
        // ARP request (who-has 192.0.2.2).
        let mut arp = vec![0, 1, 0x08, 0, 6, 4, 0, 1];
        arp.extend_from_slice(&MAC_SRC);
        arp.extend_from_slice(&[192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 192, 0, 2, 2]);
        frames.push(ethernet(tags, ETH_P_ARP, &arp));
    }
    // More VLAN tags than VLAN_MAX_DEPTH: not looked into.
    frames.push(echo_request(TRIPLE_TAGS, &L3::v4(), 2));
    // IHL 4 (malformed: the header would end inside itself) must not be
    // parsed. The frame is made so that a parser trusting IHL 4 finds a
    // droppable echo request 16 bytes in: daddr 8.0.x.x reads as type 8
    // (echo request), code 0, and the real ICMP checksum field, set to 2,
    // as the sequence number.
    let mut bad_ihl = echo_request(NO_TAGS, &L3::v4(), 3);
    bad_ihl[14] = 0x44;
    bad_ihl[30..32].copy_from_slice(&[8, 0]);
    bad_ihl[36..38].copy_from_slice(&2u16.to_be_bytes());
    frames.push(bad_ihl);

    for frame in &frames {
        let (verdict, out) = tally.run(prog, frame);
        assert_eq!(verdict, XDP_PASS, "{frame:02x?}");
        assert_eq!(&out, frame);
    }
    tally.check(&skel.maps.xdp_stats_map);
}

/// Every prefix of a frame that would be dropped: while the prefix ends
/// before the last byte of the ICMP header the program reads (8 bytes: the
/// sequence number is at 6..8), it must pass; from there on it drops (the
/// parser never looks at the payload or the IP length fields). A bounds
/// check that is one byte short would read past the end: the verifier
/// refuses to load such a program, and one that checks too much passes
/// frames it should drop.
#[test]
fn parser_survives_every_truncation() {
    if !common::privileged() {
        return;
    }
    let mut storage = MaybeUninit::uninit();
    let skel = load!(xdp_parser::XdpParserSkelBuilder, storage);
    let prog = &skel.progs.xdp_parser_func;
    let mut tally = Tally::default();

    for tags in TAG_STACKS {
        for l3 in L3::all() {
            let frame = echo_request(tags, &l3, 4);
            let needed = l4_offset(tags, &l3) + 8;
            // BPF_PROG_TEST_RUN refuses XDP input shorter than an Ethernet
            // header (EINVAL), so 14 bytes is the shortest frame to try.
            for len in 14..=frame.len() {
                let want = if len >= needed { XDP_DROP } else { XDP_PASS };
                let (verdict, _) = tally.run(prog, &frame[..len]);
                assert_eq!(
                    verdict,
                    want,
                    "{len} of {} bytes, {tags:?} {l3:?}",
                    frame.len()
                );
            }
        }
    }
    // A TCP header whose options are cut off is not parsed either (PASS,
    // as always for TCP): runs every prefix through parse_tcphdr's checks.
    let frame = packet(
        ONE_TAG,
        &L3::v4_with_options(),
        IPPROTO_TCP,
        &tcp(&L3::v4_with_options(), 1, 2, &TCP_MSS_OPTION, b""),
    );
    for len in 14..=frame.len() {
        assert_eq!(
            tally.run(prog, &frame[..len]).0,
            XDP_PASS,
            "TCP, {len} bytes"
        );
    }
    tally.check(&skel.maps.xdp_stats_map);
}

#[test]
fn test_run_refuses_frames_shorter_than_ethernet() {
    if !common::privileged() {
        return;
    }
    // The kernel's check, not ours: it is why the truncation test starts
    // at 14 bytes. If a kernel ever accepts shorter input, the parser must
    // still pass it.
    let mut storage = MaybeUninit::uninit();
    let skel = load!(xdp_parser::XdpParserSkelBuilder, storage);
    let frame = echo_request(NO_TAGS, &L3::v4(), 2);
    for len in 0..14 {
        let input = ProgramInput {
            data_in: Some(&frame[..len]),
            ..Default::default()
        };
        if let Ok(output) = skel.progs.xdp_parser_func.test_run(input) {
            assert_eq!(output.return_value, XDP_PASS, "{len} bytes");
        }
    }
}

// ---------------------------------------------------------------------------
// packet02: xdp_rewrite

/// Checks a frame xdp_port_rewrite_func changed: destination port one
/// lower, the checksum exactly what a full recomputation gives, every other
/// byte untouched.
#[track_caller]
fn check_port_rewrite(tags: &[Tag], l3: &L3, proto: u8, input: &[u8], output: &[u8]) {
    let l4 = l4_offset(tags, l3);
    let check_at = l4 + if proto == IPPROTO_UDP { 6 } else { 16 };
    let what = format!("proto {proto} {tags:?} {l3:?}");

    assert_eq!(output.len(), input.len(), "{what}");
    assert_eq!(
        be16(output, l4 + 2),
        be16(input, l4 + 2).wrapping_sub(1),
        "destination port, {what}"
    );
    assert!(
        l3.l4_verifies(proto, &output[l4..]),
        "checksum fails, {what}"
    );

    let mut zeroed = output[l4..].to_vec();
    zeroed[check_at - l4..check_at - l4 + 2].fill(0);
    let mut want = l3.l4_checksum(proto, &zeroed);
    if proto == IPPROTO_UDP && want == 0 {
        want = 0xffff;
    }
    assert_eq!(be16(output, check_at), want, "checksum value, {what}");

    for (i, (a, b)) in input.iter().zip(output).enumerate() {
        let rewritten = (l4 + 2..l4 + 4).contains(&i) || (check_at..check_at + 2).contains(&i);
        if !rewritten {
            assert_eq!(a, b, "byte {i} changed, {what}");
        }
    }
}

#[test]
fn port_rewrite_decrements_destination_port() {
    if !common::privileged() {
        return;
    }
    let mut storage = MaybeUninit::uninit();
    let skel = load!(xdp_rewrite::XdpRewriteSkelBuilder, storage);
    let prog = &skel.progs.xdp_port_rewrite_func;
    let mut tally = Tally::default();

    // 0x0100 - 1 borrows across the bytes; 0 wraps to 65535.
    for dport in [2001u16, 1, 0x0100, 0] {
        for tags in [NO_TAGS, ONE_TAG, QINQ_TAGS] {
            for l3 in L3::all() {
                let segments = [
                    (IPPROTO_UDP, udp(&l3, 40000, dport, b"hello, world")),
                    (IPPROTO_TCP, tcp(&l3, 40000, dport, &[], b"hello")),
                    (IPPROTO_TCP, tcp(&l3, 40000, dport, &TCP_MSS_OPTION, b"")),
                ];
                for (proto, segment) in segments {
                    let frame = packet(tags, &l3, proto, &segment);
                    let (verdict, out) = tally.run(prog, &frame);
                    assert_eq!(verdict, XDP_PASS);
                    check_port_rewrite(tags, &l3, proto, &frame, &out);
                }
            }
        }
    }
    tally.check(&skel.maps.xdp_stats_map);
}

#[test]
fn port_rewrite_keeps_udp_checksum_conventions() {
    if !common::privileged() {
        return;
    }
    let mut storage = MaybeUninit::uninit();
    let skel = load!(xdp_rewrite::XdpRewriteSkelBuilder, storage);
    let prog = &skel.progs.xdp_port_rewrite_func;
    let mut tally = Tally::default();

    // UDP over IPv4 without a checksum (0): stays without one.
    for tags in [NO_TAGS, ONE_TAG] {
        for l3 in [L3::v4(), L3::v4_with_options()] {
            let mut segment = udp(&l3, 5000, 2001, b"no checksum");
            segment[6..8].fill(0);
            let frame = packet(tags, &l3, IPPROTO_UDP, &segment);
            let (verdict, out) = tally.run(prog, &frame);
            assert_eq!(verdict, XDP_PASS);
            let l4 = l4_offset(tags, &l3);
            assert_eq!(be16(&out, l4 + 2), 2000);
            assert_eq!(be16(&out, l4 + 6), 0, "a zero UDP checksum must stay zero");
        }
    }

    // A segment whose checksum after the rewrite computes to 0 must carry
    // 0xffff instead (0 would mean "no checksum"). Two payload bytes are
    // chosen to make the rewritten segment's sum come out at 0xffff.
    for l3 in [L3::v4(), L3::v6()] {
        let mut rewritten = udp(&l3, 5000, 2000, &[0, 0, 7, 7]);
        rewritten[6..8].fill(0);
        let partial =
            fold(sum16(&l3.pseudo_header(IPPROTO_UDP, rewritten.len())) + sum16(&rewritten));
        rewritten[8..10].copy_from_slice(&(0xffff - partial).to_be_bytes());
        assert_eq!(l3.l4_checksum(IPPROTO_UDP, &rewritten), 0, "test setup");
        let payload = rewritten[8..].to_vec();

        let frame = packet(NO_TAGS, &l3, IPPROTO_UDP, &udp(&l3, 5000, 2001, &payload));
        let (verdict, out) = tally.run(prog, &frame);
        assert_eq!(verdict, XDP_PASS);
        let l4 = l4_offset(NO_TAGS, &l3);
        assert_eq!(be16(&out, l4 + 2), 2000);
        assert_eq!(be16(&out, l4 + 6), 0xffff, "{l3:?}");
        check_port_rewrite(NO_TAGS, &l3, IPPROTO_UDP, &frame, &out);
    }
    tally.check(&skel.maps.xdp_stats_map);
}

/// Chooses the last two payload bytes of `segment` (a UDP or TCP segment
/// over `l3`) so that its checksum computes to `target`, and stores it
/// (UDP: a computed 0 as 0xffff).
fn craft_checksum(l3: &L3, proto: u8, segment: &mut [u8], target: u16) {
    let check_at = if proto == IPPROTO_UDP { 6 } else { 16 };
    let word_at = segment.len() - 2;
    assert_eq!(word_at % 2, 0, "the word must be a 16-bit word of the sum");
    segment[check_at..check_at + 2].fill(0);
    segment[word_at..].fill(0);
    let partial = sum16(&l3.pseudo_header(proto, segment.len())) + sum16(segment);
    let word = (0..=0xffffu16)
        .find(|&w| !fold(partial + u32::from(w)) == target)
        .expect("some payload word gives any checksum");
    segment[word_at..].copy_from_slice(&word.to_be_bytes());
    assert_eq!(l3.l4_checksum(proto, segment), target, "test setup");
    let stored = if proto == IPPROTO_UDP && target == 0 {
        0xffff
    } else {
        target
    };
    segment[check_at..check_at + 2].copy_from_slice(&stored.to_be_bytes());
}

/// The incremental update at the edges of one's-complement arithmetic:
/// checksums next to 0 and 0xffff, and ports whose decrement borrows
/// across bytes (0x0100) or wraps (0 -> 0xffff: the same value in one's
/// complement, so the checksum must not move; computing it needs the
/// second carry fold).
#[test]
fn port_rewrite_checksum_edge_cases() {
    if !common::privileged() {
        return;
    }
    let mut storage = MaybeUninit::uninit();
    let skel = load!(xdp_rewrite::XdpRewriteSkelBuilder, storage);
    let prog = &skel.progs.xdp_port_rewrite_func;
    let mut tally = Tally::default();

    for l3 in [L3::v4(), L3::v6()] {
        for dport in [0u16, 1, 2, 0x0100, 0xffff] {
            for target in [0x0000u16, 0x0001, 0x00ff, 0x7fff, 0xfeff, 0xfffe] {
                for proto in [IPPROTO_UDP, IPPROTO_TCP] {
                    let mut segment = if proto == IPPROTO_UDP {
                        udp(&l3, 7, dport, b"xy..")
                    } else {
                        tcp(&l3, 7, dport, &[], b"xy..")
                    };
                    craft_checksum(&l3, proto, &mut segment, target);
                    assert!(l3.l4_verifies(proto, &segment), "test setup");
                    let frame = packet(NO_TAGS, &l3, proto, &segment);
                    let (verdict, out) = tally.run(prog, &frame);
                    assert_eq!(verdict, XDP_PASS);
                    check_port_rewrite(NO_TAGS, &l3, proto, &frame, &out);
                }
            }
        }
    }
    tally.check(&skel.maps.xdp_stats_map);
}

#[test]
fn port_rewrite_leaves_other_packets_alone() {
    if !common::privileged() {
        return;
    }
    let mut storage = MaybeUninit::uninit();
    let skel = load!(xdp_rewrite::XdpRewriteSkelBuilder, storage);
    let prog = &skel.progs.xdp_port_rewrite_func;
    let mut tally = Tally::default();

    let mut frames = Vec::new();
    for l3 in L3::all() {
        frames.push(echo_request(ONE_TAG, &l3, 7));
        // UDP behind three tags: beyond what the parser looks through.
        frames.push(packet(
            TRIPLE_TAGS,
            &l3,
            IPPROTO_UDP,
            &udp(&l3, 1, 2001, b""),
        ));
        // Truncated UDP and TCP headers: cannot be parsed, not touched.
        let full = packet(NO_TAGS, &l3, IPPROTO_UDP, &udp(&l3, 1, 2001, b""));
        frames.push(full[..full.len() - 1].to_vec());
        let full = packet(
            NO_TAGS,
            &l3,
            IPPROTO_TCP,
            &tcp(&l3, 1, 2001, &TCP_MSS_OPTION, b""),
        );
        frames.push(full[..full.len() - 1].to_vec());
    }
    for frame in &frames {
        let (verdict, out) = tally.run(prog, frame);
        assert_eq!(verdict, XDP_PASS);
        assert_eq!(&out, frame);
    }
    tally.check(&skel.maps.xdp_stats_map);
}

#[test]
fn vlan_swap_pushes_and_pops_tags() {
    if !common::privileged() {
        return;
    }
    let mut storage = MaybeUninit::uninit();
    let skel = load!(xdp_rewrite::XdpRewriteSkelBuilder, storage);
    let prog = &skel.progs.xdp_vlan_swap_func;
    let mut tally = Tally::default();

    // Untagged in: tagged out, VLAN 1, TPID 0x8100, the original ethertype
    // after the tag, MACs and payload unchanged.
    for l3 in L3::all() {
        let frame = packet(NO_TAGS, &l3, IPPROTO_UDP, &udp(&l3, 1, 2, b"data"));
        let (verdict, out) = tally.run(prog, &frame);
        assert_eq!(verdict, XDP_PASS);
        assert_eq!(out.len(), frame.len() + 4);
        assert_eq!(out[..12], frame[..12], "MACs");
        assert_eq!(be16(&out, 12), ETH_P_8021Q, "TPID");
        assert_eq!(be16(&out, 14), 1, "TCI: priority 0, VLAN 1");
        assert_eq!(be16(&out, 16), l3.ethertype(), "ethertype after the tag");
        assert_eq!(out[18..], frame[14..], "payload");

        // And back: popping the tag restores the original frame.
        let (verdict, back) = tally.run(prog, &out);
        assert_eq!(verdict, XDP_PASS);
        assert_eq!(back, frame);
    }
    // ARP too: any ethertype is kept.
    let arp = ethernet(NO_TAGS, ETH_P_ARP, &[0; 28]);
    let (_, out) = tally.run(prog, &arp);
    assert_eq!(be16(&out, 16), ETH_P_ARP);

    // Tagged in: the outer tag goes, whatever follows it stays.
    for tags in [ONE_TAG, QINQ_TAGS, DOUBLE_Q_TAGS, TRIPLE_TAGS] {
        let frame = echo_request(tags, &L3::v6(), 1);
        let (verdict, out) = tally.run(prog, &frame);
        assert_eq!(verdict, XDP_PASS);
        assert_eq!(out.len(), frame.len() - 4, "{tags:?}");
        assert_eq!(out[..12], frame[..12], "MACs");
        assert_eq!(out[12..], frame[16..], "after the outer tag, {tags:?}");
    }
    tally.check(&skel.maps.xdp_stats_map);
}

// ---------------------------------------------------------------------------
// packet03: xdp_redirect

#[test]
fn icmp_echo_answers_pings_with_xdp_tx() {
    if !common::privileged() {
        return;
    }
    let mut storage = MaybeUninit::uninit();
    let skel = load!(xdp_redirect::XdpRedirectSkelBuilder, storage);
    let prog = &skel.progs.xdp_icmp_echo_func;
    let mut tally = Tally::default();

    for tags in [NO_TAGS, ONE_TAG, QINQ_TAGS] {
        for l3 in L3::all() {
            for seq in [1u16, 2, 0xfffe] {
                let frame = echo_request(tags, &l3, seq);
                let (verdict, out) = tally.run(prog, &frame);
                let what = format!("seq {seq} {tags:?} {l3:?}");
                assert_eq!(verdict, XDP_TX, "{what}");
                assert_eq!(out.len(), frame.len());

                // MACs swapped; tags untouched.
                assert_eq!(out[0..6], frame[6..12], "{what}");
                assert_eq!(out[6..12], frame[0..6], "{what}");
                let l3_at = l3_offset(tags);
                assert_eq!(out[12..l3_at], frame[12..l3_at]);

                // Addresses swapped, the rest of the IP header unchanged
                // (the IPv4 header checksum still verifies).
                let (src, len) = (l3_at + l3.src_offset(), l3.addr_len());
                assert_eq!(out[src..src + len], frame[src + len..src + 2 * len]);
                assert_eq!(out[src + len..src + 2 * len], frame[src..src + len]);
                assert_eq!(out[l3_at..src], frame[l3_at..src]);
                let l4 = l4_offset(tags, &l3);
                assert_eq!(out[src + 2 * len..l4], frame[src + 2 * len..l4]);
                if let L3::V4 { .. } = l3 {
                    assert!(verifies(&out[l3_at..l4]), "IPv4 header checksum");
                }

                // A valid echo reply: type 0 / 129, the id, sequence and
                // payload of the request, a checksum over the new addresses.
                let reply_l3 = match &l3 {
                    L3::V4 { .. } => l3.clone(),
                    L3::V6 {
                        src,
                        dst,
                        hop_limit,
                    } => L3::V6 {
                        src: *dst,
                        dst: *src,
                        hop_limit: *hop_limit,
                    },
                };
                let want = echo(&reply_l3, false, 0x4242, seq, b"ping payload");
                assert_eq!(out[l4..], want[..], "the echo reply, {what}");
                assert!(reply_l3.l4_verifies(l3.icmp_proto(), &out[l4..]));
            }
        }
    }

    // Not echo requests: passed unchanged.
    let mut others = Vec::new();
    for l3 in L3::all() {
        let reply = echo(&l3, false, 1, 1, b"");
        others.push(packet(NO_TAGS, &l3, l3.icmp_proto(), &reply));
        others.push(packet(NO_TAGS, &l3, IPPROTO_UDP, &udp(&l3, 1, 7, b"echo?")));
        let full = echo_request(NO_TAGS, &l3, 1);
        others.push(full[..l4_offset(NO_TAGS, &l3) + 7].to_vec());
    }
    for frame in &others {
        let (verdict, out) = tally.run(prog, frame);
        assert_eq!(verdict, XDP_PASS, "{frame:02x?}");
        assert_eq!(&out, frame);
    }
    tally.check(&skel.maps.xdp_stats_map);
}

const LO_IFINDEX: u32 = 1;
const NEW_DEST: [u8; 6] = [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee];

#[test]
fn redirect_func_follows_redirect_target() {
    if !common::privileged() {
        return;
    }
    let mut storage = MaybeUninit::uninit();
    let skel = load!(xdp_redirect::XdpRedirectSkelBuilder, storage);
    let prog = &skel.progs.xdp_redirect_func;
    let map = &skel.maps.redirect_target;
    let mut tally = Tally::default();
    let frame = echo_request(NO_TAGS, &L3::v6(), 1);

    // The layout userspace writes: ifindex u32 at 0, MAC at 4, 12 bytes.
    assert_eq!(map.value_size(), 12);
    let target = |ifindex: u32, mac: [u8; 6]| {
        let mut v = [0u8; 12];
        v[0..4].copy_from_slice(&ifindex.to_ne_bytes());
        v[4..10].copy_from_slice(&mac);
        v
    };
    let key = 0u32.to_ne_bytes();

    // Not configured (the array starts zeroed): pass.
    let (verdict, out) = tally.run(prog, &frame);
    assert_eq!(verdict, XDP_PASS);
    assert_eq!(out, frame);

    // A MAC but ifindex 0: still not configured.
    map.update(&key, &target(0, NEW_DEST), MapFlags::ANY)
        .unwrap();
    let (verdict, out) = tally.run(prog, &frame);
    assert_eq!((verdict, &out), (XDP_PASS, &frame));

    // An interface, no MAC: redirected with the frame unchanged.
    map.update(&key, &target(LO_IFINDEX, [0; 6]), MapFlags::ANY)
        .unwrap();
    let (verdict, out) = tally.run(prog, &frame);
    assert_eq!((verdict, &out), (XDP_REDIRECT, &frame));

    // An interface and a MAC: redirected with h_dest rewritten.
    map.update(&key, &target(LO_IFINDEX, NEW_DEST), MapFlags::ANY)
        .unwrap();
    let (verdict, out) = tally.run(prog, &frame);
    assert_eq!(verdict, XDP_REDIRECT);
    assert_eq!(out[0..6], NEW_DEST);
    assert_eq!(out[6..], frame[6..]);

    tally.check(&skel.maps.xdp_stats_map);
}

#[test]
fn redirect_map_forwards_by_source_mac() {
    if !common::privileged() {
        return;
    }
    let mut storage = MaybeUninit::uninit();
    let skel = load!(xdp_redirect::XdpRedirectSkelBuilder, storage);
    let prog = &skel.progs.xdp_redirect_map_func;
    let mut tally = Tally::default();
    let frame = echo_request(ONE_TAG, &L3::v4(), 1);

    // No entry for our source MAC: pass, unchanged.
    let (verdict, out) = tally.run(prog, &frame);
    assert_eq!((verdict, &out), (XDP_PASS, &frame));

    skel.maps
        .redirect_params
        .update(&MAC_SRC, &NEW_DEST, MapFlags::ANY)
        .unwrap();

    // An entry, but tx_port slot 0 empty: bpf_redirect_map() returns the
    // low bits of its flags argument, 0 = XDP_ABORTED. h_dest was already
    // rewritten by then (an aborted packet is dropped anyway).
    let (verdict, out) = tally.run(prog, &frame);
    assert_eq!(verdict, XDP_ABORTED);
    assert_eq!(out[0..6], NEW_DEST);

    // tx_port[0] = lo. A DEVMAP entry needs an interface that exists (the
    // update fails with EINVAL otherwise); lo always has ifindex 1 and
    // nothing is sent: BPF_PROG_TEST_RUN only runs the program and reports
    // its verdict, it does not carry out the redirect.
    let no_such_ifindex = 0x7fff_fff0u32.to_ne_bytes();
    let refused = skel
        .maps
        .tx_port
        .update(&1u32.to_ne_bytes(), &no_such_ifindex, MapFlags::ANY);
    assert!(refused.is_err(), "DEVMAP accepted a missing interface");
    skel.maps
        .tx_port
        .update(
            &0u32.to_ne_bytes(),
            &LO_IFINDEX.to_ne_bytes(),
            MapFlags::ANY,
        )
        .unwrap();
    let (verdict, out) = tally.run(prog, &frame);
    assert_eq!(verdict, XDP_REDIRECT);
    assert_eq!(out[0..6], NEW_DEST, "h_dest from redirect_params");
    assert_eq!(out[6..], frame[6..], "nothing else changes");

    // Another source MAC: no entry, pass.
    let mut stranger = frame.clone();
    stranger[11] ^= 0xff;
    let (verdict, out) = tally.run(prog, &stranger);
    assert_eq!((verdict, &out), (XDP_PASS, &stranger));

    tally.check(&skel.maps.xdp_stats_map);
}

#[test]
fn pass_func_passes() {
    if !common::privileged() {
        return;
    }
    let mut storage = MaybeUninit::uninit();
    let skel = load!(xdp_redirect::XdpRedirectSkelBuilder, storage);
    let mut tally = Tally::default();
    for frame in [
        echo_request(NO_TAGS, &L3::v6(), 2),
        ethernet(NO_TAGS, ETH_P_ARP, &[0; 28]),
    ] {
        let (verdict, out) = tally.run(&skel.progs.xdp_pass_func, &frame);
        assert_eq!((verdict, &out), (XDP_PASS, &frame));
    }
    tally.check(&skel.maps.xdp_stats_map);
}

/// Runs `f` on a new thread in a new, empty network namespace (only lo),
/// so the routes a test adds are its own and vanish with the thread.
/// Namespaces belong to threads, and the `ip` commands the thread starts
/// inherit its namespace; BPF_PROG_TEST_RUN runs XDP programs as if the
/// packet arrived on the caller's namespace's lo.
fn in_private_netns<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        let thread = scope.spawn(move || {
            // SAFETY: unshare has no memory-safety preconditions; it only
            // changes this thread's network namespace.
            let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
            assert_eq!(
                rc,
                0,
                "unshare(CLONE_NEWNET): {}",
                std::io::Error::last_os_error()
            );
            f()
        });
        match thread.join() {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

fn ip(args: &str) {
    common::sh("ip", &args.split_whitespace().collect::<Vec<_>>());
}

fn sysctl(setting: &str) {
    common::sh("sysctl", &["-qw", setting]);
}

/// MAC address of `dev` in the current namespace.
fn link_mac(dev: &str) -> [u8; 6] {
    let link = common::json("ip", &["-j", "link", "show", "dev", dev]);
    let text = link[0]["address"].as_str().expect("a MAC");
    let mut mac = [0u8; 6];
    for (byte, part) in mac.iter_mut().zip(text.split(':')) {
        *byte = u8::from_str_radix(part, 16).unwrap();
    }
    mac
}

const GATEWAY_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x0a, 0x0a];

/// A frame from MAC_SRC to MAC_DST routed to `dst`.
fn routed_v4(dst: [u8; 4], ttl: u8) -> (L3, Vec<u8>) {
    let l3 = L3::V4 {
        src: [198, 51, 100, 7],
        dst,
        options: Vec::new(),
        ttl,
    };
    let frame = packet(NO_TAGS, &l3, IPPROTO_UDP, &udp(&l3, 1234, 53, b"query"));
    (l3, frame)
}

fn routed_v6(dst: &str, hop_limit: u8) -> (L3, Vec<u8>) {
    let l3 = L3::V6 {
        src: v6_addr("2001:db8:99::7"),
        dst: v6_addr(dst),
        hop_limit,
    };
    let frame = packet(NO_TAGS, &l3, IPPROTO_UDP, &udp(&l3, 1234, 53, b"query"));
    (l3, frame)
}

/// Picks the IPv4 identification field of `header` so that its header
/// checksum comes out as `target`, and stores both.
fn set_ipv4_checksum_via_id(header: &mut [u8], target: u16) {
    header[10..12].fill(0);
    header[4..6].fill(0);
    let partial = sum16(header);
    let id = (0..=0xffffu16)
        .find(|&id| !fold(partial + u32::from(id)) == target)
        .expect("some id gives any checksum");
    header[4..6].copy_from_slice(&id.to_be_bytes());
    assert_eq!(checksum(header), target, "test setup");
    header[10..12].copy_from_slice(&target.to_be_bytes());
}

#[test]
fn router_forwards_with_fib_lookup() {
    if !common::privileged() {
        return;
    }
    in_private_netns(|| {
        let mut storage = MaybeUninit::uninit();
        let skel = load!(xdp_redirect::XdpRedirectSkelBuilder, storage);
        let prog = &skel.progs.xdp_router_func;
        let mut tally = Tally::default();

        // One interface, r0, with a gateway behind it whose MAC is known,
        // and routes of each kind.
        ip("link set lo up");
        ip("link add r0 type veth peer name r1");
        ip("link set r0 up");
        ip("link set r1 up");
        ip("addr add 10.200.0.1/24 dev r0");
        ip("-6 addr add fd00:200::1/64 dev r0 nodad");
        ip("neigh replace 10.200.0.2 lladdr 02:00:00:00:0a:0a nud permanent dev r0");
        ip("-6 neigh replace fd00:200::2 lladdr 02:00:00:00:0a:0a nud permanent dev r0");
        ip("route add 10.201.0.0/24 via 10.200.0.2");
        ip("-6 route add fd00:201::/64 via fd00:200::2");
        ip("route add blackhole 10.202.0.0/24");
        ip("-6 route add blackhole fd00:202::/64");
        ip("route add unreachable 10.203.0.0/24");
        ip("-6 route add unreachable fd00:203::/64");
        ip("route add prohibit 10.204.0.0/24");
        ip("-6 route add prohibit fd00:204::/64");
        // A gateway whose MAC is not known yet.
        ip("route add 10.205.0.0/24 via 10.200.0.3");
        ip("-6 route add fd00:205::/64 via fd00:200::3");
        let r0_mac = link_mac("r0");

        // Forwarding off (on lo, where test packets arrive): FWD_DISABLED.
        sysctl("net.ipv4.conf.all.forwarding=0");
        sysctl("net.ipv6.conf.all.forwarding=0");
        for (_, frame) in [routed_v4([10, 201, 0, 5], 64), routed_v6("fd00:201::5", 64)] {
            let (verdict, out) = tally.run(prog, &frame);
            assert_eq!((verdict, &out), (XDP_PASS, &frame), "forwarding disabled");
        }
        sysctl("net.ipv4.conf.all.forwarding=1");
        sysctl("net.ipv6.conf.all.forwarding=1");

        // A route and a neighbour: redirected out of r0, from r0's MAC to
        // the gateway's, TTL / hop limit one lower, IPv4 checksum updated.
        for ttl in [64u8, 2, 255] {
            let (_, frame) = routed_v4([10, 201, 0, 5], ttl);
            let (verdict, out) = tally.run(prog, &frame);
            assert_eq!(verdict, XDP_REDIRECT, "TTL {ttl}");
            assert_eq!(out[0..6], GATEWAY_MAC);
            assert_eq!(out[6..12], r0_mac);
            assert_eq!(out[14 + 8], ttl - 1, "TTL");
            let mut header = out[14..34].to_vec();
            assert!(verifies(&header), "IPv4 header checksum after TTL {ttl}");
            header[10..12].fill(0);
            assert_eq!(
                be16(&out, 24),
                checksum(&header),
                "checksum value, TTL {ttl}"
            );
            let mut rest = frame.clone();
            rest[0..12].copy_from_slice(&out[0..12]);
            rest[22..26].copy_from_slice(&out[22..26]);
            assert_eq!(out, rest, "only MACs, TTL and checksum change");
        }
        // The header checksum 0xfeff: one more and the update carries out
        // of 16 bits (the `check >= 0xFFFF` in ip_decrease_ttl), giving
        // 0x0000 -- what a full recomputation gives too.
        let (_, mut frame) = routed_v4([10, 201, 0, 5], 64);
        set_ipv4_checksum_via_id(&mut frame[14..34], 0xfeff);
        let (verdict, out) = tally.run(prog, &frame);
        assert_eq!(verdict, XDP_REDIRECT);
        assert_eq!(be16(&out, 24), 0x0000, "checksum after the carry");
        assert!(verifies(&out[14..34]));

        let (_, frame) = routed_v6("fd00:201::5", 64);
        let (verdict, out) = tally.run(prog, &frame);
        assert_eq!(verdict, XDP_REDIRECT);
        assert_eq!(out[0..6], GATEWAY_MAC);
        assert_eq!(out[6..12], r0_mac);
        assert_eq!(out[14 + 7], 63, "hop limit");
        assert_eq!(out[12..21], frame[12..21]);
        assert_eq!(out[22..], frame[22..]);

        // TTL / hop limit 1 would expire here: the kernel must answer
        // with ICMP time exceeded, so pass, even with a good route.
        // Blackhole, unreachable, prohibit routes: drop. No route at all
        // (NOT_FWDED) and no neighbour entry (NO_NEIGH): pass.
        let cases = [
            (routed_v4([10, 201, 0, 5], 1), XDP_PASS),
            (routed_v4([10, 201, 0, 5], 0), XDP_PASS),
            (routed_v6("fd00:201::5", 1), XDP_PASS),
            (routed_v4([10, 202, 0, 5], 64), XDP_DROP),
            (routed_v6("fd00:202::5", 64), XDP_DROP),
            (routed_v4([10, 203, 0, 5], 64), XDP_DROP),
            (routed_v6("fd00:203::5", 64), XDP_DROP),
            (routed_v4([10, 204, 0, 5], 64), XDP_DROP),
            (routed_v6("fd00:204::5", 64), XDP_DROP),
            (routed_v4([10, 250, 0, 5], 64), XDP_PASS),
            (routed_v6("fd00:250::5", 64), XDP_PASS),
            (routed_v4([10, 205, 0, 5], 64), XDP_PASS),
            (routed_v6("fd00:205::5", 64), XDP_PASS),
            // For this host: not forwarded.
            (routed_v4([10, 200, 0, 1], 64), XDP_PASS),
        ];
        for ((l3, frame), want) in cases {
            let (verdict, out) = tally.run(prog, &frame);
            assert_eq!(verdict, want, "{l3:?}");
            assert_eq!(out, frame, "not forwarded, so unchanged: {l3:?}");
        }

        // Not IP, and VLAN-tagged IP: left to the kernel.
        let tagged = packet(ONE_TAG, &L3::v4(), IPPROTO_UDP, &udp(&L3::v4(), 1, 2, b""));
        for frame in [ethernet(NO_TAGS, ETH_P_ARP, &[0; 28]), tagged] {
            let (verdict, out) = tally.run(prog, &frame);
            assert_eq!((verdict, &out), (XDP_PASS, &frame));
        }
        tally.check(&skel.maps.xdp_stats_map);
    });
}
