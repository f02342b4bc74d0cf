// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson packet02: rewriting packets. See README.md for the assignments;
 * each TODO below names its number.
 *
 * Parsing is packet01's work, done: parsing_helpers.h has the finished
 * helpers (parse_ethhdr_vlan, parse_ip6hdr, parse_iphdr, parse_udphdr,
 * parse_tcphdr, ...). Both programs pass every packet, changed or not.
 */
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "parsing_helpers.h"
#include "csum_helpers.h"	/* csum_replace2(), CSUM_MANGLED_0 */
#include "xdp_stats_kern.h"

/*
 * TODO 2: remove the outermost VLAN tag of the frame at `eth`, keeping the
 *         MAC addresses; return the VLAN ID removed, or -1 (untagged, or
 *         too short). bpf_xdp_adjust_head(ctx, 4) drops the first 4 bytes
 *         of the packet: save what you need first, and after the call,
 *         read ctx->data and ctx->data_end again and check bounds again
 *         (every earlier packet pointer is invalid).
 */
static __always_inline int vlan_tag_pop(struct xdp_md *ctx, struct ethhdr *eth)
{
	return -1;
}

/*
 * TODO 3: add an 802.1Q tag with VLAN ID `vlid` in front of the frame's
 *         ethertype, keeping the MACs; return 0, or -1.
 *         bpf_xdp_adjust_head(ctx, -4) makes 4 bytes of room at the front.
 */
static __always_inline int vlan_tag_push(struct xdp_md *ctx, struct ethhdr *eth, int vlid)
{
	return -1;
}

SEC("xdp")
int xdp_port_rewrite_func(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct hdr_cursor nh = { .pos = data };
	struct ethhdr *eth;
	struct iphdr *iph;
	struct ipv6hdr *ip6h;
	int eth_type, ip_type;

	eth_type = parse_ethhdr_vlan(&nh, data_end, &eth, NULL);
	if (eth_type == bpf_htons(ETH_P_IP))
		ip_type = parse_iphdr(&nh, data_end, &iph);
	else if (eth_type == bpf_htons(ETH_P_IPV6))
		ip_type = parse_ip6hdr(&nh, data_end, &ip6h);
	else
		goto out;

	/*
	 * TODO 1: for UDP (IPPROTO_UDP) and TCP (IPPROTO_TCP), lower the
	 *         destination port by one, and keep the checksum right: it
	 *         covers the port (csum_replace2() updates it for one changed
	 *         16-bit word). A UDP checksum of 0 means "none": leave it 0.
	 */
	(void)ip_type;
out:
	return xdp_stats_record_action(ctx, XDP_PASS);
}

SEC("xdp")
int xdp_vlan_swap_func(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		goto out;

	/* Tagged frames lose their outer tag, untagged ones get VLAN 1. */
	if (proto_is_vlan(eth->h_proto))
		vlan_tag_pop(ctx, eth);
	else
		vlan_tag_push(ctx, eth, 1);
out:
	return xdp_stats_record_action(ctx, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
