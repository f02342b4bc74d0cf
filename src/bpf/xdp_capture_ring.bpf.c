// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson tracing04, second way: copying packets to user space through the
 * BPF ring buffer (Linux 5.8) instead of per-CPU perf buffers.
 *
 * One ring shared by every CPU, read by one consumer: records stay in
 * arrival order, and user space polls one map instead of one per CPU.
 * Unlike bpf_perf_event_output(), the ring buffer cannot append packet
 * bytes by itself: the program reserves a record and copies the bytes in
 * with bpf_xdp_load_bytes() (Linux 5.18). A reservation has a size fixed
 * when the program is verified, so records come in a few sizes and each
 * packet takes the smallest that holds it.
 *
 * A packet that finds the ring full is counted in capture_lost, so user
 * space can say how many it missed. Every packet passes.
 */
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>
#include "xdp_stats_kern.h"
#include "xdp_capture.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} capture_ring SEC(".maps");

/* Slot 0: packets not captured because the ring was full. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} capture_lost SEC(".maps");

/* Reserves a record of `size` packet bytes (a constant after inlining),
 * fills it and hands it to user space. */
static __always_inline void record(struct xdp_md *ctx, struct capture_meta *meta,
				   const __u32 size)
{
	__u32 key = 0, len = meta->cap_len;
	__u64 *lost;
	__u8 *rec;

	rec = bpf_ringbuf_reserve(&capture_ring, sizeof(*meta) + size, 0);
	if (!rec) {
		lost = bpf_map_lookup_elem(&capture_lost, &key);
		if (lost)
			*lost += 1;
		return;
	}
	__builtin_memcpy(rec, meta, sizeof(*meta));
	/* Tells the verifier the copy fits the reservation: len is 1..size,
	 * and ((len - 1) & (size - 1)) + 1 is len again, in bounds the
	 * verifier can follow (size is a power of two). The barrier keeps
	 * clang from seeing that and dropping the arithmetic. */
	asm volatile("" : "+r"(len));
	len = ((len - 1) & (size - 1)) + 1;
	if (bpf_xdp_load_bytes(ctx, 0, rec + sizeof(*meta), len)) {
		bpf_ringbuf_discard(rec, 0);
		return;
	}
	bpf_ringbuf_submit(rec, 0);
}

SEC("xdp")
int xdp_capture_ring_func(struct xdp_md *ctx)
{
	struct capture_meta meta = capture_meta_of(ctx);

	if (meta.cap_len <= 128)
		record(ctx, &meta, 128);
	else if (meta.cap_len <= 512)
		record(ctx, &meta, 512);
	else if (meta.cap_len <= 2048)
		record(ctx, &meta, 2048);
	else if (meta.cap_len <= 4096)
		record(ctx, &meta, 4096);
	else if (meta.cap_len <= 16384)
		record(ctx, &meta, 16384);
	else
		record(ctx, &meta, 65536);

	return xdp_stats_record_action(ctx, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
