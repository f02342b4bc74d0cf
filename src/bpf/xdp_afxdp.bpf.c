// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson advanced03: AF_XDP. An XDP program hands packets to a user-space
 * socket through an XSKMAP (the C tutorial's af_xdp_kern.c).
 *
 * The socket is bound to one receive queue of the device; user space puts
 * its fd in xsks_map at that queue's index. bpf_redirect_map() then moves
 * the frame into the socket's UMEM instead of building an skb for it.
 *
 * Two programs, picked with `xdp-loader afxdp IFNAME -n NAME`:
 *  - xdp_sock_prog (default, the lesson's assignment 2): every other packet
 *    of a queue to the socket, the rest to the kernel's stack;
 *  - xdp_sock_all: every packet to the socket (what libxdp's default
 *    program does when the C tutorial runs without --filename).
 * Both count where each packet went in afxdp_counters.
 */
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>

/* queue index -> AF_XDP socket fd (written by user space) */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 64);
} xsks_map SEC(".maps");

/* Per receive queue: packets seen, for "every other packet". */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 64);
} xdp_sock_seen SEC(".maps");

/* Where packets went: slot 0 to the socket, slot 1 to the stack. */
#define TO_SOCKET 0
#define TO_STACK 1
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 2);
} afxdp_counters SEC(".maps");

static __always_inline void count(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&afxdp_counters, &slot);

	if (n)
		*n += 1;
}

/* To the socket of this queue if there is one, else to the stack. */
static __always_inline int to_socket(struct xdp_md *ctx)
{
	__u32 queue = ctx->rx_queue_index;

	/* No socket on this queue: a redirect would drop the packet. */
	if (!bpf_map_lookup_elem(&xsks_map, &queue)) {
		count(TO_STACK);
		return XDP_PASS;
	}
	count(TO_SOCKET);
	return bpf_redirect_map(&xsks_map, queue, 0);
}

SEC("xdp")
int xdp_sock_prog(struct xdp_md *ctx)
{
	__u32 queue = ctx->rx_queue_index;
	__u32 *seen = bpf_map_lookup_elem(&xdp_sock_seen, &queue);

	/* Odd packets (per queue and CPU) go to the stack. */
	if (seen && ((*seen)++ & 1)) {
		count(TO_STACK);
		return XDP_PASS;
	}
	return to_socket(ctx);
}

SEC("xdp")
int xdp_sock_all(struct xdp_md *ctx)
{
	return to_socket(ctx);
}

char _license[] SEC("license") = "GPL";
