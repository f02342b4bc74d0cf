// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson tracing01: a BPF program on the xdp:xdp_exception tracepoint
 * (the C tutorial's trace_prog_kern.c). See README.md.
 *
 * The kernel fires xdp:xdp_exception whenever an XDP program returns
 * XDP_ABORTED. This program runs then, with the event's record as its
 * context, and counts the events per interface in xdp_stats_map.
 * Load, attach and watch it with: xdp-loader monitor trace_prog.o
 */
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>

/* Key: the interface index; value: events seen (per CPU). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__type(key, __s32);
	__type(value, __u64);
	__uint(max_entries, 10);
} xdp_stats_map SEC(".maps");

/*
 * The record, as /sys/kernel/tracing/events/xdp/xdp_exception/format lays
 * it out: 8 bytes of fields common to every event, then these.
 */
struct xdp_exception_ctx {
	__u64 __common;
	__s32 prog_id;
	__u32 act;
	__s32 ifindex;
};

SEC("tracepoint/xdp/xdp_exception")
int trace_xdp_exception(struct xdp_exception_ctx *ctx)
{
	/*
	 * TODO 1: count the event under ctx->ifindex: look the key up; if it
	 *         is there, add 1 (a per-CPU value: no atomics needed); if
	 *         not, insert 1 with bpf_map_update_elem(..., BPF_NOEXIST).
	 */
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
