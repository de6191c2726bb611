// SPDX-License-Identifier: GPL-2.0
/* An extension of xdp_dispatcher.bpf.c's ff_stage() that drops: basic only. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("freplace/ff_stage")
int ext_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
