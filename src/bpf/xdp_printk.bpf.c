// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson tracing03: printing from an XDP program.
 *
 * bpf_printk() writes a line into the kernel's trace buffer, which
 * user space reads from /sys/kernel/tracing/trace_pipe (`xdp-loader trace`
 * does, and decodes the line below). It is the printf-debugging of BPF:
 * slow (a formatted write per call) and shared by every program on the
 * machine, so keep it out of programs that handle real traffic.
 *
 * The format string may hold at most three arguments, and only some
 * conversions work (%d %u %x %llu %s %p...). There is no conversion for a
 * MAC address, so each one is packed into a 64-bit number, as the C
 * tutorial does; the reader unpacks it again.
 */
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "parsing_helpers.h"
#include "xdp_stats_kern.h"

/* addr[0] ends up in the lowest byte (the C tutorial's encoding, which the
 * reader expects: `xdp-loader trace` also decodes the tutorial's program). */
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

	/* Too short for an Ethernet header: nothing to print. */
	if ((void *)(eth + 1) > data_end)
		return xdp_stats_record_action(ctx, XDP_PASS);

	/* proto in host byte order, e.g. 34525 (0x86dd) for IPv6. */
	bpf_printk("src: %llu, dst: %llu, proto: %u\n",
		   ether_addr_to_u64(eth->h_source),
		   ether_addr_to_u64(eth->h_dest),
		   bpf_ntohs(eth->h_proto));

	return xdp_stats_record_action(ctx, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
