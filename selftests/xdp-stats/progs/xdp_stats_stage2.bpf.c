// SPDX-License-Identifier: GPL-2.0
/* Two-stage XDP: a device program that redirects crafted frames into a
 * devmap or a cpumap entry, and the second-stage programs such entries run,
 * which drop every frame. The xdp-stats series counts the device program's
 * XDP_REDIRECT and must not count the second stage's XDP_DROP anywhere.
 * `stage2_runs` says how often each second stage ran (0 devmap, 1 cpumap,
 * 2 the cpumap one that redirects, 3 the devmap one that selects), `tally`
 * what the first stage returned.
 *
 * devmap_stage2_select drops the frames whose selector is 'D' and passes
 * the others on to the entry's device; `stage2_drops` counts what it dropped.
 *
 * cpumap_stage2_redirect instead redirects with bpf_redirect() to
 * config[CFG_REDIRECT_IFINDEX]: with no such device the core's redirect
 * fails, and that failure is the receiving device's (xdp-stats counts it in
 * redirect-errors there, as the tracepoint reports it).
 */
#include "xdp_stats_common.h"

#define CFG_CPU 0
#define CFG_REDIRECT_IFINDEX 1

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpf_devmap_val);
} dev_stage2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, struct bpf_cpumap_val);
} cpu_stage2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} stage2_runs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} stage2_drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TALLY_NR);
	__type(key, __u32);
	__type(value, struct tally_val);
} tally SEC(".maps");

static __always_inline int first_stage(struct xdp_md *ctx, int act_for_crafted)
{
	if (!frame_selector(ctx)) {
		tally_add(&tally, TALLY_STRAY, ctx);
		return XDP_PASS;
	}
	tally_add(&tally, tally_index(act_for_crafted), ctx);
	return act_for_crafted;
}

SEC("xdp")
int xdp_to_devmap(struct xdp_md *ctx)
{
	if (!frame_selector(ctx))
		return first_stage(ctx, XDP_PASS);
	return first_stage(ctx, bpf_redirect_map(&dev_stage2, 0, 0));
}

SEC("xdp")
int xdp_to_cpumap(struct xdp_md *ctx)
{
	__u32 key = CFG_CPU;
	__u32 *cpu = bpf_map_lookup_elem(&config, &key);

	if (!frame_selector(ctx) || !cpu)
		return first_stage(ctx, XDP_PASS);
	return first_stage(ctx, bpf_redirect_map(&cpu_stage2, *cpu, 0));
}

static __always_inline void count_run(__u32 which)
{
	__u64 *runs = bpf_map_lookup_elem(&stage2_runs, &which);

	if (runs)
		__sync_fetch_and_add(runs, 1);
}

static __always_inline int second_stage(__u32 which)
{
	count_run(which);
	return XDP_DROP;
}

SEC("xdp/devmap")
int devmap_stage2(struct xdp_md *ctx)
{
	return second_stage(0);
}

SEC("xdp/devmap")
int devmap_stage2_select(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *drops;

	count_run(3);
	if (frame_selector(ctx) != 'D')
		return XDP_PASS;
	drops = bpf_map_lookup_elem(&stage2_drops, &key);
	if (drops)
		__sync_fetch_and_add(drops, 1);
	return XDP_DROP;
}

SEC("xdp/cpumap")
int cpumap_stage2(struct xdp_md *ctx)
{
	return second_stage(1);
}

SEC("xdp/cpumap")
int cpumap_stage2_redirect(struct xdp_md *ctx)
{
	__u32 key = CFG_REDIRECT_IFINDEX;
	__u32 *ifindex = bpf_map_lookup_elem(&config, &key);

	count_run(2);
	return ifindex ? bpf_redirect(*ifindex, 0) : XDP_DROP;
}

char _license[] SEC("license") = "GPL";
