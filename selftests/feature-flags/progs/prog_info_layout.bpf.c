// SPDX-License-Identifier: GPL-2.0
/* How the UAPI header this suite is compiled against (the tree's
 * tools/include/uapi) lays out struct bpf_prog_info: its size, where
 * xdp_features sits, and where attach_btf_id (the field before it) sits.
 * The tests read these from the object's .rodata, so they follow the
 * header instead of hardcoding its layout.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile struct {
	__u32 size;
	__u32 xdp_features_offset;
	__u32 attach_btf_id_offset;
} prog_info_layout = {
	.size = sizeof(struct bpf_prog_info),
	.xdp_features_offset = __builtin_offsetof(struct bpf_prog_info, xdp_features),
	.attach_btf_id_offset = __builtin_offsetof(struct bpf_prog_info, attach_btf_id),
};

SEC("xdp")
int prog_info_layout_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
