// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson maps: maps of maps. See README.md. The outer maps hold inner
 * maps; the program looks an inner map up, then uses it like any map.
 * The maps and helpers are declared; using them is yours.
 */
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "parsing_helpers.h"
#include "xdp_stats_kern.h"

/* The slot for frames that are not IPv4 or IPv6. */
#define NOT_IP 255

/* The inner maps' shape: one slot per IP protocol number. */
struct proto_counts_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct datarec);
	__uint(max_entries, 256);
};

struct proto_counts_map proto_counts SEC(".maps");

/* One slot: the inner map in use (starts as proto_counts). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__type(key, __u32);
	__uint(max_entries, 1);
	__array(values, struct proto_counts_map);
} counters SEC(".maps") = {
	.values = { [0] = &proto_counts },
};

/* Ingress ifindex -> inner map, for interfaces user space asked to count. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__type(key, __u32);
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

/* Adds a frame of `bytes` to slot `proto` of the inner map `inner`. The
 * inner maps are shared by all CPUs, hence the atomic adds. */
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
	__u32 proto = ip_protocol(ctx);

	/*
	 * TODO 1: look up slot 0 of `counters`: the lookup returns the inner
	 *         map itself. If there is one, count() the frame in it.
	 */

	/*
	 * TODO 2: look up ctx->ingress_ifindex in `counters_by_ifindex`, and
	 *         count() the frame there too when user space has put an
	 *         inner map for this interface.
	 */
	(void)count;
	(void)bytes;
	(void)proto;

	return xdp_stats_record_action(ctx, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
