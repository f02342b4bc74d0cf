// SPDX-License-Identifier: GPL-2.0
/*
 * Lesson packet02: rewriting packets.
 *
 * XDP may change the packet before the stack sees it. Two programs:
 *
 *   xdp_port_rewrite_func  UDP and TCP: destination port - 1, with the
 *                          checksum fixed up incrementally. Send to port
 *                          2001 and the socket on 2000 receives it.
 *   xdp_vlan_swap_func     pops the outer VLAN tag of tagged frames and
 *                          tags untagged frames with VLAN 1.
 *
 * Both pass every packet (XDP_PASS), changed or not.
 */
#include "vmlinux_xdp.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "parsing_helpers.h"
#include "rewrite_helpers.h"
#include "xdp_stats_kern.h"

SEC("xdp")
int xdp_port_rewrite_func(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct hdr_cursor nh = { .pos = data };
	struct ethhdr *eth;
	struct iphdr *iph;
	struct ipv6hdr *ip6h;
	struct udphdr *udph;
	struct tcphdr *tcph;
	int eth_type, ip_type;
	__be16 old_port;

	eth_type = parse_ethhdr_vlan(&nh, data_end, &eth, NULL);
	if (eth_type == bpf_htons(ETH_P_IP))
		ip_type = parse_iphdr(&nh, data_end, &iph);
	else if (eth_type == bpf_htons(ETH_P_IPV6))
		ip_type = parse_ip6hdr(&nh, data_end, &ip6h);
	else
		goto out;

	if (ip_type == IPPROTO_UDP) {
		if (parse_udphdr(&nh, data_end, &udph) < 0)
			goto out;

		old_port = udph->dest;
		udph->dest = bpf_htons(bpf_ntohs(old_port) - 1);

		/*
		 * The UDP checksum covers the ports, so it must follow. A zero
		 * checksum means "none computed" (IPv4; over IPv6 it is not
		 * allowed at all): leave it zero, or the receiver would check
		 * a sum nobody made. A real sum that comes out as 0 has to be
		 * sent as 0xffff instead, for the same reason.
		 */
		if (udph->check) {
			csum_replace2(&udph->check, old_port, udph->dest);
			if (!udph->check)
				udph->check = CSUM_MANGLED_0;
		}
	} else if (ip_type == IPPROTO_TCP) {
		if (parse_tcphdr(&nh, data_end, &tcph) < 0)
			goto out;

		/* TCP always has a checksum, and 0 is an ordinary value. */
		old_port = tcph->dest;
		tcph->dest = bpf_htons(bpf_ntohs(old_port) - 1);
		csum_replace2(&tcph->check, old_port, tcph->dest);
	}
	/* The IP pseudo-header in the L4 checksum holds addresses, lengths and
	 * the protocol, none of which changed: only the port word counts. */
out:
	return xdp_stats_record_action(ctx, XDP_PASS);
}

SEC("xdp")
int xdp_vlan_swap_func(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;

	/* Only the Ethernet header is needed (not the tags behind it, so no
	 * parse_ethhdr_vlan): is the frame tagged, i.e. is h_proto a TPID? */
	if ((void *)(eth + 1) > data_end)
		goto out;

	if (proto_is_vlan(eth->h_proto))
		vlan_tag_pop(ctx, eth);
	else
		vlan_tag_push(ctx, eth, 1);
	/* eth and data are invalid from here on (bpf_xdp_adjust_head). A
	 * failed pop or push leaves the frame as it was: it passes anyway. */
out:
	return xdp_stats_record_action(ctx, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
