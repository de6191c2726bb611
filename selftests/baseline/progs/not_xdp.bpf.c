// SPDX-License-Identifier: GPL-2.0
/* Programs that must not be accepted as a device's XDP program: a socket
 * filter (wrong program type) and an XDP program built for devmap entries
 * (expected_attach_type BPF_XDP_DEVMAP).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("socket")
int sock_filter_accept_all(struct __sk_buff *skb)
{
	return skb->len;
}

SEC("xdp/devmap")
int xdp_devmap_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
