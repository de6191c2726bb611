// SPDX-License-Identifier: GPL-2.0
/* Redirect every frame with bpf_redirect() (to ifindex 1): a reachable
 * redirect helper call without a map, so the program needs basic and
 * redirect.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_redirect(struct xdp_md *ctx)
{
	return bpf_redirect(1, 0);
}

char _license[] SEC("license") = "GPL";
