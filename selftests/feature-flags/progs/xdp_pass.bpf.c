// SPDX-License-Identifier: GPL-2.0
/* Return XDP_PASS for every frame: needs basic only. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
