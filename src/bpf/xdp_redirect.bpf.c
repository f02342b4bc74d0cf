// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson packet03: sending packets elsewhere.
 *
 * Besides PASS and DROP, an XDP program can send a packet back out of the
 * interface it came in on (XDP_TX) or out of another one (XDP_REDIRECT),
 * without the network stack ever seeing it. Five programs:
 *
 *   xdp_icmp_echo_func     answers pings itself, with XDP_TX
 *   xdp_redirect_func      sends everything to the interface configured
 *                          in the map redirect_target (bpf_redirect)
 *   xdp_redirect_map_func  forwards by source MAC: redirect_params gives
 *                          the new destination MAC, tx_port the interface
 *                          (bpf_redirect_map)
 *   xdp_router_func        an IPv4/IPv6 router: asks the kernel's routing
 *                          and neighbour tables (bpf_fib_lookup)
 *   xdp_pass_func          passes everything. A packet sent out of a
 *                          veth with XDP_TX or a redirect is dropped unless
 *                          the peer veth has an XDP program too (newer
 *                          kernels also take GRO on the peer): load this
 *                          one there.
 *
 * The maps have no pinning attribute: xdp-loader pins every map of the
 * object under /sys/fs/bpf/<ifname>/, where the user fills them.
 */
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "parsing_helpers.h"
#include "rewrite_helpers.h"
#include "xdp_stats_kern.h"

/*
 * Value of redirect_target. Userspace writes it with a struct of the same
 * layout: ifindex at offset 0, dest_mac at offset 4, 12 bytes in all (the
 * explicit pad makes the size the same on every compiler).
 */
struct redirect_target {
	__u32 ifindex;			/* 0: not configured, pass */
	__u8 dest_mac[ETH_ALEN];	/* all zero: keep the frame's own */
	__u8 pad[2];
};
_Static_assert(sizeof(struct redirect_target) == 12, "layout shared with userspace");
_Static_assert(__builtin_offsetof(struct redirect_target, dest_mac) == 4,
	       "layout shared with userspace");

/* One entry, key 0: where xdp_redirect_func sends packets. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct redirect_target);
	__uint(max_entries, 1);
} redirect_target SEC(".maps");

/* Source MAC -> new destination MAC, for xdp_redirect_map_func. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u8[ETH_ALEN]);
	__type(value, __u8[ETH_ALEN]);
	__uint(max_entries, 16);
} redirect_params SEC(".maps");

/*
 * Egress interfaces for bpf_redirect_map: slot -> ifindex. A DEVMAP holds
 * a reference to each device, so the kernel can send in batches and the
 * update fails for an ifindex that does not exist.
 */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 256);
} tx_port SEC(".maps");

SEC("xdp")
int xdp_icmp_echo_func(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct hdr_cursor nh = { .pos = data };
	struct ethhdr *eth;
	struct iphdr *iph;
	struct ipv6hdr *ip6h;
	struct icmphdr *icmph;
	struct icmp6hdr *icmp6h;
	__u32 action = XDP_PASS;
	int eth_type, ip_type;
	__be16 old_word;

	eth_type = parse_ethhdr_vlan(&nh, data_end, &eth, NULL);

	if (eth_type == bpf_htons(ETH_P_IP)) {
		ip_type = parse_iphdr(&nh, data_end, &iph);
		if (ip_type != IPPROTO_ICMP)
			goto out;
		if (parse_icmphdr(&nh, data_end, &icmph) != ICMP_ECHO)
			goto out;

		swap_src_dst_ipv4(iph);

		/*
		 * type and code form the first 16-bit word of the ICMP header;
		 * the checksum covers it, so update the sum for that one word
		 * (RFC 1624). Everything else -- id, sequence, payload -- is
		 * sent back as it came.
		 */
		old_word = *(__be16 *)icmph;
		icmph->type = ICMP_ECHOREPLY;
		csum_replace2(&icmph->checksum, old_word, *(__be16 *)icmph);
	} else if (eth_type == bpf_htons(ETH_P_IPV6)) {
		ip_type = parse_ip6hdr(&nh, data_end, &ip6h);
		if (ip_type != IPPROTO_ICMPV6)
			goto out;
		if (parse_icmp6hdr(&nh, data_end, &icmp6h) != ICMPV6_ECHO_REQUEST)
			goto out;

		/* The ICMPv6 checksum also covers a pseudo-header with both
		 * addresses, but swapping them leaves their sum the same: again
		 * only the type changes the checksum. */
		swap_src_dst_ipv6(ip6h);

		old_word = *(__be16 *)icmp6h;
		icmp6h->icmp6_type = ICMPV6_ECHO_REPLY;
		csum_replace2(&icmp6h->icmp6_cksum, old_word, *(__be16 *)icmp6h);
	} else {
		goto out;
	}

	/* Back to where it came from, out of the same interface. */
	swap_src_dst_mac(eth);
	action = XDP_TX;
out:
	return xdp_stats_record_action(ctx, action);
}

SEC("xdp")
int xdp_redirect_func(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	struct redirect_target *target;
	__u32 action = XDP_PASS;
	__u32 key = 0;
	int i, mac_set = 0;

	/* An ARRAY lookup with key < max_entries always succeeds, but the
	 * verifier wants the NULL check all the same. */
	target = bpf_map_lookup_elem(&redirect_target, &key);
	if (!target || !target->ifindex)
		goto out;

	if ((void *)(eth + 1) > data_end)
		goto out;

	/* A constant-bound loop: unrolled by clang, fine for the verifier. */
	for (i = 0; i < ETH_ALEN; i++)
		mac_set |= target->dest_mac[i];
	if (mac_set)
		__builtin_memcpy(eth->h_dest, target->dest_mac, ETH_ALEN);

	/* bpf_redirect() only records the target and returns XDP_REDIRECT:
	 * the kernel sends the packet after the program returns. */
	action = bpf_redirect(target->ifindex, 0);
out:
	return xdp_stats_record_action(ctx, action);
}

