// SPDX-License-Identifier: GPL-2.0
/* The control of mb_stale_ptr and mb_stale_global: the same calls, with the
 * packet pointers taken again after them. The verifier accepts it.
 */
#include "mb_common.h"

__noinline int pull_some(struct xdp_md *ctx)
{
	return bpf_xdp_pull_data(ctx, 64);
}

SEC("xdp.frags")
int mb_fresh_ptr(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	if (data + 1 > data_end)
		return XDP_DROP;
	bpf_xdp_pull_data(ctx, 64);
	pull_some(ctx);
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + 1 > data_end)
		return XDP_DROP;
	return *(__u8 *)data ? XDP_PASS : XDP_DROP;
}

char _license[] SEC("license") = "GPL";
