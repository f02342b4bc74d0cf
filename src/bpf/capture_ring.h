/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The BPF ring buffer side of the capture programs (xdp_capture_ring and
 * xdp_capture_trace): the ring, the count of what did not fit, and the
 * record sizes.
 *
 * A ring buffer reservation has a size fixed when the program is
 * verified, so records come in a few sizes (powers of two) and each packet
 * takes the smallest that holds it: RING_BY_SIZE(len, RECORD) calls
 * RECORD(size) with that size as a constant.
 */
#ifndef CAPTURE_RING_H
#define CAPTURE_RING_H

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} capture_ring SEC(".maps");

#include "capture_lost.h"

#define RING_BY_SIZE(len, RECORD)		\
	do {					\
		if ((len) <= 128)		\
			RECORD(128);		\
		else if ((len) <= 512)		\
			RECORD(512);		\
		else if ((len) <= 2048)		\
			RECORD(2048);		\
		else if ((len) <= 4096)		\
			RECORD(4096);		\
		else if ((len) <= 16384)	\
			RECORD(16384);		\
		else				\
			RECORD(65536);		\
	} while (0)

/* A record of header_len + size bytes, or NULL (counted as lost) when the
 * ring is full. */
static __always_inline __u8 *ring_reserve(__u32 header_len, const __u32 size)
{
	__u8 *rec;

	rec = bpf_ringbuf_reserve(&capture_ring, header_len + size, 0);
	if (!rec)
		capture_count_lost();
	return rec;
}

/* len (1..size) again, in a form the verifier can bound by size: with
 * size a power of two, ((len - 1) & (size - 1)) + 1 is len. The barrier
 * keeps clang from seeing that and dropping the arithmetic. */
static __always_inline __u32 ring_copy_len(__u32 len, const __u32 size)
{
	asm volatile("" : "+r"(len));
	return ((len - 1) & (size - 1)) + 1;
}

#endif /* CAPTURE_RING_H */
