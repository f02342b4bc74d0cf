// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson basic01: the smallest useful XDP program.
 *
 * Every packet that arrives on the interface runs through this function
 * before the kernel's network stack sees it. Returning XDP_PASS hands the
 * packet on unchanged, so attaching this program changes nothing visible:
 * the point of the lesson is loading, attaching and unloading.
 *
 * It also counts what it passes in xdp_stats_map (lesson basic03), so
 * `xdp-loader stats` works on it too.
 */
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>
#include "xdp_stats_kern.h"

/* SEC("xdp") tells libbpf this is an XDP program (program type and
 * attach type both come from the section name). */
SEC("xdp")
int xdp_prog_simple(struct xdp_md *ctx)
{
	return xdp_stats_record_action(ctx, XDP_PASS);
}

/* Programs that use GPL-only helpers must say so; it costs nothing here. */
char LICENSE[] SEC("license") = "GPL";
