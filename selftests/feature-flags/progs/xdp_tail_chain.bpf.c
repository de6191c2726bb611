// SPDX-License-Identifier: GPL-2.0
/* A tail call chain longer than the kernel's MAX_TAIL_CALL_CNT (33).
 *
 * chain_prog<NN> tail calls into chain_map<NN>[0] (and passes the frame if
 * the slot is empty), for NN from 00 to 39: with chain_prog<NN+1> in
 * chain_map<NN>, a program in chain_map39 is 40 tail calls away from
 * chain_prog00. chain_end_pass (basic) and chain_end_redirect (basic and
 * redirect) are the programs the tests put at the end. Each map has one
 * slot, so every map is a link of the chain.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define CHAIN_LINK(n)							\
	struct {							\
		__uint(type, BPF_MAP_TYPE_PROG_ARRAY);			\
		__uint(max_entries, 1);					\
		__type(key, __u32);					\
		__type(value, __u32);					\
	} chain_map##n SEC(".maps");					\
									\
	SEC("xdp")							\
	int chain_prog##n(struct xdp_md *ctx)				\
	{								\
		bpf_tail_call(ctx, &chain_map##n, 0);			\
		return XDP_PASS;					\
	}

#define CHAIN_TEN(tens)							\
	CHAIN_LINK(tens##0) CHAIN_LINK(tens##1) CHAIN_LINK(tens##2)	\
	CHAIN_LINK(tens##3) CHAIN_LINK(tens##4) CHAIN_LINK(tens##5)	\
	CHAIN_LINK(tens##6) CHAIN_LINK(tens##7) CHAIN_LINK(tens##8)	\
	CHAIN_LINK(tens##9)

CHAIN_TEN(0)
CHAIN_TEN(1)
CHAIN_TEN(2)
CHAIN_TEN(3)

SEC("xdp")
int chain_end_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int chain_end_redirect(struct xdp_md *ctx)
{
	return bpf_redirect(1, 0);
}

char _license[] SEC("license") = "GPL";
