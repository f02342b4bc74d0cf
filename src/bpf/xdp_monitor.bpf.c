// SPDX-License-Identifier: GPL-2.0
/*
 * Lessons tracing01 and tracing02: watching XDP from the outside.
 *
 * The kernel fires tracepoints in the "xdp" group when something notable
 * happens to an XDP packet: a program returned XDP_ABORTED (xdp_exception),
 * a packet was redirected or failed to be (xdp_redirect, xdp_redirect_err),
 * a devmap or cpumap moved a batch of frames (xdp_devmap_xmit,
 * xdp_cpumap_*), an XDP_TX batch went out (xdp_bulk_tx). BPF programs can
 * attach to tracepoints too, so these programs count those events in a map
 * that `xdp-loader monitor` reads: the C tutorial's trace_prog_kern.c and
 * xdp-tools' xdp-monitor.
 *
 * Not every kernel has every tracepoint: xdp_redirect_map and
 * xdp_redirect_map_err were folded into xdp_redirect(_err) in 5.x, and
 * xdp_bulk_tx is newer. The loader checks which exist (and that their
 * fields sit where the structs below say) and loads only those programs.
 *
 * A tracepoint program's context is the event's record as tracefs
 * describes it in /sys/kernel/tracing/events/xdp/<event>/format. The first
 * 8 bytes are fields common to every event, which these programs skip.
 */
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>

/* Which tracepoint an entry counts (the order of MONITOR_EVENTS in Rust). */
enum monitor_event {
	EV_EXCEPTION = 0,
	EV_REDIRECT = 1,
	EV_REDIRECT_ERR = 2,
	EV_DEVMAP_XMIT = 3,
	EV_CPUMAP_ENQUEUE = 4,
	EV_CPUMAP_KTHREAD = 5,
	EV_BULK_TX = 6,
};

/*
 * One map for every event. `from` and `to` are interface indexes, except
 * for the cpumap events, where they are CPU numbers. `err` is the kernel's
 * (negative) errno for failed redirects, else 0.
 */
struct monitor_key {
	__u32 event;
	__s32 from;
	__s32 to;
	__u32 action;
	__s32 err;
};

struct monitor_value {
	__u64 events;	/* times the tracepoint fired */
	__u64 packets;	/* frames it reported (1 per event, or a batch) */
	__u64 drops;	/* frames it reported as dropped */
	__u64 errors;	/* events that carried an error */
};

/* Per-CPU: each CPU adds to its own copy, no atomics; user space sums. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__type(key, struct monitor_key);
	__type(value, struct monitor_value);
	__uint(max_entries, 4096);
} xdp_monitor_map SEC(".maps");

static __always_inline void count(__u32 event, __s32 from, __s32 to, __u32 action, __s32 err,
				  __u64 packets, __u64 drops)
{
	struct monitor_key key = {
		.event = event, .from = from, .to = to, .action = action, .err = err,
	};
	struct monitor_value *value, fresh = {};

	value = bpf_map_lookup_elem(&xdp_monitor_map, &key);
	if (!value) {
		/* First event of its kind: create the entry (another CPU may
		 * have done so a moment ago; BPF_NOEXIST keeps its copy). */
		bpf_map_update_elem(&xdp_monitor_map, &key, &fresh, BPF_NOEXIST);
		value = bpf_map_lookup_elem(&xdp_monitor_map, &key);
		if (!value)
			return; /* map full: the loader says so */
	}
	value->events++;
	value->packets += packets;
	value->drops += drops;
	if (err)
		value->errors++;
}

/* events/xdp/xdp_exception/format (also the first fields of xdp_redirect) */
struct xdp_exception_ctx {
	__u64 __common;
	__s32 prog_id;
	__u32 act;
	__s32 ifindex;
};

/* events/xdp/xdp_redirect{,_err,_map,_map_err}/format */
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

/* events/xdp/xdp_cpumap_enqueue/format and xdp_cpumap_kthread/format */
struct xdp_cpumap_ctx {
	__u64 __common;
	__s32 map_id;
	__u32 act;
	__s32 cpu;
	__u32 drops;
	__u32 processed;
	__s32 to_cpu;	/* enqueue: the target CPU; kthread: "sched" instead */
};

/* events/xdp/xdp_bulk_tx/format */
struct xdp_bulk_tx_ctx {
	__u64 __common;
	__s32 ifindex;
	__u32 act;
	__s32 drops;
	__s32 sent;
	__s32 err;
};

/* An XDP program returned XDP_ABORTED (or an action the driver does not
 * know), and the packet was dropped: the tutorial's tracing01 counts these. */
SEC("tracepoint/xdp/xdp_exception")
int trace_xdp_exception(struct xdp_exception_ctx *ctx)
{
	count(EV_EXCEPTION, ctx->ifindex, 0, ctx->act, 0, 1, 1);
	return 0;
}

static __always_inline int redirect(__u32 event, struct xdp_redirect_ctx *ctx)
{
	/* A failed redirect is a dropped frame. */
	count(event, ctx->ifindex, ctx->to_ifindex, ctx->act, ctx->err, 1, ctx->err ? 1 : 0);
	return 0;
}

SEC("tracepoint/xdp/xdp_redirect")
int trace_xdp_redirect(struct xdp_redirect_ctx *ctx)
{
	return redirect(EV_REDIRECT, ctx);
}

SEC("tracepoint/xdp/xdp_redirect_err")
int trace_xdp_redirect_err(struct xdp_redirect_ctx *ctx)
{
	return redirect(EV_REDIRECT_ERR, ctx);
}

/* Older kernels (before 5.x) reported map-based redirects separately. */
SEC("tracepoint/xdp/xdp_redirect_map")
int trace_xdp_redirect_map(struct xdp_redirect_ctx *ctx)
{
	return redirect(EV_REDIRECT, ctx);
}

SEC("tracepoint/xdp/xdp_redirect_map_err")
int trace_xdp_redirect_map_err(struct xdp_redirect_ctx *ctx)
{
	return redirect(EV_REDIRECT_ERR, ctx);
}

/* A devmap flushed a batch of redirected frames out of `to_ifindex`. */
SEC("tracepoint/xdp/xdp_devmap_xmit")
int trace_xdp_devmap_xmit(struct xdp_devmap_xmit_ctx *ctx)
{
	count(EV_DEVMAP_XMIT, ctx->from_ifindex, ctx->to_ifindex, ctx->act, ctx->err,
	      ctx->sent, ctx->drops);
	return 0;
}

/* Frames handed to another CPU through a cpumap. */
SEC("tracepoint/xdp/xdp_cpumap_enqueue")
int trace_xdp_cpumap_enqueue(struct xdp_cpumap_ctx *ctx)
{
	count(EV_CPUMAP_ENQUEUE, ctx->cpu, ctx->to_cpu, ctx->act, 0, ctx->processed, ctx->drops);
	return 0;
}

/* The cpumap's kernel thread on the target CPU processed frames. */
SEC("tracepoint/xdp/xdp_cpumap_kthread")
int trace_xdp_cpumap_kthread(struct xdp_cpumap_ctx *ctx)
{
	count(EV_CPUMAP_KTHREAD, ctx->cpu, ctx->cpu, ctx->act, 0, ctx->processed, ctx->drops);
	return 0;
}

/* A driver sent a batch of XDP_TX frames. */
SEC("tracepoint/xdp/xdp_bulk_tx")
int trace_xdp_bulk_tx(struct xdp_bulk_tx_ctx *ctx)
{
	count(EV_BULK_TX, ctx->ifindex, ctx->ifindex, ctx->act, ctx->err, ctx->sent, ctx->drops);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
