// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson basic03: count packets in a BPF map.
 *
 * A map is memory shared between BPF programs and userspace. This program
 * counts every packet (and its bytes) in xdp_stats_map under the verdict
 * it returns, then passes it. Read the counters with `xdp-loader stats`.
 */
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>
#include "xdp_stats_kern.h"

SEC("xdp")
int xdp_stats1_func(struct xdp_md *ctx)
{
	return xdp_stats_record_action(ctx, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
