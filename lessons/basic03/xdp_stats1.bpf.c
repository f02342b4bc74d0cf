// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson basic03: counting packets in a BPF map. See README.md.
 *
 * As shipped, the program counts every packet it passes in slot XDP_PASS
 * of xdp_stats_map, packets only, with one counter shared by all CPUs.
 * Read the map with: bpftool map dump name xdp_stats_map
 */
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>

/* One slot per XDP verdict: XDP_ABORTED (0) .. XDP_REDIRECT (4). */
#define XDP_ACTION_MAX (XDP_REDIRECT + 1)

/* The value of one slot. xdp-loader stats expects the C tutorial's layout
 * once every assignment is done: { __u64 rx_packets; __u64 rx_bytes; }. */
struct datarec {
	__u64 rx_packets;
	/* TODO 1: add a byte counter, __u64 rx_bytes, after rx_packets. */
};

/*
 * TODO 3: make this a BPF_MAP_TYPE_PERCPU_ARRAY. Each CPU then has its own
 *         copy of every slot, so the adds below need no atomic instruction
 *         any more: turn them into plain additions. (The reader sums the
 *         CPUs' copies.)
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct datarec);
	__uint(max_entries, XDP_ACTION_MAX);
} xdp_stats_map SEC(".maps");

/*
 * TODO 2: move the counting into a function
 *             static __always_inline __u32
 *             xdp_stats_record_action(struct xdp_md *ctx, __u32 action)
 *         that counts the packet in the slot of `action` (whatever verdict
 *         it is) and returns `action`, so the program can end with
 *             return xdp_stats_record_action(ctx, XDP_PASS);
 *         An action of XDP_ACTION_MAX or more has no slot: return
 *         XDP_ABORTED for it.
 */

SEC("xdp")
int xdp_stats1_func(struct xdp_md *ctx)
{
	struct datarec *rec;
	__u32 key = XDP_PASS;

	/* The verifier insists on the NULL check, even for a key that exists. */
	rec = bpf_map_lookup_elem(&xdp_stats_map, &key);
	if (!rec)
		return XDP_ABORTED;

	/* Several CPUs may add at the same time: an atomic add. */
	__sync_fetch_and_add(&rec->rx_packets, 1);

	/* TODO 1: and add the packet's length, ctx->data_end - ctx->data. */

	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
