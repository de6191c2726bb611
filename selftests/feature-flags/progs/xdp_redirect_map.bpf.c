// SPDX-License-Identifier: GPL-2.0
/* Redirect every frame to the device stored at key 0 of tx_port (a DEVMAP):
 * a reachable bpf_redirect_map() call, so the program needs basic and
 * redirect. The test writes the target ifindex into the map; with the slot
 * empty the redirect fails and the frame is dropped (flags 0: no fallback).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} tx_port SEC(".maps");

SEC("xdp")
int xdp_redirect_map(struct xdp_md *ctx)
{
	return bpf_redirect_map(&tx_port, 0, 0);
}

char _license[] SEC("license") = "GPL";
