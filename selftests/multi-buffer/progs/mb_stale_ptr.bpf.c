// SPDX-License-Identifier: GPL-2.0
/* A packet pointer taken before bpf_xdp_pull_data() and read after it: the
 * verifier must refuse the program (the kfunc may move the packet).
 */
#include "mb_common.h"

SEC("xdp.frags")
int mb_stale_ptr(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	if (data + 1 > data_end)
		return XDP_DROP;
	bpf_xdp_pull_data(ctx, 64);
	return *(__u8 *)data ? XDP_PASS : XDP_DROP;
}

char _license[] SEC("license") = "GPL";
