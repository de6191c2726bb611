// SPDX-License-Identifier: GPL-2.0
/* A crafted frame chooses its own verdict by its selector (see
 * xdp_stats_common.h):
 *   'A' XDP_ABORTED   'D' XDP_DROP   'P' XDP_PASS   'T' XDP_TX (MACs swapped)
 *   'R' XDP_REDIRECT through tx_port slot 0, 'S' through slot 1
 *       (bpf_redirect_map with flags 0: an empty slot makes it XDP_ABORTED)
 *   'E' bpf_redirect() to config[CFG_REDIRECT_IFINDEX]
 *   'I' 7, which is not an XDP action
 *   'X' XDP_DROP after bpf_xdp_adjust_tail() took TRIM_BYTES off the frame
 * Stray frames, and crafted frames with any other selector, are passed.
 * Every verdict lands in `tally` (crafted frames by action, strays apart),
 * so a test knows exactly what the program returned, and for how many bytes.
 */
#include "xdp_stats_common.h"

#define XDP_INVALID_ACTION 7
#define TRIM_BYTES 16
#define CFG_REDIRECT_IFINDEX 0

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} tx_port SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TALLY_NR);
	__type(key, __u32);
	__type(value, struct tally_val);
} tally SEC(".maps");

static __always_inline int swap_macs_and_tx(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = (void *)(long)ctx->data;
	unsigned char tmp[ETH_ALEN];

	if ((void *)(eth + 1) > data_end)
		return XDP_ABORTED;
	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
	return XDP_TX;
}

SEC("xdp")
int xdp_stats_verdict(struct xdp_md *ctx)
{
	__u32 key = CFG_REDIRECT_IFINDEX;
	__u32 *ifindex;
	char sel = frame_selector(ctx);
	int act;

	switch (sel) {
	case 'A':
		act = XDP_ABORTED;
		break;
	case 'D':
		act = XDP_DROP;
		break;
	case 'T':
		act = swap_macs_and_tx(ctx);
		break;
	case 'R':
		act = bpf_redirect_map(&tx_port, 0, 0);
		break;
	case 'S':
		act = bpf_redirect_map(&tx_port, 1, 0);
		break;
	case 'E':
		ifindex = bpf_map_lookup_elem(&config, &key);
		act = ifindex ? bpf_redirect(*ifindex, 0) : XDP_ABORTED;
		break;
	case 'I':
		act = XDP_INVALID_ACTION;
		break;
	case 'X':
		act = bpf_xdp_adjust_tail(ctx, -TRIM_BYTES) ? XDP_ABORTED : XDP_DROP;
		break;
	case 0:
		tally_add(&tally, TALLY_STRAY, ctx);
		return XDP_PASS;
	default:
		act = XDP_PASS;
	}
	tally_add(&tally, tally_index(act), ctx);
	return act;
}

char _license[] SEC("license") = "GPL";
