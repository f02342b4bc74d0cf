// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson packet01: parsing packets. See README.md for the assignments;
 * each TODO below names its number.
 *
 * The goal: drop ICMP and ICMPv6 echo requests ("pings") whose sequence
 * number is even, pass everything else. As shipped, the program does not
 * even load: the verifier refuses it (TODO 1). Once it loads, it drops
 * every IPv6 packet, because the parsing after the Ethernet header is not
 * written yet (TODO 2 and 3).
 *
 * Each parse_*() function follows one pattern: check that the header lies
 * inside the packet (the verifier refuses any read of packet bytes it has
 * not seen checked against data_end), move the cursor past it, return what
 * comes next, or -1 when the packet is too short.
 */
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "packet_defs.h"	/* ETH_P_*, ICMP* constants, struct hdr_cursor */
#include "xdp_stats_kern.h"	/* xdp_stats_map, xdp_stats_record_action() */

/* Returns the ethertype (network byte order), or -1. */
static __always_inline int parse_ethhdr(struct hdr_cursor *nh, void *data_end,
					struct ethhdr **ethhdr)
{
	struct ethhdr *eth = nh->pos;
	int hdrsize = sizeof(*eth);

	/* TODO 1: the verifier refuses this check. Run `make load IF=...`,
	 *         read what it says, and fix it. */
	if (nh->pos + 1 > data_end)
		return -1;

	/* TODO 4: after the Ethernet header may come VLAN tags (ethertype
	 *         0x8100 or 0x88a8, see proto_is_vlan()): skip up to
	 *         VLAN_MAX_DEPTH of them (struct vlan_hdr, 4 bytes each) and
	 *         return the ethertype after the last one. The verifier needs
	 *         a loop with a constant bound. */

	nh->pos += hdrsize;
	*ethhdr = eth;
	return eth->h_proto;
}

/* TODO 2: IPv6. Check the 40-byte struct ipv6hdr, move the cursor past it,
 *         return its nexthdr (IPPROTO_ICMPV6 for a ping), or -1. */
static __always_inline int parse_ip6hdr(struct hdr_cursor *nh, void *data_end,
					struct ipv6hdr **ip6hdr)
{
	return -1;
}

/* TODO 3: ICMPv6. Check struct icmp6hdr (8 bytes, including the echo
 *         identifier and sequence number), move the cursor, return
 *         icmp6_type, or -1. */
static __always_inline int parse_icmp6hdr(struct hdr_cursor *nh, void *data_end,
					  struct icmp6hdr **icmp6hdr)
{
	return -1;
}

/* TODO 5: IPv4 (test with `testenv setup --legacy-ip`). Write
 *         parse_iphdr(): its header is 20 bytes plus options; ihl gives
 *         the real length in 32-bit words, and may only be read after the
 *         fixed 20 bytes were checked. Then parse_icmphdr() for struct
 *         icmphdr (8 bytes), and use both in the program below. */

SEC("xdp")
int xdp_parser_func(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct hdr_cursor nh = { .pos = data };
	struct ethhdr *eth;
	__u32 action = XDP_PASS; /* the default for anything not a ping */
	int eth_type;

	eth_type = parse_ethhdr(&nh, data_end, &eth);
	if (eth_type != bpf_htons(ETH_P_IPV6))
		goto out;

	/* TODO 2: parse the IPv6 header; anything but ICMPv6 passes.
	 * TODO 3: parse the ICMPv6 header; only echo requests
	 *         (ICMPV6_ECHO_REQUEST) with an even sequence number
	 *         (icmp6_dataun.u_echo.sequence) are dropped. Mind the byte
	 *         order: the field is big-endian, bpf_ntohs() converts it. */
	(void)parse_ip6hdr;	/* silences "unused": remove once called */
	(void)parse_icmp6hdr;
	action = XDP_DROP;
out:
	return xdp_stats_record_action(ctx, action);
}

char LICENSE[] SEC("license") = "GPL";
