// SPDX-License-Identifier: GPL-2.0
/* An extension of mb_dispatcher's mb_stage that calls bpf_xdp_pull_data(): it
 * changes packet data where the original does not, so the verifier refuses it
 * (the dispatcher reads a packet pointer after the call).
 */
#include "mb_common.h"

SEC("freplace/mb_stage")
int mb_ext_pull(struct xdp_md *ctx)
{
	return bpf_xdp_pull_data(ctx, 64) ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
