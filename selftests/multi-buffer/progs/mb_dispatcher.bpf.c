// SPDX-License-Identifier: GPL-2.0
/* A dispatcher whose global function mb_stage does not change packet data,
 * for the extension programs of mb_ext_pull.bpf.c and mb_ext_plain.bpf.c.
 */
#include "mb_common.h"

__noinline int mb_stage(struct xdp_md *ctx)
{
	return ctx->data_end > ctx->data ? XDP_PASS : XDP_DROP;
}

SEC("xdp.frags")
int mb_dispatcher(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	int act;

	if (data + 1 > data_end)
		return XDP_DROP;
	act = mb_stage(ctx);
	/* mb_stage changes no packet data: data is still valid for the verifier */
	return *(__u8 *)data ? act : XDP_DROP;
}

char _license[] SEC("license") = "GPL";
