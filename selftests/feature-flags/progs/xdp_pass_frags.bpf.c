// SPDX-License-Identifier: GPL-2.0
/* XDP_PASS, loaded with BPF_F_XDP_HAS_FRAGS (libbpf's "xdp.frags" section):
 * the program accepts multi-buffer frames, so it needs basic and rx-sg.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp.frags")
int xdp_pass_frags(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
