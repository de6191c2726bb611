// SPDX-License-Identifier: GPL-2.0
/* An extension of xdp_dispatcher.bpf.c's ff_stage() that tail calls into
 * ext_jmp_table[0] (and drops if the slot is empty): basic only itself.
 *
 * ext_tail_redirect (basic and redirect) and ext_tail_pass (basic) are the
 * XDP programs the tests put into ext_jmp_table. The extension, loaded
 * first as the only user of the map, makes it the map's owner: an XDP
 * program then goes in only with the extension's expected_attach_type, 0
 * (kernel/bpf/core.c __bpf_prog_map_compatible()). libbpf gives SEC("xdp")
 * BPF_XDP when the kernel passes its FEAT_EXP_ATTACH_TYPE probe (a cgroup
 * program: not without CONFIG_CGROUPS), so the tests load these two with
 * it cleared either way.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} ext_jmp_table SEC(".maps");

SEC("freplace/ff_stage")
int ext_tail(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &ext_jmp_table, 0);
	return XDP_DROP;
}

SEC("xdp")
int ext_tail_redirect(struct xdp_md *ctx)
{
	return bpf_redirect(1, 0);
}

SEC("xdp")
int ext_tail_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
