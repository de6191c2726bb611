// SPDX-License-Identifier: GPL-2.0
/* An extension of xdp_dispatcher.bpf.c's ff_stage() that redirects: the
 * verifier derives basic and redirect for it, as for an XDP program.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("freplace/ff_stage")
int ext_redirect(struct xdp_md *ctx)
{
	return bpf_redirect(1, 0);
}

char _license[] SEC("license") = "GPL";
