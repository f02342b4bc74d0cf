// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson basic02: several XDP programs in one object file.
 *
 * An ELF object can hold many programs; the loader picks one by name
 * (`xdp-loader load -n xdp_drop_func ...`). Each program here returns a
 * fixed verdict, so you can see what each verdict does to traffic:
 *
 *   XDP_PASS     hand the packet to the network stack as usual
 *   XDP_DROP     discard the packet silently (the cheapest possible drop)
 *   XDP_ABORTED  discard it too, but also fire the xdp:xdp_exception
 *                tracepoint: the verdict for "my program hit an error"
 *
 * Lesson basic04 uses the same object: every verdict is also counted in
 * xdp_stats_map (see xdp_stats_kern.h), whose pin under
 * /sys/fs/bpf/<ifname>/ lets a separate process read it and a reload keep it.
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

/* Watch it with: perf record -a -e xdp:xdp_exception */
SEC("xdp")
int xdp_abort_func(struct xdp_md *ctx)
{
	return xdp_stats_record_action(ctx, XDP_ABORTED);
}

char LICENSE[] SEC("license") = "GPL";
