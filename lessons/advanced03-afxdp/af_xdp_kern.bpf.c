// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson advanced03: AF_XDP. See README.md.
 *
 * As shipped, the program sends every packet of the queue to the AF_XDP
 * socket that user space put in xsks_map at that queue's index. Run it:
 *     sudo xdp-loader afxdp veth0 af_xdp_kern.bpf.o
 */
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>

/* queue index -> AF_XDP socket (written by xdp-loader afxdp) */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 64);
} xsks_map SEC(".maps");

/* Per receive queue: packets seen (for TODO 2). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 64);
} xdp_sock_seen SEC(".maps");

SEC("xdp")
int xdp_sock_prog(struct xdp_md *ctx)
{
	__u32 queue = ctx->rx_queue_index;

	/*
	 * TODO 2a: send only every other packet to the socket: look up this
	 *          queue's counter in xdp_sock_seen, increment it, and return
	 *          XDP_PASS (to the kernel's stack) when it was odd.
	 *
	 * TODO 2b: a redirect to an empty xsks_map slot drops the packet. Look
	 *          the queue up in xsks_map first (bpf_map_lookup_elem) and
	 *          return XDP_PASS when no socket is there.
	 */
	return bpf_redirect_map(&xsks_map, queue, 0);
}

char _license[] SEC("license") = "GPL";
