/* SPDX-License-Identifier: GPL-2.0 */
/* What the multi-buffer programs share: the kfuncs of the multi-buffer
 * series (bpf_xdp_frags_count(), bpf_xdp_frags_len(), bpf_xdp_pull_data())
 * and of 6.12 (XDP dynptrs), and the frames the tests craft (mbcommon.py):
 * Ethernet, IPv4 without options, UDP to MB_DPORT from SLOT_SPORT_BASE + slot.
 */
#ifndef MB_COMMON_H
#define MB_COMMON_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

extern __u32 bpf_xdp_frags_count(struct xdp_md *ctx) __ksym;
extern __u32 bpf_xdp_frags_len(struct xdp_md *ctx) __ksym;
extern int bpf_xdp_pull_data(struct xdp_md *ctx, __u32 len) __ksym;
extern int bpf_dynptr_from_xdp(struct xdp_md *ctx, __u64 flags,
			       struct bpf_dynptr *ptr__uninit) __ksym;
extern void *bpf_dynptr_slice(const struct bpf_dynptr *ptr, __u32 offset,
			      void *buffer__opt, __u32 buffer__szk) __ksym;

#define MB_DPORT 40000
#define SLOT_SPORT_BASE 50000
#define HDRS_LEN (sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct udphdr))

#endif /* MB_COMMON_H */
