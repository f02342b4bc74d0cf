// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson packet01: parsing packets.
 *
 * An XDP program sees raw bytes. To decide anything it walks the headers
 * one by one -- Ethernet, VLAN tags, IP, ICMP/UDP/TCP -- with the helpers
 * of parsing_helpers.h, each of which proves to the verifier that the
 * header it reads lies inside the packet.
 *
 * The decision here is a toy one, easy to watch with ping: ICMP and ICMPv6
 * echo requests ("pings") whose sequence number is even are dropped, all
 * else passes. `ping` then shows every second reply missing.
 *
 * Anything the program cannot parse (too short, unknown protocol, more
 * than two VLAN tags) passes: an XDP program in front of the whole stack
 * should only drop what it is sure about.
 */
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "parsing_helpers.h"
#include "xdp_stats_kern.h"

SEC("xdp")
int xdp_parser_func(struct xdp_md *ctx)
{
	/* ctx->data and ctx->data_end are 32-bit fields that the verifier
	 * rewrites into the real packet pointers: hence the casts. */
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct hdr_cursor nh = { .pos = data };
	struct ethhdr *eth;
	struct iphdr *iph;
	struct ipv6hdr *ip6h;
	struct icmphdr *icmph;
	struct icmp6hdr *icmp6h;
	struct udphdr *udph;
	struct tcphdr *tcph;
	__u32 action = XDP_PASS; /* the default for anything not an echo */
	int eth_type, ip_type;
	__be16 sequence;

	eth_type = parse_ethhdr_vlan(&nh, data_end, &eth, NULL);

	if (eth_type == bpf_htons(ETH_P_IP)) {
		ip_type = parse_iphdr(&nh, data_end, &iph);
		if (ip_type == IPPROTO_ICMP) {
			if (parse_icmphdr(&nh, data_end, &icmph) != ICMP_ECHO)
				goto out;
			sequence = icmph->un.echo.sequence;
		} else if (ip_type == IPPROTO_UDP) {
			/* Parsed to show the helper at work; UDP passes. */
			parse_udphdr(&nh, data_end, &udph);
			goto out;
		} else if (ip_type == IPPROTO_TCP) {
			parse_tcphdr(&nh, data_end, &tcph);
			goto out;
		} else {
			goto out;
		}
	} else if (eth_type == bpf_htons(ETH_P_IPV6)) {
		ip_type = parse_ip6hdr(&nh, data_end, &ip6h);
		if (ip_type == IPPROTO_ICMPV6) {
			if (parse_icmp6hdr(&nh, data_end, &icmp6h) !=
			    ICMPV6_ECHO_REQUEST)
				goto out;
			sequence = icmp6h->icmp6_dataun.u_echo.sequence;
		} else if (ip_type == IPPROTO_UDP) {
			parse_udphdr(&nh, data_end, &udph);
			goto out;
		} else if (ip_type == IPPROTO_TCP) {
			parse_tcphdr(&nh, data_end, &tcph);
			goto out;
		} else {
			goto out;
		}
	} else {
		/* ARP, unparseable frames (-1), and everything else. */
		goto out;
	}

	/* An echo request. The sequence number is in network byte order:
	 * convert it before doing arithmetic on it. */
	if (bpf_ntohs(sequence) % 2 == 0)
		action = XDP_DROP;
out:
	return xdp_stats_record_action(ctx, action);
}

char LICENSE[] SEC("license") = "GPL";
