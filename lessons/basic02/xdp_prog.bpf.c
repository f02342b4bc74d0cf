// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson basic02: several programs in one object; the loader picks one by
 * name. See README.md for the assignments.
 *
 * TODO 1: build this file (make), load xdp_drop_func by its name on a test
 *         environment, watch ping fail, and unload it again.
 */
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass_func(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int xdp_drop_func(struct xdp_md *ctx)
{
	return XDP_DROP;
}

/*
 * TODO 2: add a third program, xdp_abort_func, that returns XDP_ABORTED.
 *         Load it, ping, and watch the xdp:xdp_exception tracepoint fire
 *         (perf record -a -e xdp:xdp_exception, or xdp-loader monitor).
 */

char LICENSE[] SEC("license") = "GPL";
