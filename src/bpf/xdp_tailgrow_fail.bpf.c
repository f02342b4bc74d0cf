// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson experiment01: reading the end of a packet the ways the verifier
 * refuses (the C tutorial's xdp_prog_fail1..3). Each compiles; none loads.
 * `xdp-loader load IF xdp_tailgrow_fail -n NAME` shows the verifier's words
 * and what they mean; xdp_tailgrow.bpf.c shows the ways that work.
 */
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>

/* The offset of the last byte, from the packet's length: the verifier
 * knows nothing of data_end - data, so as far as it can tell the offset
 * may be anything and the read may be outside the packet. */
SEC("xdp")
int xdp_fail_length_offset(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 len = data_end - data;
	unsigned char *last;

	if (data + len > data_end)
		return XDP_PASS;
	last = data + len - 1;
	return *last == 0xff ? XDP_DROP : XDP_PASS;
}

/* Counting back from data_end: data_end can be compared, never moved. */
SEC("xdp")
int xdp_fail_pkt_end_math(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	volatile unsigned char *last;

	if (data + 2 > data_end)
		return XDP_PASS;
	last = (volatile unsigned char *)data_end - 1;
	return *last == 0xff ? XDP_DROP : XDP_PASS;
}

/* A pointer taken before bpf_xdp_adjust_tail(), used after it. */
SEC("xdp")
int xdp_fail_stale_pointer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	unsigned char *first = data;

	if (data + 1 > data_end)
		return XDP_PASS;
	bpf_xdp_adjust_tail(ctx, 10);
	return *first == 0xff ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
