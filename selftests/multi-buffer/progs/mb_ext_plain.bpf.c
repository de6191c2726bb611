// SPDX-License-Identifier: GPL-2.0
/* The control of mb_ext_pull: an extension of mb_stage reading the frame's
 * shape with the multi-buffer kfuncs, which change nothing: accepted.
 */
#include "mb_common.h"

SEC("freplace/mb_stage")
int mb_ext_plain(struct xdp_md *ctx)
{
	return bpf_xdp_frags_count(ctx) + bpf_xdp_frags_len(ctx) < 100000 ? XDP_PASS : XDP_DROP;
}

char _license[] SEC("license") = "GPL";
