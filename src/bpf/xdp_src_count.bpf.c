// SPDX-License-Identifier: GPL-2.0
/*
 * Packets per source address (the Go walkthrough's example): a HASH map
 * whose key is the sender's IP address and whose value is a packet count.
 *
 * Unlike the per-action ARRAY of basic03, a hash map has no entry until the
 * program creates one, so the first packet from an address inserts it.
 * IPv4 addresses are stored IPv4-mapped (::ffff:a.b.c.d), so one 16-byte
 * key holds both families; user space prints them in their own form.
 * Every packet passes.
 */
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "parsing_helpers.h"
#include "xdp_stats_kern.h"

struct src_key {
	__u8 addr[16];	/* IPv6, or IPv4-mapped IPv6 */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct src_key);
	__type(value, __u64);
	__uint(max_entries, 1024);
} src_counts SEC(".maps");

static __always_inline void count_source(const struct src_key *key)
{
	__u64 one = 1, *packets;

	packets = bpf_map_lookup_elem(&src_counts, key);
	if (packets) {
		/* Shared by all CPUs (not per-CPU): add atomically. */
		__sync_fetch_and_add(packets, 1);
		return;
	}
	/* First packet from this address. Another CPU may insert it at the
	 * same moment; BPF_NOEXIST then fails here and this packet is lost to
	 * the count, which is the price of not taking a lock. When the map is
	 * full, the update fails too and the address is not counted. */
	bpf_map_update_elem(&src_counts, key, &one, BPF_NOEXIST);
}

SEC("xdp")
int xdp_src_count_func(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct hdr_cursor nh = { .pos = data };
	struct src_key key = {};
	struct ipv6hdr *ip6h;
	struct ethhdr *eth;
	struct iphdr *iph;
	int eth_type;

	eth_type = parse_ethhdr_vlan(&nh, data_end, &eth, NULL);
	if (eth_type == bpf_htons(ETH_P_IPV6)) {
		if (parse_ip6hdr(&nh, data_end, &ip6h) < 0)
			goto out;
		__builtin_memcpy(key.addr, &ip6h->saddr, sizeof(key.addr));
	} else if (eth_type == bpf_htons(ETH_P_IP)) {
		if (parse_iphdr(&nh, data_end, &iph) < 0)
			goto out;
		key.addr[10] = 0xff;
		key.addr[11] = 0xff;
		__builtin_memcpy(&key.addr[12], &iph->saddr, 4);
	} else {
		goto out; /* ARP and others: no IP source address */
	}
	count_source(&key);
out:
	return xdp_stats_record_action(ctx, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
