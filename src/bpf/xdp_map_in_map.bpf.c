// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson maps: maps of maps (map-in-map).
 *
 * A map's value can be another map. The program looks the inner map up in
 * the outer map, then uses it like any map. What makes this useful is that
 * user space can swap the inner map at any time with one update of the
 * outer map: the program counts into the new map from its next packet on,
 * and user space reads the old one at leisure (double buffering), or gives
 * each interface a map of its own.
 *
 * Here the inner maps count packets and bytes per IP protocol: the slot is
 * the protocol number the program parses out of the packet (1 ICMP, 6 TCP,
 * 17 UDP, 58 ICMPv6; NOT_IP for everything else).
 *
 *   counters              ARRAY_OF_MAPS, one slot: the inner map in use.
 *                         Starts with proto_counts in it.
 *   counters_by_ifindex   HASH_OF_MAPS keyed by ingress ifindex: counts
 *                         for an interface only once user space has put an
 *                         inner map there (xdp-loader map new-inner).
 *
 * Only user space may write an outer map: for a BPF program, the verifier
 * allows bpf_map_lookup_elem() on it and nothing else.
 */
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "parsing_helpers.h"
#include "xdp_stats_kern.h"

/* The slot for frames that are not IPv4 or IPv6 (255 is a reserved IP
 * protocol number, so it is free). */
#define NOT_IP 255

/* The inner map's shape. Declared once as a type, it is the template both
 * outer maps use: an inner map must match it (type, key and value size,
 * max_entries) or the kernel refuses to insert it. */
struct proto_counts_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);		/* IP protocol number */
	__type(value, struct datarec);	/* packets and bytes */
	__uint(max_entries, 256);
};

/* The first inner map, created by libbpf with the object. */
struct proto_counts_map proto_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__type(key, __u32);
	__uint(max_entries, 1);
	__array(values, struct proto_counts_map);
} counters SEC(".maps") = {
	/* libbpf puts proto_counts into slot 0 when it loads the object. */
	.values = { [0] = &proto_counts },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__type(key, __u32);		/* ingress ifindex */
	__uint(max_entries, 64);
	__array(values, struct proto_counts_map);
} counters_by_ifindex SEC(".maps");

/* The IP protocol of a frame, or NOT_IP. */
static __always_inline __u32 ip_protocol(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct hdr_cursor nh = { .pos = data };
	struct ethhdr *eth;
	struct iphdr *iph;
	struct ipv6hdr *ip6h;
	int eth_type, proto;

	eth_type = parse_ethhdr_vlan(&nh, data_end, &eth, NULL);
	if (eth_type == bpf_htons(ETH_P_IP))
		proto = parse_iphdr(&nh, data_end, &iph);
	else if (eth_type == bpf_htons(ETH_P_IPV6))
		proto = parse_ip6hdr(&nh, data_end, &ip6h);
	else
		return NOT_IP;
	return proto < 0 ? NOT_IP : proto;
}

/* Adds the frame to slot `proto` of one inner map. Inner arrays are
 * shared by all CPUs (not per-CPU), so the adds are atomic. */
static __always_inline void count(void *inner, __u32 proto, __u64 bytes)
{
	struct datarec *rec = bpf_map_lookup_elem(inner, &proto);

	if (!rec)
		return;
	__sync_fetch_and_add(&rec->rx_packets, 1);
	__sync_fetch_and_add(&rec->rx_bytes, bytes);
}

SEC("xdp")
int xdp_proto_count_func(struct xdp_md *ctx)
{
	__u64 bytes = (long)ctx->data_end - (long)ctx->data;
	__u32 ifindex = ctx->ingress_ifindex;
	__u32 proto = ip_protocol(ctx);
	__u32 slot = 0;
	void *inner;

	/* The lookup returns the inner map itself, ready to use. */
	inner = bpf_map_lookup_elem(&counters, &slot);
	if (inner)
		count(inner, proto, bytes);

	/* No entry for this interface: nobody asked to count it separately. */
	inner = bpf_map_lookup_elem(&counters_by_ifindex, &ifindex);
	if (inner)
		count(inner, proto, bytes);

	return xdp_stats_record_action(ctx, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
