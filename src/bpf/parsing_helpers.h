/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Header parsing helpers for the packet lessons (packet01 onwards; the C
 * tutorial's common/parsing_helpers.h).
 *
 * Every helper follows one pattern:
 *
 *   1. take the cursor `nh`, which points at the header to parse;
 *   2. check that the WHOLE header lies before data_end -- the verifier
 *      rejects the program if any packet byte is read without such a check,
 *      and the check must cover every byte that is read, not just one;
 *   3. hand the header back through `**hdr`, move the cursor past it, and
 *      return what comes next (the next protocol, a type, a length), or -1
 *      when the packet is too short or malformed.
 *
 * Values read from the packet stay in network byte order unless a comment
 * says otherwise: compare them with bpf_htons(CONSTANT), not the reverse.
 *
 * The helpers are `static __always_inline`: BPF programs of this lesson
 * are single functions, and inlining lets the verifier track the packet
 * pointers straight through.
 */
#ifndef PARSING_HELPERS_H
#define PARSING_HELPERS_H

#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "packet_defs.h"

/*
 * Ethernet header, then up to VLAN_MAX_DEPTH VLAN tags (802.1Q or 802.1ad).
 * Returns the ethertype after the tags (network byte order), or -1.
 * A frame with more tags than that returns a VLAN ethertype, which no
 * caller here treats as IP: the packet is then simply not parsed further.
 * `vlans` may be NULL; otherwise it receives the VLAN IDs seen.
 */
static __always_inline int parse_ethhdr_vlan(struct hdr_cursor *nh,
					     void *data_end,
					     struct ethhdr **ethhdr,
					     struct collect_vlans *vlans)
{
	struct ethhdr *eth = nh->pos;
	int hdrsize = sizeof(*eth);
	struct vlan_hdr *vlh;
	__be16 h_proto;
	int i;

	/* The whole header must be in the packet. */
	if (nh->pos + hdrsize > data_end)
		return -1;

	nh->pos += hdrsize;
	*ethhdr = eth;
	vlh = nh->pos;
	h_proto = eth->h_proto;

	/*
	 * The verifier needs a loop it can see the end of: the bound is a
	 * constant and the loop is unrolled, one copy of the body per tag.
	 */
#pragma unroll
	for (i = 0; i < VLAN_MAX_DEPTH; i++) {
		if (!proto_is_vlan(h_proto))
			break;

		/* vlh is a struct vlan_hdr *, so vlh + 1 is 4 bytes on:
		 * the whole tag. A tag cut short is a malformed frame. */
		if ((void *)(vlh + 1) > data_end)
			return -1;

		h_proto = vlh->h_vlan_encapsulated_proto;
		if (vlans)
			vlans->id[i] = bpf_ntohs(vlh->h_vlan_TCI) & VLAN_VID_MASK;
		vlh++;
	}

	nh->pos = vlh;
	return h_proto; /* network byte order */
}

/* IPv4. Returns the protocol of the payload (IPPROTO_*), or -1. */
static __always_inline int parse_iphdr(struct hdr_cursor *nh, void *data_end,
				       struct iphdr **iphdr)
{
	struct iphdr *iph = nh->pos;
	int hdrsize;

	/* First the fixed 20 bytes: ihl may only be read once they are known
	 * to be there. */
	if ((void *)(iph + 1) > data_end)
		return -1;

	/*
	 * The real header length is ihl 32-bit words: 20 bytes, or up to 60
	 * with options. Below 5 words the header would end inside its own
	 * fixed part -- malformed, and the kernel drops such packets too.
	 */
	hdrsize = iph->ihl * 4;
	if (hdrsize < (int)sizeof(*iph))
		return -1;

	/* Then the options, if any: the payload starts after them. */
	if (nh->pos + hdrsize > data_end)
		return -1;

	nh->pos += hdrsize;
	*iphdr = iph;
	return iph->protocol;
}

/*
 * IPv6: a fixed 40-byte header. Returns nexthdr (IPPROTO_*), or -1.
 * Extension headers are not followed: a packet with any shows up as that
 * extension header's number, and callers leave it alone.
 */
static __always_inline int parse_ip6hdr(struct hdr_cursor *nh, void *data_end,
					struct ipv6hdr **ip6hdr)
{
	struct ipv6hdr *ip6h = nh->pos;

	/* ip6h + 1 is sizeof(struct ipv6hdr) = 40 bytes on. */
	if ((void *)(ip6h + 1) > data_end)
		return -1;

	nh->pos = ip6h + 1;
	*ip6hdr = ip6h;
	return ip6h->nexthdr;
}

/*
 * ICMP (v4). Returns the ICMP type, or -1. The 8 bytes checked include the
 * echo id and sequence, so an echo request's sequence can be read at once.
 */
static __always_inline int parse_icmphdr(struct hdr_cursor *nh, void *data_end,
					 struct icmphdr **icmphdr)
{
	struct icmphdr *icmph = nh->pos;

	if ((void *)(icmph + 1) > data_end)
		return -1;

	nh->pos = icmph + 1;
	*icmphdr = icmph;
	return icmph->type;
}

/* ICMPv6. Returns the ICMPv6 type, or -1. Also 8 bytes, echo fields included. */
static __always_inline int parse_icmp6hdr(struct hdr_cursor *nh,
					  void *data_end,
					  struct icmp6hdr **icmp6hdr)
{
	struct icmp6hdr *icmp6h = nh->pos;

	if ((void *)(icmp6h + 1) > data_end)
		return -1;

	nh->pos = icmp6h + 1;
	*icmp6hdr = icmp6h;
	return icmp6h->icmp6_type;
}

/*
 * UDP: 8 bytes. Transport headers have no "next protocol", so this returns
 * the payload length the header claims (host byte order), or -1 when the
 * header is cut short or claims less than its own 8 bytes.
 */
static __always_inline int parse_udphdr(struct hdr_cursor *nh, void *data_end,
					struct udphdr **udphdr)
{
	struct udphdr *h = nh->pos;
	int len;

	if ((void *)(h + 1) > data_end)
		return -1;

	/* udp->len counts the header too. */
	len = bpf_ntohs(h->len) - (int)sizeof(*h);
	if (len < 0)
		return -1;

	nh->pos = h + 1;
	*udphdr = h;
	return len;
}

/*
 * TCP: 20 bytes, or up to 60 with options. Returns the header length in
 * bytes (like parse_iphdr, from a field counted in 32-bit words), or -1.
 */
static __always_inline int parse_tcphdr(struct hdr_cursor *nh, void *data_end,
					struct tcphdr **tcphdr)
{
	struct tcphdr *h = nh->pos;
	int len;

	/* The fixed part first: doff is in it. */
	if ((void *)(h + 1) > data_end)
		return -1;

	/* doff < 5 would end the header inside its fixed part: malformed. */
	len = h->doff * 4;
	if (len < (int)sizeof(*h))
		return -1;

	/* Then the options. */
	if (nh->pos + len > data_end)
		return -1;

	nh->pos += len;
	*tcphdr = h;
	return len;
}

#endif /* PARSING_HELPERS_H */
