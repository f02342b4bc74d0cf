/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Packet rewriting helpers for the packet lessons (packet02 onwards; the C
 * tutorial's common/rewrite_helpers.h): checksum updates, VLAN tag pop and
 * push, and address swaps.
 *
 * Two rules for every writer of packet data:
 *
 *  - A write needs the same bounds check as a read. The pointers these
 *    helpers take come from the parsing helpers, which did that check.
 *  - bpf_xdp_adjust_head() moves the start of the packet. After it, every
 *    packet pointer the program held is invalid (the verifier forgets them
 *    all): re-read ctx->data and ctx->data_end and check bounds again.
 */
#ifndef REWRITE_HELPERS_H
#define REWRITE_HELPERS_H

#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "parsing_helpers.h"
#include "csum_helpers.h"

/*
 * Removes the outermost VLAN tag of the frame `eth` points at, keeping the
 * MAC addresses. Returns the VLAN ID it removed, or -1 (no tag, or the
 * frame is too short). Invalidates every packet pointer, `eth` included.
 */
static __always_inline int vlan_tag_pop(struct xdp_md *ctx, struct ethhdr *eth)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr eth_cpy;
	struct vlan_hdr *vlh;
	__be16 h_proto;
	int vlid;

	if (!proto_is_vlan(eth->h_proto))
		return -1;

	/* The tag follows the Ethernet header; all 4 bytes must be there. */
	vlh = (void *)(eth + 1);
	if ((void *)(vlh + 1) > data_end)
		return -1;

	vlid = bpf_ntohs(vlh->h_vlan_TCI) & VLAN_VID_MASK;
	h_proto = vlh->h_vlan_encapsulated_proto;

	/* Copy the MACs to the stack: the packet pointers die below. */
	__builtin_memcpy(&eth_cpy, eth, sizeof(eth_cpy));

	/* Start the packet 4 bytes later: the first 4 bytes (the start of
	 * the destination MAC) are gone, the tag is now bytes 10..13. */
	if (bpf_xdp_adjust_head(ctx, (int)sizeof(*vlh)))
		return -1;

	/* New packet pointers, and a new bounds check for them. */
	eth = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if ((void *)(eth + 1) > data_end)
		return -1;

	/* Write the MACs over the tag's old place. The ethertype after the
	 * tag already sits where h_proto belongs; writing it states that. */
	__builtin_memcpy(eth->h_dest, eth_cpy.h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth_cpy.h_source, ETH_ALEN);
	eth->h_proto = h_proto;

	return vlid;
}

/*
 * Adds an 802.1Q tag with VLAN ID `vlid` (priority 0) in front of the
 * frame's ethertype, keeping the MACs. Returns 0, or -1 if there is no
 * headroom. Invalidates every packet pointer, `eth` included.
 */
static __always_inline int vlan_tag_push(struct xdp_md *ctx,
					 struct ethhdr *eth, int vlid)
{
	struct ethhdr eth_cpy;
	struct vlan_hdr *vlh;
	void *data_end;

	/* The caller checked eth (14 bytes); save it before the move. */
	__builtin_memcpy(&eth_cpy, eth, sizeof(eth_cpy));

	/* Start the packet 4 bytes earlier, in the headroom XDP keeps in
	 * front of every packet (256 bytes; it can fail if it is used up). */
	if (bpf_xdp_adjust_head(ctx, -(int)sizeof(*vlh)))
		return -1;

	eth = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	/* Ethernet header plus tag: 18 bytes, checked in one go. */
	vlh = (void *)(eth + 1);
	if ((void *)(vlh + 1) > data_end)
		return -1;

	__builtin_memcpy(eth->h_dest, eth_cpy.h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth_cpy.h_source, ETH_ALEN);
	eth->h_proto = bpf_htons(ETH_P_8021Q);

	/* The tag: TCI (priority 0, DEI 0, VLAN ID), then the original
	 * ethertype, so the frame's payload still says what it is. (Those 2
	 * bytes hold it already: with the packet now starting 4 bytes
	 * earlier, the old h_proto is at offset 16. Don't rely on it.) */
	vlh->h_vlan_TCI = bpf_htons(vlid & VLAN_VID_MASK);
	vlh->h_vlan_encapsulated_proto = eth_cpy.h_proto;

	return 0;
}

/* Swaps the source and destination MAC addresses (for XDP_TX replies). */
static __always_inline void swap_src_dst_mac(struct ethhdr *eth)
{
	__u8 h_tmp[ETH_ALEN];

	__builtin_memcpy(h_tmp, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, h_tmp, ETH_ALEN);
}

/* Swaps the IPv4 addresses. The header checksum stays right: a sum does
 * not depend on the order of its terms. */
static __always_inline void swap_src_dst_ipv4(struct iphdr *iph)
{
	__be32 tmp = iph->saddr;

	iph->saddr = iph->daddr;
	iph->daddr = tmp;
}

/* Swaps the IPv6 addresses (IPv6 has no header checksum). */
static __always_inline void swap_src_dst_ipv6(struct ipv6hdr *ip6h)
{
	struct in6_addr tmp = ip6h->saddr;

	ip6h->saddr = ip6h->daddr;
	ip6h->daddr = tmp;
}

#endif /* REWRITE_HELPERS_H */
