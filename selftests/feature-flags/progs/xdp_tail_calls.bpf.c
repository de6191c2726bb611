// SPDX-License-Identifier: GPL-2.0
/* Tail call chains for the prog_array lock (patch 6).
 *
 * xdp_dispatch tail calls into jmp_table[0] (and drops the frame if the
 * slot is empty); tail_dispatch2 does the same through jmp_table2, so a
 * program in jmp_table2 is two tail calls away from xdp_dispatch. The
 * verifier derives basic for every program here but tail_redirect, which
 * calls bpf_redirect() and needs basic and redirect. Every program is in
 * one object so that libbpf loads them, and their prog_arrays, together.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} jmp_table SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} jmp_table2 SEC(".maps");

SEC("xdp")
int xdp_dispatch(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &jmp_table, 0);
	return XDP_DROP;
}

SEC("xdp")
int tail_dispatch2(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &jmp_table2, 0);
	return XDP_PASS;
}

SEC("xdp")
int tail_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int tail_redirect(struct xdp_md *ctx)
{
	return bpf_redirect(1, 0);
}

char _license[] SEC("license") = "GPL";
