// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson advanced01: XDP and tc working together through metadata (the C
 * tutorial's advanced01-xdp-tc-interact, after the kernel's
 * samples/bpf/xdp2skb_meta).
 *
 * XDP runs before the kernel has an skb. bpf_xdp_adjust_meta() reserves
 * bytes in front of the packet (the metadata area, up to 32 bytes) that
 * travel with it into the skb; a tc program at ingress reads them through
 * skb->data_meta. So XDP can classify once, cheaply, and tc (which can do
 * what XDP cannot: set skb->mark, use the qdisc layer) acts on the result.
 *
 * Here: xdp_meta_mark writes { magic, UDP destination port } in front of
 * every UDP datagram; tc_meta_read copies the port into skb->mark and drops
 * datagrams to port 9 (discard). Both count in meta_counters, which they
 * share: that is also how `xdp-loader unload` knows the tc filter belongs
 * with the XDP program it removes.
 */
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "parsing_helpers.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_UDP 17
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2

#define META_MAGIC 0x6d657461 /* "meta" */
#define DISCARD_PORT 9

/* What XDP leaves for tc: a multiple of 4 bytes, at most 32. */
struct meta_info {
	__u32 magic;
	__u32 mark;
};

/* [0] XDP marked, [1] tc saw marked, [2] tc saw unmarked, [3] tc dropped */
enum { XDP_MARKED, TC_SAW_MARKED, TC_SAW_UNMARKED, TC_DROPPED, COUNTERS };
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, COUNTERS);
} meta_counters SEC(".maps");

static __always_inline void count(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&meta_counters, &slot);

	if (n)
		*n += 1;
}

/* The UDP destination port of an IPv4 or IPv6 datagram, or -1. */
static __always_inline int udp_dest_port(void *data, void *data_end)
{
	struct hdr_cursor nh = { .pos = data };
	struct ethhdr *eth;
	struct iphdr *iph;
	struct ipv6hdr *ip6h;
	struct udphdr *udph;
	int eth_type, ip_type;

	eth_type = parse_ethhdr_vlan(&nh, data_end, &eth, NULL);
	if (eth_type == bpf_htons(ETH_P_IP))
		ip_type = parse_iphdr(&nh, data_end, &iph);
	else if (eth_type == bpf_htons(ETH_P_IPV6))
		ip_type = parse_ip6hdr(&nh, data_end, &ip6h);
	else
		return -1;
	if (ip_type != IPPROTO_UDP || parse_udphdr(&nh, data_end, &udph) < 0)
		return -1;
	return bpf_ntohs(udph->dest);
}

SEC("xdp")
int xdp_meta_mark(struct xdp_md *ctx)
{
	struct meta_info *meta;
	void *data;
	int port;

	port = udp_dest_port((void *)(long)ctx->data, (void *)(long)ctx->data_end);
	if (port < 0)
		return XDP_PASS;
	/* A negative delta grows the metadata area in front of the packet. */
	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*meta)))
		return XDP_PASS;
	/* adjust_meta invalidated the packet pointers: read them again. */
	data = (void *)(long)ctx->data;
	meta = (void *)(long)ctx->data_meta;
	if ((void *)(meta + 1) > data)
		return XDP_PASS;
	meta->magic = META_MAGIC;
	meta->mark = port;
	count(XDP_MARKED);
	return XDP_PASS;
}

SEC("tc")
int tc_meta_read(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	struct meta_info *meta = (void *)(long)skb->data_meta;

	/* No metadata (the packet did not pass through xdp_meta_mark, or it
	 * was not UDP): data_meta == data. */
	if ((void *)(meta + 1) > data || meta->magic != META_MAGIC) {
		count(TC_SAW_UNMARKED);
		return TC_ACT_OK;
	}
	count(TC_SAW_MARKED);
	skb->mark = meta->mark;
	if (meta->mark == DISCARD_PORT) {
		count(TC_DROPPED);
		return TC_ACT_SHOT;
	}
	return TC_ACT_OK;
}

char _license[] SEC("license") = "GPL";
