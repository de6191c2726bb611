// SPDX-License-Identifier: GPL-2.0
/* mb_inspect.h's program, with BPF_F_XDP_HAS_FRAGS: it gets multi-buffer frames. */
#include "mb_inspect.h"

SEC("xdp.frags")
int mb_inspect(struct xdp_md *ctx)
{
	return inspect(ctx);
}

char _license[] SEC("license") = "GPL";
