// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson packet03: sending packets elsewhere. See README.md for the
 * assignments; each TODO below names its number.
 *
 * packet01's parsing helpers and packet02's rewrite helpers are finished
 * (parsing_helpers.h, rewrite_helpers.h: swap_src_dst_mac/ipv4/ipv6,
 * csum_replace2). Until a TODO is done, its program passes everything.
 *
 * The maps have the names, keys and values the user-space side expects
 * (xdp-loader redirect, xdp-loader testenv redirect): keep them.
 */
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "parsing_helpers.h"
#include "rewrite_helpers.h"
#include "xdp_stats_kern.h"

/* Where xdp_redirect_func sends packets (key 0), written by
 * `xdp-loader redirect IFNAME --to IFNAME2 [--dest-mac MAC]`. */
struct redirect_target {
	__u32 ifindex;			/* 0: not configured, pass */
	__u8 dest_mac[ETH_ALEN];	/* all zero: keep the frame's own */
	__u8 pad[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct redirect_target);
	__uint(max_entries, 1);
} redirect_target SEC(".maps");

/* Source MAC -> new destination MAC (xdp-loader testenv redirect fills it). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u8[ETH_ALEN]);
	__type(value, __u8[ETH_ALEN]);
	__uint(max_entries, 16);
} redirect_params SEC(".maps");

/* Egress interfaces for bpf_redirect_map(): slot -> ifindex. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 256);
} tx_port SEC(".maps");

/*
 * TODO 1: answer ICMP and ICMPv6 echo requests with XDP_TX: swap the MAC
 *         and IP addresses, make the request a reply (ICMP_ECHOREPLY,
 *         ICMPV6_ECHO_REPLY), update the ICMP checksum for the changed
 *         type (csum_replace2() on the first 16-bit word of the header),
 *         return XDP_TX. Everything else passes. Load it on veth0 inside
 *         the namespace, with xdp_pass_func on the outside end.
 */
SEC("xdp")
int xdp_icmp_echo_func(struct xdp_md *ctx)
{
	__u32 action = XDP_PASS;

	return xdp_stats_record_action(ctx, action);
}

/*
 * TODO 2: send every frame out of the interface in redirect_target[0]
 *         with bpf_redirect(); write its dest_mac into the frame first
 *         unless it is all zero. ifindex 0 (not configured): pass.
 */
SEC("xdp")
int xdp_redirect_func(struct xdp_md *ctx)
{
	__u32 action = XDP_PASS;

	return xdp_stats_record_action(ctx, action);
}

/*
 * TODO 3: look the frame's source MAC up in redirect_params; if it is
 *         there, write the MAC found as the destination and redirect
 *         through slot 0 of tx_port with bpf_redirect_map(). Otherwise
 *         pass. (The key may point straight into the checked packet.)
 */
SEC("xdp")
int xdp_redirect_map_func(struct xdp_md *ctx)
{
	__u32 action = XDP_PASS;

	return xdp_stats_record_action(ctx, action);
}

/* Lowers the IPv4 TTL by one and fixes the header checksum to match
 * (the kernel's ip_decrease_ttl()). For TODO 4. */
static __always_inline int ip_decrease_ttl(struct iphdr *iph)
{
	__u32 check = (__u32)iph->check;

	check += (__u32)bpf_htons(0x0100);
	iph->check = (__sum16)(check + (check >= 0xFFFF));
	return --iph->ttl;
}

/*
 * TODO 4: a router. For IPv4 and IPv6 packets with a TTL (hop limit)
 *         above 1, fill a struct bpf_fib_lookup (family, addresses,
 *         protocol, length, ifindex = ctx->ingress_ifindex) and call
 *         bpf_fib_lookup(). On BPF_FIB_LKUP_RET_SUCCESS: lower the TTL,
 *         copy fib.smac/fib.dmac into the frame, bpf_redirect() to
 *         fib.ifindex. On BLACKHOLE, UNREACHABLE, PROHIBIT: drop. Anything
 *         else passes (the kernel knows better). Needs forwarding on:
 *         sysctl net.ipv6.conf.IFNAME.forwarding=1 (and ipv4).
 */
SEC("xdp")
int xdp_router_func(struct xdp_md *ctx)
{
	__u32 action = XDP_PASS;

	(void)ip_decrease_ttl;
	return xdp_stats_record_action(ctx, action);
}

/* A veth delivers frames sent into it with XDP_TX or a redirect only when
 * its peer runs an XDP program: load this one there. */
SEC("xdp")
int xdp_pass_func(struct xdp_md *ctx)
{
	return xdp_stats_record_action(ctx, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
