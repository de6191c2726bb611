// SPDX-License-Identifier: GPL-2.0
/* The twin of xdp_redirect_dead.bpf.c with the guard in a writable global
 * (.bss): its value is unknown to the verifier, which walks both branches,
 * so the bpf_redirect_map() call counts and the program needs basic and
 * redirect.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} tx_port SEC(".maps");

volatile __u32 redirect_enabled;

SEC("xdp")
int xdp_redirect_maybe(struct xdp_md *ctx)
{
	if (redirect_enabled)
		return bpf_redirect_map(&tx_port, 0, 0);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
