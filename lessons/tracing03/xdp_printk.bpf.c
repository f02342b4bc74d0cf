// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson tracing03: printing from an XDP program with bpf_printk(). See
 * README.md. Read the lines with `xdp-loader trace` while you ping.
 */
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "parsing_helpers.h"
#include "xdp_stats_kern.h"

/* bpf_printk() has no conversion for a MAC address: pack one into a
 * 64-bit number, addr[0] in the lowest byte (what xdp-loader trace and
 * the C tutorial's trace_read decode). */
static __always_inline __u64 ether_addr_to_u64(const __u8 *addr)
{
	__u64 u = 0;
	int i;

	for (i = ETH_ALEN - 1; i >= 0; i--)
		u = u << 8 | addr[i];
	return u;
}

SEC("xdp")
int xdp_printk_func(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return xdp_stats_record_action(ctx, XDP_PASS);

	/*
	 * TODO 1: print one line per packet with bpf_printk(), in exactly
	 *         this format, which `xdp-loader trace` decodes:
	 *             "src: %llu, dst: %llu, proto: %u\n"
	 *         the source MAC, the destination MAC (ether_addr_to_u64()),
	 *         and the ethertype in host byte order (bpf_ntohs()).
	 */
	(void)ether_addr_to_u64;	/* silences "unused": remove once called */

	return xdp_stats_record_action(ctx, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
