// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson tracing04, second way: copying packets to user space through the
 * BPF ring buffer (Linux 5.8) instead of per-CPU perf buffers.
 *
 * One ring shared by every CPU, read by one consumer: records stay in
 * arrival order, and user space polls one map instead of one per CPU.
 * Unlike bpf_perf_event_output(), the ring buffer cannot append packet
 * bytes by itself: the program reserves a record and copies the bytes in
 * with bpf_xdp_load_bytes() (Linux 5.18). Records come in a few sizes
 * (capture_ring.h).
 *
 * A packet that finds the ring full is counted in capture_lost, so user
 * space can say how many it missed. Every packet passes.
 */
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>
#include "xdp_stats_kern.h"
#include "xdp_capture.h"
#include "capture_ring.h"

/* Reserves a record of `size` packet bytes (a constant after inlining),
 * fills it and hands it to user space. */
static __always_inline void record(struct xdp_md *ctx, struct capture_meta *meta,
				   const __u32 size)
{
	__u8 *rec = ring_reserve(sizeof(*meta), size);

	if (!rec)
		return;
	__builtin_memcpy(rec, meta, sizeof(*meta));
	if (bpf_xdp_load_bytes(ctx, 0, rec + sizeof(*meta), ring_copy_len(meta->cap_len, size))) {
		bpf_ringbuf_discard(rec, 0);
		return;
	}
	bpf_ringbuf_submit(rec, 0);
}

SEC("xdp")
int xdp_capture_ring_func(struct xdp_md *ctx)
{
	struct capture_meta meta = capture_meta_of(ctx);

#define RECORD(size) record(ctx, &meta, size)
	RING_BY_SIZE(meta.cap_len, RECORD);
#undef RECORD

	return xdp_stats_record_action(ctx, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
