// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson experiment01: changing a packet's length at its tail, and frames
 * larger than a page (the C tutorial's experiment01-tailgrow).
 *
 * bpf_xdp_adjust_tail(ctx, delta) moves data_end by delta bytes: positive
 * grows the packet into the tailroom the driver left after it, negative
 * shrinks it. Afterwards every packet pointer taken before the call is
 * invalid (the verifier forgets them): reload data and data_end from ctx.
 *
 * The programs (pick one with -n):
 *  - xdp_tailgrow_parse: grows every packet by a 10-byte trailer and, in
 *    IPv4 ICMP packets, writes a timestamp there ("TS" + bpf_ktime_get_ns),
 *    right after the IP packet, where tcpdump shows it;
 *  - xdp_tailgrow: grows by 10 bytes and passes;
 *  - xdp_tailshrink: cuts the last 4 bytes off and passes;
 *  - xdp_tailgrow_tx: grows by 32 bytes and sends the frame back (XDP_TX);
 *  - xdp_tx: sends the frame back unchanged (the baseline of the above);
 *  - xdp_frags_count: SEC("xdp.frags"), passes frames of any size, also
 *    those in several buffers (MTU 9000), counting their whole length.
 * All count their verdict in xdp_stats_map (`xdp-loader stats IF`).
 */
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "parsing_helpers.h"
#include "xdp_stats_kern.h"

#define ETH_P_IP 0x0800
#define IPPROTO_ICMP 1

struct timestamp_trailer {
	__u16 magic;	/* 0x5354: "TS" in the frame */
	__u64 time;	/* bpf_ktime_get_ns() */
} __attribute__((packed));

SEC("xdp")
int xdp_tailgrow_parse(struct xdp_md *ctx)
{
	const int grow = sizeof(struct timestamp_trailer);
	struct hdr_cursor nh;
	struct ethhdr *eth;
	struct iphdr *iph;
	struct timestamp_trailer *ts;
	void *data, *data_end;
	__u32 ip_len;

	if (bpf_xdp_adjust_tail(ctx, grow))
		return xdp_stats_record_action(ctx, XDP_PASS);
	/* The old pointers are gone: read them again. */
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	nh.pos = data;

	if (parse_ethhdr_vlan(&nh, data_end, &eth, NULL) != bpf_htons(ETH_P_IP))
		return xdp_stats_record_action(ctx, XDP_PASS);
	if (parse_iphdr(&nh, data_end, &iph) != IPPROTO_ICMP)
		return xdp_stats_record_action(ctx, XDP_PASS);

	/* The trailer goes right after the IP packet. Its length comes from
	 * the packet, so the verifier knows nothing about it: give it bounds
	 * both ways (at least a header, at most 4095) ... */
	ip_len = bpf_ntohs(iph->tot_len);
	if (ip_len < sizeof(*iph))
		return xdp_stats_record_action(ctx, XDP_PASS);
	ip_len &= 0xfff;
	/* ... and compare the exact bytes written with data_end. */
	ts = (void *)iph + ip_len;
	if ((void *)(ts + 1) > data_end)
		return xdp_stats_record_action(ctx, XDP_ABORTED);
	ts->magic = 0x5354;
	ts->time = bpf_ktime_get_ns();
	return xdp_stats_record_action(ctx, XDP_PASS);
}

SEC("xdp")
int xdp_tailgrow(struct xdp_md *ctx)
{
	bpf_xdp_adjust_tail(ctx, 10);
	return xdp_stats_record_action(ctx, XDP_PASS);
}

SEC("xdp")
int xdp_tailshrink(struct xdp_md *ctx)
{
	bpf_xdp_adjust_tail(ctx, -4);
	return xdp_stats_record_action(ctx, XDP_PASS);
}

SEC("xdp")
int xdp_tailgrow_tx(struct xdp_md *ctx)
{
	/* The kernel zeroes the grown bytes (a memset: what this costs is
	 * what xdp_tx next to it measures). */
	if (bpf_xdp_adjust_tail(ctx, 32))
		return xdp_stats_record_action(ctx, XDP_DROP);
	return xdp_stats_record_action(ctx, XDP_TX);
}

SEC("xdp")
int xdp_tx(struct xdp_md *ctx)
{
	return xdp_stats_record_action(ctx, XDP_TX);
}

SEC("xdp.frags")
int xdp_frags_count(struct xdp_md *ctx)
{
	__u32 action = XDP_PASS;
	struct datarec *rec = bpf_map_lookup_elem(&xdp_stats_map, &action);

	/* data_end - data is only the first buffer; the helper adds the
	 * fragments. */
	if (rec) {
		rec->rx_packets++;
		rec->rx_bytes += bpf_xdp_get_buff_len(ctx);
	}
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
