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
#include "xdp_capture.h"
#include "capture_lost.h"

/* One perf ring per CPU: libbpf sizes it to the number of CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
} capture_events SEC(".maps");

SEC("xdp")
int xdp_capture_func(struct xdp_md *ctx)
{
	struct capture_meta meta = capture_meta_of(ctx);
	__u64 flags;

	/* BPF_F_CURRENT_CPU: this CPU's ring; bits 32-51: packet bytes to add. */
	flags = BPF_F_CURRENT_CPU | ((__u64)meta.cap_len << 32);
	/* A full ring refuses the record: count it, so that every packet is
	 * either captured or counted (capture_lost.h says why not only perf's
	 * own lost records). */
	if (bpf_perf_event_output(ctx, &capture_events, flags, &meta, sizeof(meta)))
		capture_count_lost();

	return xdp_stats_record_action(ctx, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
