// SPDX-License-Identifier: GPL-2.0
/* A dispatcher in libxdp's style, for extension (freplace) programs (patch 7).
 *
 * xdp_dispatcher calls ff_stage() then, if that passed, ff_stage2(): global
 * functions, which the verifier checks on their own (their BTF says what
 * their argument is) and the JIT calls instead of inlining, so that
 * extension programs can replace them (SEC("freplace/ff_stage"), or any of
 * those attached to ff_stage2). The volatile keeps clang from folding the
 * calls into a constant. Without extensions the dispatcher passes every
 * frame; it needs basic only (bpf_xdp_adjust_head() adds no feature).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* The call is never made, but the verifier cannot know: it makes the
 * function "change packet data", as an extension that tail calls does
 * (bpf_helper_changes_pkt_data()); the verifier refuses an extension that
 * changes packet data in place of a function that does not.
 */
#define FF_STAGE(name)							\
	__attribute__((noinline)) int name(struct xdp_md *ctx)		\
	{								\
		volatile int ret = XDP_PASS;				\
									\
		if (ret == XDP_ABORTED)					\
			bpf_xdp_adjust_head(ctx, 0);			\
		return ret;						\
	}

FF_STAGE(ff_stage)
FF_STAGE(ff_stage2)

SEC("xdp")
int xdp_dispatcher(struct xdp_md *ctx)
{
	int ret = ff_stage(ctx);

	if (ret != XDP_PASS)
		return ret;
	return ff_stage2(ctx);
}

char _license[] SEC("license") = "GPL";
