// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark helpers for `xdp-loader bench` (not a lesson).
 *
 * xdp_bare_pass is the baseline: the cheapest XDP program there is. The
 * benchmark reports every other program's per-packet cost as a ratio to
 * it, so what remains is the cost of the program's own work.
 *
 * xdp_bench_tx is the live-traffic generator. Run with BPF_PROG_TEST_RUN
 * and the BPF_F_TEST_XDP_LIVE_FRAMES flag (as xdp-tools' xdp-trafficgen
 * does), each XDP_TX sends the frame out of the interface named in the
 * context's ingress_ifindex, so the kernel itself becomes the traffic
 * source for the program under test on the other end of a veth pair.
 *
 * Neither counts anything: no xdp_stats_map, no cost beyond the verdict.
 */
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_bare_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int xdp_bench_tx(struct xdp_md *ctx)
{
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
