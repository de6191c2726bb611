/* SPDX-License-Identifier: GPL-2.0 */
/* Frames the xdp-stats tests craft (xdplib.traffic): Ethernet, IPv4 without
 * options, UDP to port 40000, a payload starting with the marker prefix
 * "XDPSELFTEST:" and then the marker's tag, whose first character the
 * programs read as a selector. Anything else is a stray frame (none are
 * expected: the guest kernel has no IPv6, and nothing else sends).
 */
#ifndef XDP_STATS_COMMON_H
#define XDP_STATS_COMMON_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define SELFTEST_DPORT 40000
#define MARKER_LEN 12 /* "XDPSELFTEST:" */

/* Tally buckets: the action a program returned for a crafted frame (0-4),
 * TALLY_INVALID for any other value, TALLY_STRAY for frames not crafted by
 * the tests, which every program passes.
 */
#define TALLY_INVALID 5
#define TALLY_STRAY 6
#define TALLY_NR 7

struct tally_val {
	__u64 packets;
	__u64 bytes;
};

/* The selector of a crafted frame, or 0 for a stray frame. */
static __always_inline char frame_selector(struct xdp_md *ctx)
{
	static const char prefix[MARKER_LEN] = "XDPSELFTEST:";
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	struct iphdr *iph;
	struct udphdr *udp;
	char *payload;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return 0;
	iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > data_end || iph->ihl != 5 || iph->protocol != IPPROTO_UDP)
		return 0;
	udp = (void *)(iph + 1);
	if ((void *)(udp + 1) > data_end || udp->dest != bpf_htons(SELFTEST_DPORT))
		return 0;
	payload = (void *)(udp + 1);
	if ((void *)(payload + MARKER_LEN + 1) > data_end)
		return 0;
#pragma unroll
	for (int i = 0; i < MARKER_LEN; i++)
		if (payload[i] != prefix[i])
			return 0;
	return payload[MARKER_LEN];
}

static __always_inline void tally_add(void *map, __u32 idx, struct xdp_md *ctx)
{
	struct tally_val *val = bpf_map_lookup_elem(map, &idx);

	if (val) {
		__sync_fetch_and_add(&val->packets, 1);
		__sync_fetch_and_add(&val->bytes, ctx->data_end - ctx->data);
	}
}

static __always_inline __u32 tally_index(__u32 act)
{
	return act <= XDP_REDIRECT ? act : TALLY_INVALID;
}

#endif /* XDP_STATS_COMMON_H */
