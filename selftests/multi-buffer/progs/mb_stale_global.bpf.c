// SPDX-License-Identifier: GPL-2.0
/* The same through a global function: the verifier checks pull_some() on its
 * own, and must still invalidate the caller's packet pointers at the call
 * (the subprogram is marked changes_pkt_data).
 */
#include "mb_common.h"

__noinline int pull_some(struct xdp_md *ctx)
{
	return bpf_xdp_pull_data(ctx, 64);
}

SEC("xdp.frags")
int mb_stale_global(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	if (data + 1 > data_end)
		return XDP_DROP;
	pull_some(ctx);
	return *(__u8 *)data ? XDP_PASS : XDP_DROP;
}

char _license[] SEC("license") = "GPL";
