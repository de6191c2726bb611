// SPDX-License-Identifier: GPL-2.0
/* bpf_redirect_map() in a program loaded with BPF_F_XDP_HAS_FRAGS ("xdp.frags"):
 * needs basic, redirect and rx-sg.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} tx_port SEC(".maps");

SEC("xdp.frags")
int xdp_redirect_frags(struct xdp_md *ctx)
{
	return bpf_redirect_map(&tx_port, 0, 0);
}

char _license[] SEC("license") = "GPL";
