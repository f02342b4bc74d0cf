/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Packets a capture program could not hand to user space because its
 * buffer was full, counted by the program itself (slot 0, per CPU).
 *
 * The perf buffer also reports losses, but only in a record written once
 * there is room again: losses at the very end of a capture, with the
 * buffer still full, would never be reported. The program's own count
 * has no such gap, so `capture` takes whichever count is larger.
 */
#ifndef CAPTURE_LOST_H
#define CAPTURE_LOST_H

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} capture_lost SEC(".maps");

static __always_inline void capture_count_lost(void)
{
	__u32 key = 0;
	__u64 *lost = bpf_map_lookup_elem(&capture_lost, &key);

	if (lost)
		*lost += 1;
}

#endif
