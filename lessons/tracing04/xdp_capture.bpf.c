// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson tracing04: copying packets to user space through a perf buffer
 * (the C tutorial's xdp_sample_pkts). See README.md.
 *
 * Each record is a struct capture_meta followed by the packet's first
 * cap_len bytes; the reader (xdp-loader capture) writes them to a pcap.
 * Every packet passes: capturing must not change what the host receives.
 */
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>
#include "xdp_stats_kern.h"

/* The record header; keep this layout, the reader expects it. */
struct capture_meta {
	__u64 timestamp_ns;	/* bpf_ktime_get_ns() */
	__u32 pkt_len;		/* the frame's length */
	__u32 cap_len;		/* how many of its bytes follow */
};

/* One perf ring per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
} capture_events SEC(".maps");

/* Slot 0: the snap length (0: whole packets), written by the reader. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} capture_config SEC(".maps");

#define MAX_SNAPLEN 0xffff

SEC("xdp")
int xdp_capture_func(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	__u32 key = 0, *snaplen;
	struct capture_meta meta;

	meta.timestamp_ns = bpf_ktime_get_ns();
	meta.pkt_len = data_end - data;
	meta.cap_len = meta.pkt_len;
	snaplen = bpf_map_lookup_elem(&capture_config, &key);
	if (snaplen && *snaplen && meta.cap_len > *snaplen)
		meta.cap_len = *snaplen;
	if (meta.cap_len > MAX_SNAPLEN)
		meta.cap_len = MAX_SNAPLEN;

	/*
	 * TODO 1: send meta, followed by cap_len bytes of the packet, to
	 *         capture_events with bpf_perf_event_output(). Its flags say
	 *         where and what: BPF_F_CURRENT_CPU (this CPU's ring), and in
	 *         the upper 32 bits, how many packet bytes the kernel should
	 *         append after the data you pass.
	 */

	return xdp_stats_record_action(ctx, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
