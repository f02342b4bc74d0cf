// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson basic04: pinned maps. The kernel side is done (it is basic03's
 * solution: xdp_stats_kern.h); this lesson's assignments are in user
 * space, see README.md.
 *
 * Every verdict is counted in xdp_stats_map. `xdp-loader load` pins it at
 * /sys/fs/bpf/<ifname>/xdp_stats_map, where another process
 * (xdp-loader stats) opens it, and a reload of this object reuses it.
 */
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>
#include "xdp_stats_kern.h"

SEC("xdp")
int xdp_pass_func(struct xdp_md *ctx)
{
	return xdp_stats_record_action(ctx, XDP_PASS);
}

SEC("xdp")
int xdp_drop_func(struct xdp_md *ctx)
{
	return xdp_stats_record_action(ctx, XDP_DROP);
}

SEC("xdp")
int xdp_abort_func(struct xdp_md *ctx)
{
	return xdp_stats_record_action(ctx, XDP_ABORTED);
}

char LICENSE[] SEC("license") = "GPL";
