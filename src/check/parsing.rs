//! packet01: the parser drops ICMP/ICMPv6 echo requests with an even
//! sequence number, through up to two VLAN tags, and passes all else.

use super::frames::{
    self, echo_request, ethernet, ip, tag, tcp_syn, udp, Ips, ETH_P_8021AD, ETH_P_8021Q, ETH_P_IP,
    ETH_P_IPV6, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP,
};
use super::lab::{IP4_PEER, IP4_XDP, IP6_PEER, IP6_XDP, MAC_PEER, MAC_XDP};
use super::{verdicts, Lesson, Probe, Subject};

pub const PACKET01: Lesson = Lesson {
    name: "packet01",
    builtin: Some("xdp_parser"),
    assignments: &[
        "parse_ethhdr() checks the whole Ethernet header: the program loads",
        "parse_ip6hdr(): IPv6 packets that are not ICMPv6 pass",
        "parse_icmp6hdr(): ICMPv6 echo requests with even sequence numbers are dropped, odd ones pass",
        "VLAN tags (up to 2) are skipped: tagged echo requests get the same verdicts",
        "IPv4 with parse_iphdr() (variable ihl) and parse_icmphdr(): even ICMP echo requests are dropped",
    ],
    check,
};

const PROGRAM: &str = "xdp_parser_func";

fn check(subject: &Subject, number: usize) -> Result<(), String> {
    if number == 1 {
        return subject.program(PROGRAM).map(|_| ());
    }
    subject
        .program(PROGRAM)
        .map_err(|_| format!("not checked: {PROGRAM} does not load (assignment 1)"))?;
    verdicts(subject, PROGRAM, &probes(number))
}

fn v6() -> Ips {
    Ips::v6(IP6_PEER, IP6_XDP)
}

/// An echo request (seq) behind `tags`, over IPv6 or IPv4 with `options`.
fn ping(ips: Ips, tags: &[(u16, u16)], options: &[u8], seq: u16, id: u32) -> Vec<u8> {
    let (proto, icmp) = echo_request(ips, seq, &tag(id));
    let eth = match ips {
        Ips::V4(..) => ETH_P_IP,
        Ips::V6(..) => ETH_P_IPV6,
    };
    ethernet(
        MAC_XDP,
        MAC_PEER,
        tags,
        eth,
        &ip(ips, proto, 64, options, &icmp),
    )
}

fn probes(number: usize) -> Vec<Probe> {
    let probe = |what: String, frame, pass| Probe { what, frame, pass };
    let v6_frame = |proto, l4: &[u8]| {
        ethernet(
            MAC_XDP,
            MAC_PEER,
            &[],
            ETH_P_IPV6,
            &ip(v6(), proto, 64, &[], l4),
        )
    };
    match number {
        2 => vec![
            probe(
                "an IPv6 UDP packet".into(),
                v6_frame(IPPROTO_UDP, &udp(v6(), 1000, 2000, &tag(0))),
                true,
            ),
            probe(
                "an IPv6 TCP packet".into(),
                v6_frame(IPPROTO_TCP, &tcp_syn(v6(), 1000, 2000, &tag(1))),
                true,
            ),
        ],
        3 => {
            let mut list: Vec<Probe> = [1u16, 2, 3, 4, 256, 257]
                .iter()
                .map(|&seq| {
                    probe(
                        format!("ICMPv6 echo request seq {seq}"),
                        ping(v6(), &[], &[], seq, seq as u32),
                        seq % 2 == 1,
                    )
                })
                .collect();
            // An echo *reply* with an even number is not a request: it passes.
            let (_, reply) = frames::echo(v6(), true, 2, &tag(900));
            list.push(probe(
                "ICMPv6 echo reply seq 2".into(),
                v6_frame(IPPROTO_ICMPV6, &reply),
                true,
            ));
            list
        }
        4 => {
            let one = [(ETH_P_8021Q, 5)];
            let two = [(ETH_P_8021AD, 6), (ETH_P_8021Q, 7)];
            vec![
                probe(
                    "ICMPv6 echo request seq 1 behind one VLAN tag".into(),
                    ping(v6(), &one, &[], 1, 1),
                    true,
                ),
                probe(
                    "ICMPv6 echo request seq 2 behind one VLAN tag".into(),
                    ping(v6(), &one, &[], 2, 2),
                    false,
                ),
                probe(
                    "ICMPv6 echo request seq 3 behind two VLAN tags (802.1ad + 802.1Q)".into(),
                    ping(v6(), &two, &[], 3, 3),
                    true,
                ),
                probe(
                    "ICMPv6 echo request seq 4 behind two VLAN tags (802.1ad + 802.1Q)".into(),
                    ping(v6(), &two, &[], 4, 4),
                    false,
                ),
            ]
        }
        5 => {
            let v4 = Ips::v4(IP4_PEER, IP4_XDP);
            let options = [1, 1, 1, 0]; // NOP NOP NOP END: ihl 6
            vec![
                probe(
                    "ICMP echo request seq 1".into(),
                    ping(v4, &[], &[], 1, 1),
                    true,
                ),
                probe(
                    "ICMP echo request seq 2".into(),
                    ping(v4, &[], &[], 2, 2),
                    false,
                ),
                probe(
                    "ICMP echo request seq 3 with IP options (ihl 6)".into(),
                    ping(v4, &[], &options, 3, 3),
                    true,
                ),
                probe(
                    "ICMP echo request seq 4 with IP options (ihl 6)".into(),
                    ping(v4, &[], &options, 4, 4),
                    false,
                ),
            ]
        }
        _ => unreachable!("packet01 has 5 assignments"),
    }
}
