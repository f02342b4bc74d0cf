/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-action packet and byte counters, shared by every lesson program from
 * basic03 on (the C tutorial's xdp_stats_kern.h).
 *
 * The map name, key, value layout and size are the C tutorial's, so
 * `xdp-loader stats` also reads objects built against the tutorial's
 * header, and the tutorial's xdp_stats reads ours.
 */
#ifndef XDP_STATS_KERN_H
#define XDP_STATS_KERN_H

#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>

/* One counter slot per XDP verdict: XDP_ABORTED .. XDP_REDIRECT. */
#ifndef XDP_ACTION_MAX
#define XDP_ACTION_MAX (XDP_REDIRECT + 1)
#endif

/* Value of one slot. Userspace sums it over all CPUs. */
struct datarec {
	__u64 rx_packets;
	__u64 rx_bytes;
};

/*
 * PERCPU_ARRAY: every CPU has its own copy of each slot, so the program
 * can add to it without atomic instructions and without CPUs fighting
 * over one cache line.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct datarec);
	__uint(max_entries, XDP_ACTION_MAX);
} xdp_stats_map SEC(".maps");

/* Counts the packet under `action` and returns `action`, so a program can
 * end with `return xdp_stats_record_action(ctx, XDP_PASS);`. */
static __always_inline __u32 xdp_stats_record_action(struct xdp_md *ctx, __u32 action)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct datarec *rec;

	if (action >= XDP_ACTION_MAX)
		return XDP_ABORTED;

	/* The lookup cannot fail for an index below max_entries, but the
	 * verifier insists we check the pointer before using it. */
	rec = bpf_map_lookup_elem(&xdp_stats_map, &action);
	if (!rec)
		return XDP_ABORTED;

	/* Per-CPU slot: a plain add is safe, no __sync_fetch_and_add needed. */
	rec->rx_packets++;
	rec->rx_bytes += data_end - data;

	return action;
}

#endif /* XDP_STATS_KERN_H */
