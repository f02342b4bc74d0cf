/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the capture programs (xdp_capture, xdp_capture_ring) share with
 * src/capture: the record header and the snap length setting.
 */
#ifndef XDP_CAPTURE_H
#define XDP_CAPTURE_H

/* What precedes the packet bytes in each record (read by src/capture). */
struct capture_meta {
	__u64 timestamp_ns;	/* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 pkt_len;		/* the frame's length on the wire */
	__u32 cap_len;		/* how many bytes of it follow */
};

/* Slot 0: the snap length, written by the loader before it attaches. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} capture_config SEC(".maps");

/* The kernel copies at most this much packet data into one record. */
#define MAX_SNAPLEN 0xffff

/* The record header of the packet in ctx, cut to the snap length. */
static __always_inline struct capture_meta capture_meta_of(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	__u32 key = 0, *snaplen;
	struct capture_meta meta;

	meta.timestamp_ns = bpf_ktime_get_ns();
	meta.pkt_len = data_end - data;
	meta.cap_len = meta.pkt_len;
	snaplen = bpf_map_lookup_elem(&capture_config, &key);
	if (snaplen && *snaplen && meta.cap_len > *snaplen)
		meta.cap_len = *snaplen;
	if (meta.cap_len > MAX_SNAPLEN)
		meta.cap_len = MAX_SNAPLEN;
	return meta;
}

#endif /* XDP_CAPTURE_H */
