// SPDX-License-Identifier: GPL-2.0
/* What `harness bench` measures: the cost of running an XDP program per
 * packet, with the least possible program. Return XDP_DROP for every frame.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_bench_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