SEC("xdp")
int xdp_redirect_map_func(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	__u32 action = XDP_PASS;
	__u8 *dst;

	if ((void *)(eth + 1) > data_end)
		goto out;

	/* The key can point straight into the packet: the bounds check
	 * above covers h_source's 6 bytes. */
	dst = bpf_map_lookup_elem(&redirect_params, eth->h_source);
	if (!dst)
		goto out;

	__builtin_memcpy(eth->h_dest, dst, ETH_ALEN);

	/*
	 * Slot 0 of tx_port names the egress interface. The low bits of the
	 * last argument are the verdict when the slot is empty: 0 gives
	 * XDP_ABORTED, which shows up on the xdp:xdp_exception tracepoint.
	 */
	action = bpf_redirect_map(&tx_port, 0, 0);
out:
	return xdp_stats_record_action(ctx, action);
}

/*
 * The TTL is the high byte of the 16-bit word (ttl, protocol). Lowering it
 * by one lowers the header's sum by 0x0100, so the checksum (the sum's
 * complement) grows by 0x0100; a carry out of 16 bits wraps round to bit 0.
 * The kernel's ip_decrease_ttl(), word for word.
 */
static __always_inline int ip_decrease_ttl(struct iphdr *iph)
{
	__u32 check = (__u32)iph->check;

	check += (__u32)bpf_htons(0x0100);
	iph->check = (__sum16)(check + (check >= 0xFFFF));
	return --iph->ttl;
}

/* The flow label and traffic class: the first 32-bit word minus version. */
#define IPV6_FLOWINFO_MASK bpf_htonl(0x0FFFFFFF)

SEC("xdp")
int xdp_router_func(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct hdr_cursor nh = { .pos = data };
	struct bpf_fib_lookup fib = {};
	struct ethhdr *eth = data;
	struct iphdr *iph = NULL;
	struct ipv6hdr *ip6h = NULL;
	__u32 action = XDP_PASS;
	int eth_type;
	long rc;

	/*
	 * Plain Ethernet only: a VLAN-tagged frame (h_proto is a TPID) is
	 * left to the kernel, which knows which VLAN device it belongs to.
	 */
	if ((void *)(eth + 1) > data_end)
		goto out;
	eth_type = eth->h_proto;
	nh.pos = eth + 1;

	if (eth_type == bpf_htons(ETH_P_IP)) {
		if (parse_iphdr(&nh, data_end, &iph) < 0)
			goto out;

		/* A TTL that would reach 0 here: let the kernel drop the
		 * packet and send the ICMP "time exceeded" traceroute needs. */
		if (iph->ttl <= 1)
			goto out;

		fib.family = AF_INET;
		fib.tos = iph->tos;
		fib.l4_protocol = iph->protocol;
		fib.tot_len = bpf_ntohs(iph->tot_len); /* for the MTU check */
		fib.ipv4_src = iph->saddr;
		fib.ipv4_dst = iph->daddr;
	} else if (eth_type == bpf_htons(ETH_P_IPV6)) {
		if (parse_ip6hdr(&nh, data_end, &ip6h) < 0)
			goto out;

		if (ip6h->hop_limit <= 1)
			goto out;

		fib.family = AF_INET6;
		fib.flowinfo = *(__be32 *)ip6h & IPV6_FLOWINFO_MASK;
		fib.l4_protocol = ip6h->nexthdr;
		fib.tot_len = bpf_ntohs(ip6h->payload_len);
		__builtin_memcpy(fib.ipv6_src, &ip6h->saddr, sizeof(fib.ipv6_src));
		__builtin_memcpy(fib.ipv6_dst, &ip6h->daddr, sizeof(fib.ipv6_dst));
	} else {
		goto out;
	}

	/* The route lookup is done as if the packet arrived on this
	 * interface: its forwarding setting and policy rules apply. */
	fib.ifindex = ctx->ingress_ifindex;

	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	switch (rc) {
	case BPF_FIB_LKUP_RET_SUCCESS:
		/* A route and a neighbour: forward it ourselves. */
		if (iph)
			ip_decrease_ttl(iph);
		else if (ip6h)
			ip6h->hop_limit--;

		__builtin_memcpy(eth->h_dest, fib.dmac, ETH_ALEN);
		__builtin_memcpy(eth->h_source, fib.smac, ETH_ALEN);
		action = bpf_redirect(fib.ifindex, 0);
		break;
	case BPF_FIB_LKUP_RET_BLACKHOLE:	/* the route says: discard */
	case BPF_FIB_LKUP_RET_UNREACHABLE:	/* the route says: unreachable */
	case BPF_FIB_LKUP_RET_PROHIBIT:		/* the route says: forbidden */
		action = XDP_DROP;
		break;
	default:
		/*
		 * NOT_FWDED (for this host, or no route), FWD_DISABLED
		 * (forwarding off on the ingress interface), NO_NEIGH (next
		 * hop's MAC not known yet: the kernel will resolve it),
		 * FRAG_NEEDED, UNSUPP_LWT, NO_SRC_ADDR, errors: all cases the
		 * kernel handles better. Pass.
		 */
		break;
	}
out:
	return xdp_stats_record_action(ctx, action);
}

SEC("xdp")
int xdp_pass_func(struct xdp_md *ctx)
{
	return xdp_stats_record_action(ctx, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
