/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Checksum updates after a rewrite (packet02 onwards). Kept apart from
 * rewrite_helpers.h so the packet02 starter can use them while it writes
 * its own VLAN pop and push.
 */
#ifndef CSUM_HELPERS_H
#define CSUM_HELPERS_H

#include "vmlinux_xdp.h"

/* A UDP checksum that computes to 0 is sent as 0xffff (RFC 768): 0 means
 * "no checksum". Both are zero in one's complement, so both verify. */
#ifndef CSUM_MANGLED_0
#define CSUM_MANGLED_0 ((__sum16)0xffff)
#endif

/*
 * Incremental checksum update (RFC 1624, eqn. 3): a 16-bit word of the
 * checksummed data changed from `old` to `new`; fix `*sum` without summing
 * the whole packet again:
 *
 *	HC' = ~(~HC + ~m + m')
 *
 * One's-complement addition does not care about byte order (a carry out
 * of either byte wraps into the other), so packet fields are used as
 * they are, in network byte order, with no bpf_ntohs().
 *
 * Same name and meaning as the kernel's csum_replace2().
 */
static __always_inline void csum_replace2(__sum16 *sum, __be16 old, __be16 new)
{
	__u32 csum = (__u16)~*sum;

	csum += (__u16)~old;
	csum += new;
	/* Fold the carries back in: twice, as the first fold can carry. */
	csum = (csum & 0xffff) + (csum >> 16);
	csum = (csum & 0xffff) + (csum >> 16);
	*sum = ~csum;
}

#endif /* CSUM_HELPERS_H */
