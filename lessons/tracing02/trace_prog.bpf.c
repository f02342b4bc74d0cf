// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson tracing02: more of the xdp:* tracepoints. See README.md.
 * tracing01's exception counter is done; the redirect events are yours.
 * Load, attach and watch: xdp-loader monitor trace_prog.o
 * (the event formats: /sys/kernel/tracing/events/xdp/<event>/format)
 */
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>

/* Exceptions per XDP action (XDP_ABORTED .. XDP_REDIRECT, and unknown). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 6);
} exception_cnt SEC(".maps");

/* Redirects: key 0 counts the ones that worked, key 1 the failed ones. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 2);
} redirect_err_cnt SEC(".maps");

/* Frames a devmap sent and dropped, in batches (one slot). */
struct devmap_xmit_rec {
	__u64 sent;
	__u64 drops;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct devmap_xmit_rec);
	__uint(max_entries, 1);
} devmap_xmit_cnt SEC(".maps");

struct xdp_exception_ctx {
	__u64 __common;
	__s32 prog_id;
	__u32 act;
	__s32 ifindex;
};

/* events/xdp/xdp_redirect/format and xdp_redirect_err/format */
struct xdp_redirect_ctx {
	__u64 __common;
	__s32 prog_id;
	__u32 act;
	__s32 ifindex;
	__s32 err;
	__s32 to_ifindex;
	__u32 map_id;
	__s32 map_index;
};

/* events/xdp/xdp_devmap_xmit/format */
struct xdp_devmap_xmit_ctx {
	__u64 __common;
	__s32 from_ifindex;
	__u32 act;
	__s32 to_ifindex;
	__s32 drops;
	__s32 sent;
	__s32 err;
};

SEC("tracepoint/xdp/xdp_exception")
int trace_xdp_exception(struct xdp_exception_ctx *ctx)
{
	__u32 key = ctx->act < 5 ? ctx->act : 5;
	__u64 *count = bpf_map_lookup_elem(&exception_cnt, &key);

	if (count)
		(*count)++;
	return 0;
}

/*
 * TODO 1: two programs, trace_xdp_redirect on tracepoint/xdp/xdp_redirect
 *         and trace_xdp_redirect_err on tracepoint/xdp/xdp_redirect_err,
 *         both taking struct xdp_redirect_ctx: count each event in
 *         redirect_err_cnt, at key 1 when ctx->err is set, else key 0.
 */

/*
 * TODO 2: trace_xdp_devmap_xmit on tracepoint/xdp/xdp_devmap_xmit: add
 *         ctx->sent and ctx->drops to devmap_xmit_cnt[0].
 */

char LICENSE[] SEC("license") = "GPL";
