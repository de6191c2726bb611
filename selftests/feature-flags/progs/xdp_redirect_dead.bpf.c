// SPDX-License-Identifier: GPL-2.0
/* A bpf_redirect_map() call the verifier never walks.
 *
 * redirect_enabled is a const volatile global: volatile keeps the compiler
 * from folding the test away, so the call is in the object's code; const puts
 * it in .rodata, which libbpf loads as a frozen, program-read-only map. The
 * verifier reads such a map's contents as known constants, sees the branch
 * can never be taken and does not walk the call: the program needs basic
 * only. Its twin xdp_redirect_maybe.bpf.c reads the guard from a writable
 * global instead, where the verifier must walk both branches.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} tx_port SEC(".maps");

const volatile __u32 redirect_enabled = 0;

SEC("xdp")
int xdp_redirect_dead(struct xdp_md *ctx)
{
	if (redirect_enabled)
		return bpf_redirect_map(&tx_port, 0, 0);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
