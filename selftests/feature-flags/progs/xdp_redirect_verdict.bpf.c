// SPDX-License-Identifier: GPL-2.0
/* Return the XDP_REDIRECT verdict without calling a redirect helper: no
 * target is set, so xdp_do_redirect() fails on any device. The program
 * needs basic only.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_redirect_verdict(struct xdp_md *ctx)
{
	return XDP_REDIRECT;
}

char _license[] SEC("license") = "GPL";
