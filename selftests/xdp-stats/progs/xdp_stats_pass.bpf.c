// SPDX-License-Identifier: GPL-2.0
/* Pass every frame, tallying crafted ones as XDP_PASS and strays apart: for
 * the far ends of a topology, which need a native program (veth NAPI) to
 * receive XDP_TX and XDP_REDIRECT frames, and must not bounce them again.
 */
#include "xdp_stats_common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TALLY_NR);
	__type(key, __u32);
	__type(value, struct tally_val);
} tally SEC(".maps");

SEC("xdp")
int xdp_stats_pass(struct xdp_md *ctx)
{
	tally_add(&tally, frame_selector(ctx) ? XDP_PASS : TALLY_STRAY, ctx);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
