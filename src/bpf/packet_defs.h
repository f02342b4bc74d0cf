/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every packet program needs before it parses anything: the uapi
 * constants vmlinux.h lacks, and the parsing cursor. parsing_helpers.h
 * builds on it; the packet01 starter includes only this, because writing
 * the parsing helpers is that lesson's work.
 */
#ifndef PACKET_DEFS_H
#define PACKET_DEFS_H

#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/*
 * vmlinux.h carries the kernel's types and enums (struct ethhdr,
 * IPPROTO_TCP, ...) but no #define constants: those from the uapi headers
 * are defined here. The guards let a program that also includes the uapi
 * headers build without redefinition errors.
 */
#ifndef ETH_ALEN
#define ETH_ALEN 6		/* octets in one MAC address */
#endif
#ifndef ETH_P_IP
#define ETH_P_IP 0x0800		/* IPv4 */
#endif
#ifndef ETH_P_IPV6
#define ETH_P_IPV6 0x86DD	/* IPv6 */
#endif
#ifndef ETH_P_8021Q
#define ETH_P_8021Q 0x8100	/* 802.1Q VLAN tag */
#endif
#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8	/* 802.1ad outer ("service") VLAN tag */
#endif
#ifndef VLAN_VID_MASK
#define VLAN_VID_MASK 0x0fff	/* the VLAN ID: low 12 bits of the TCI */
#endif
#ifndef IPPROTO_ICMPV6
#define IPPROTO_ICMPV6 58	/* a #define in uapi in6.h, so not in vmlinux.h */
#endif
#ifndef ICMP_ECHOREPLY
#define ICMP_ECHOREPLY 0
#endif
#ifndef ICMP_ECHO
#define ICMP_ECHO 8
#endif
#ifndef ICMPV6_ECHO_REQUEST
#define ICMPV6_ECHO_REQUEST 128
#endif
#ifndef ICMPV6_ECHO_REPLY
#define ICMPV6_ECHO_REPLY 129
#endif
#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

/* How many stacked VLAN tags parse_ethhdr_vlan() looks through. */
#ifndef VLAN_MAX_DEPTH
#define VLAN_MAX_DEPTH 2
#endif

/* Where parsing has got to: the next header starts at `pos`. A struct, not
 * a bare pointer, so helpers can move it and the caller sees the move. */
struct hdr_cursor {
	void *pos;
};

/* The VLAN IDs parse_ethhdr_vlan() found, outermost first. */
struct collect_vlans {
	__u16 id[VLAN_MAX_DEPTH];
};

/* Is this ethertype a VLAN tag? (h_proto in network byte order) */
static __always_inline int proto_is_vlan(__be16 h_proto)
{
	return h_proto == bpf_htons(ETH_P_8021Q) ||
	       h_proto == bpf_htons(ETH_P_8021AD);
}

#endif /* PACKET_DEFS_H */
