// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson tracing04: copying packets to user space (a tiny tcpdump).
 *
 * bpf_perf_event_output() pushes a record into a per-CPU perf ring buffer
 * that user space polls (`xdp-loader capture`, which writes a pcap file).
 * From an XDP program it can do more than copy a struct: the upper 32 bits
 * of `flags` ask the kernel to append that many bytes of the packet itself
 * to the record, so no bounds-checked copy loop is needed here.
 *
 * Every packet passes: capturing must not change what the host receives.
 */
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>
#include "xdp_stats_kern.h"

/* What precedes the packet bytes in each record (read by src/capture). */
struct capture_meta {
	__u64 timestamp_ns;	/* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 pkt_len;		/* the frame's length on the wire */
	__u32 cap_len;		/* how many bytes of it follow */
};

/* One perf ring per CPU: libbpf sizes it to the number of CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
} capture_events SEC(".maps");

/* Slot 0: the snap length, written by the loader before it attaches. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} capture_config SEC(".maps");

/* The kernel copies at most this much packet data into one record. */
#define MAX_SNAPLEN 0xffff

SEC("xdp")
int xdp_capture_func(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	__u32 key = 0, *snaplen;
	struct capture_meta meta;
	__u64 flags;

	meta.timestamp_ns = bpf_ktime_get_ns();
	meta.pkt_len = data_end - data;
	meta.cap_len = meta.pkt_len;
	snaplen = bpf_map_lookup_elem(&capture_config, &key);
	if (snaplen && *snaplen && meta.cap_len > *snaplen)
		meta.cap_len = *snaplen;
	if (meta.cap_len > MAX_SNAPLEN)
		meta.cap_len = MAX_SNAPLEN;

	/* BPF_F_CURRENT_CPU: this CPU's ring; bits 32-51: packet bytes to add. */
	flags = BPF_F_CURRENT_CPU | ((__u64)meta.cap_len << 32);
	bpf_perf_event_output(ctx, &capture_events, flags, &meta, sizeof(meta));

	return xdp_stats_record_action(ctx, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
