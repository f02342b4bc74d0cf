// SPDX-License-Identifier: GPL-2.0
/*
 * Capturing around an XDP program that is already running (what xdpdump
 * does): fentry programs run as the program is entered, fexit programs as
 * it returns, with its verdict. Nothing is attached to the interface and
 * the running program is not changed; BPF trampolines call these around
 * it (Linux 5.5 and a kernel built with them).
 *
 * The loader points each program at the running one (libbpf's
 * set_attach_target) before loading; "func" below is a placeholder.
 * The argument is the kernel's struct xdp_buff (what XDP programs see as
 * struct xdp_md).
 *
 * Two ways to user space, as in xdp_capture and xdp_capture_ring: the
 * perf buffer (bpf_xdp_output appends the packet bytes) and the ring
 * buffer (a reserved record, the bytes copied in with
 * bpf_probe_read_kernel). The loader loads one pair.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "capture_ring.h"

/* What precedes the packet bytes in each record (read by src/capture). */
struct trace_meta {
	__u64 timestamp_ns;	/* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 pkt_len;		/* the frame's length */
	__u32 cap_len;		/* how many bytes of it follow */
	__u32 point;		/* 0: entry, 1: exit */
	__u32 verdict;		/* at exit: what the program returned */
};

#define POINT_ENTRY 0
#define POINT_EXIT 1
#define MAX_SNAPLEN 0xffff

/* Set by the loader before loading. */
const volatile __u32 snaplen = MAX_SNAPLEN;

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
} capture_events SEC(".maps");

static __always_inline struct trace_meta meta_of(struct xdp_buff *xdp, __u32 point,
						 __u32 verdict)
{
	struct trace_meta meta;

	meta.timestamp_ns = bpf_ktime_get_ns();
	meta.pkt_len = (long)xdp->data_end - (long)xdp->data;
	meta.cap_len = meta.pkt_len;
	if (snaplen && meta.cap_len > snaplen)
		meta.cap_len = snaplen;
	if (meta.cap_len > MAX_SNAPLEN)
		meta.cap_len = MAX_SNAPLEN;
	meta.point = point;
	meta.verdict = verdict;
	return meta;
}

static __always_inline void to_perf(struct xdp_buff *xdp, __u32 point, __u32 verdict)
{
	struct trace_meta meta = meta_of(xdp, point, verdict);
	__u64 flags = BPF_F_CURRENT_CPU | ((__u64)meta.cap_len << 32);

	if (bpf_xdp_output(xdp, &capture_events, flags, &meta, sizeof(meta)))
		capture_count_lost();
}

static __always_inline void reserve(struct xdp_buff *xdp, struct trace_meta *meta,
				    const __u32 size)
{
	__u8 *rec = ring_reserve(sizeof(*meta), size);

	if (!rec)
		return;
	__builtin_memcpy(rec, meta, sizeof(*meta));
	if (bpf_probe_read_kernel(rec + sizeof(*meta), ring_copy_len(meta->cap_len, size),
				  xdp->data)) {
		bpf_ringbuf_discard(rec, 0);
		return;
	}
	bpf_ringbuf_submit(rec, 0);
}

static __always_inline void to_ring(struct xdp_buff *xdp, __u32 point, __u32 verdict)
{
	struct trace_meta meta = meta_of(xdp, point, verdict);

#define RESERVE(size) reserve(xdp, &meta, size)
	RING_BY_SIZE(meta.cap_len, RESERVE);
#undef RESERVE
}

SEC("fentry/func")
int BPF_PROG(capture_entry_perf, struct xdp_buff *xdp)
{
	to_perf(xdp, POINT_ENTRY, 0);
	return 0;
}

SEC("fexit/func")
int BPF_PROG(capture_exit_perf, struct xdp_buff *xdp, int verdict)
{
	to_perf(xdp, POINT_EXIT, verdict);
	return 0;
}

SEC("fentry/func")
int BPF_PROG(capture_entry_ring, struct xdp_buff *xdp)
{
	to_ring(xdp, POINT_ENTRY, 0);
	return 0;
}

SEC("fexit/func")
int BPF_PROG(capture_exit_ring, struct xdp_buff *xdp, int verdict)
{
	to_ring(xdp, POINT_EXIT, verdict);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
