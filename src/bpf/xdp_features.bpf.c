// SPDX-License-Identifier: GPL-2.0
/*
 * Probe programs for `xdp-loader features`: the smallest programs that show
 * whether this kernel has BPF trampolines, which libxdp's multi-program
 * dispatcher (freplace) and capturing around a running program (fentry)
 * are built on. Nothing here looks at packets.
 *
 * The probe loads probe_target first, then each of the others on its own,
 * pointed at the loaded probe_target (libbpf's set_attach_target).
 */
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>

/* A global function is verified on its own and has its own BTF id: an
 * freplace program can take its place, as a dispatcher's slot stubs do.
 * The volatile result keeps clang from folding the call away. */
__attribute__((noinline)) int probe_slot(struct xdp_md *ctx)
{
	volatile int verdict = XDP_PASS;

	if (!ctx)
		return XDP_ABORTED;
	return verdict;
}

/* The XDP program the others attach to (loaded with BTF by libbpf). */
SEC("xdp")
int probe_target(struct xdp_md *ctx)
{
	return probe_slot(ctx);
}

/* BPF_PROG_TYPE_EXT: replaces probe_slot inside probe_target. */
SEC("freplace/probe_slot")
int probe_freplace(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/* BPF_PROG_TYPE_TRACING, fentry: runs before probe_target on each packet,
 * as a capture around a running XDP program would. */
SEC("fentry/probe_target")
int probe_fentry(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
