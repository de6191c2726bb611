// SPDX-License-Identifier: GPL-2.0
/* mb_inspect.h's program, without BPF_F_XDP_HAS_FRAGS: it only ever gets
 * single-buffer frames.
 */
#include "mb_inspect.h"

SEC("xdp")
int mb_inspect_sb(struct xdp_md *ctx)
{
	return inspect(ctx);
}

char _license[] SEC("license") = "GPL";
