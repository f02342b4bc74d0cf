// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson basic01: the smallest XDP program.
 *
 * Nothing to write here: this lesson is about building the object, reading
 * it (`make objdump` shows the BPF instructions next to these C lines),
 * loading it, seeing it attached and unloading it. See README.md.
 */
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>

/* The section name "xdp" makes this an XDP program for libbpf. */
SEC("xdp")
int xdp_prog_simple(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
