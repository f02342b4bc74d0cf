// SPDX-License-Identifier: GPL-2.0
/*
 * The multi-program dispatcher (lesson "several programs per interface").
 *
 * An interface runs one XDP program. To run several, this program is
 * attached instead and calls ten empty "slot" functions, prog0..prog9, in
 * turn. Each program a user loads is verified as a replacement (freplace,
 * BPF_PROG_TYPE_EXT) for one slot. After each slot the verdict is checked
 * against that slot's chain-call actions: a verdict in the set goes on to
 * the next slot, any other verdict is the packet's answer.
 *
 * The layout follows libxdp's published protocol (lib/libxdp/protocol.org
 * in xdp-tools, version 2), so xdp-tools and this loader can each read and
 * extend the other's dispatcher: the program is named xdp_dispatcher, its
 * only map is .rodata holding the configuration below, the slots have
 * these names, and a version marker lives in the xdp_metadata section.
 */
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>

#define DISPATCHER_VERSION 2
/* 'X' + 'D' + 'P' = 88 + 68 + 80: says "this is a dispatcher" */
#define DISPATCHER_MAGIC 236
/* An empty slot answers 31, the top bit of every chain-call set, so a
 * slot without a program never stops the chain. */
#define EMPTY_SLOT_VERDICT 31
#define SLOTS 10

struct xdp_dispatcher_config {
	__u8 magic;
	__u8 dispatcher_version;
	__u8 num_progs_enabled;
	__u8 is_xdp_frags;
	__u32 chain_call_actions[SLOTS];
	__u32 run_prios[SLOTS];
	__u32 program_flags[SLOTS];
};

/* Filled in by the loader before loading (src/dispatcher/config.rs).
 * const: .rodata is frozen, so the verifier prunes the slots not in use;
 * volatile: clang must not fold the all-zero initial value into the code. */
static volatile const struct xdp_dispatcher_config conf = {};

/* One slot. The volatile verdict keeps clang from inlining the answer;
 * the no-op bpf_xdp_adjust_tail() makes the verifier treat the slot as a
 * function that may change the packet, which newer kernels require before
 * a packet-changing program may replace it. */
#define SLOT(name)                                                   \
	__attribute__((noinline)) int name(struct xdp_md *ctx)       \
	{                                                            \
		volatile int verdict = EMPTY_SLOT_VERDICT;           \
		if (!ctx)                                            \
			return XDP_ABORTED;                          \
		bpf_xdp_adjust_tail(ctx, 0);                         \
		return verdict;                                      \
	}

SLOT(prog0)
SLOT(prog1)
SLOT(prog2)
SLOT(prog3)
SLOT(prog4)
SLOT(prog5)
SLOT(prog6)
SLOT(prog7)
SLOT(prog8)
SLOT(prog9)

/* Target of the "can this kernel replace a function?" check: never
 * called (num_progs_enabled cannot exceed 10) but kept in the BTF. */
__attribute__((noinline)) int compat_test(struct xdp_md *ctx)
{
	volatile int verdict = EMPTY_SLOT_VERDICT;

	if (!ctx)
		return XDP_ABORTED;
	return verdict;
}

#define CALL_SLOT(i, name)                                           \
	if (n < i + 1)                                               \
		goto out;                                            \
	verdict = name(ctx);                                         \
	if (!((1U << verdict) & conf.chain_call_actions[i]))         \
		return verdict;

SEC("xdp")
int xdp_dispatcher(struct xdp_md *ctx)
{
	__u8 n = conf.num_progs_enabled;
	int verdict;

	CALL_SLOT(0, prog0)
	CALL_SLOT(1, prog1)
	CALL_SLOT(2, prog2)
	CALL_SLOT(3, prog3)
	CALL_SLOT(4, prog4)
	CALL_SLOT(5, prog5)
	CALL_SLOT(6, prog6)
	CALL_SLOT(7, prog7)
	CALL_SLOT(8, prog8)
	CALL_SLOT(9, prog9)
	if (n < SLOTS + 1)
		goto out;
	verdict = compat_test(ctx);
out:
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
/* The version as BTF, where protocol version 1 readers look for it. */
__uint(dispatcher_version, DISPATCHER_VERSION) SEC("xdp_metadata");
