/* SPDX-License-Identifier: GPL-2.0 */
/* Look at a frame, maybe change it, record what was seen, return a verdict.
 *
 * For each crafted frame (UDP to MB_DPORT; the slot is sport - SLOT_SPORT_BASE):
 *  1. its shape on entry: linear bytes (data_end - data), bpf_xdp_frags_count(),
 *     bpf_xdp_frags_len(), bpf_xdp_get_buff_len();
 *  2. config.op: nothing, bpf_xdp_pull_data() (of a fixed length, of the linear
 *     length plus arg, of the frame length plus arg) or bpf_xdp_adjust_tail(arg);
 *     its return value and the shape after it;
 *  3. with config.copy, the whole frame as it is now, read with bpf_dynptr_slice()
 *     (across frags), and its linear area read with direct packet access;
 *  4. config.verdict (XDP_TX swaps the MACs; XDP_REDIRECT as config.redirect says).
 * Every frame, crafted or not, is tallied by verdict as the XDP statistics count
 * it: packets, bytes and multi-buffer packets when the program returns.
 *
 * mb_inspect.bpf.c has it as a program loaded with BPF_F_XDP_HAS_FRAGS,
 * mb_inspect_sb.bpf.c without: two objects, because programs with and
 * without frags cannot share a devmap.
 */
#ifndef MB_INSPECT_H
#define MB_INSPECT_H

#include "mb_common.h"

#define SLOTS 32
#define MAX_FRAME 9216
#define MAX_HEAD 4096
#define CHUNK 256
#define HEAD_CHUNK 64

enum { OP_NONE, OP_PULL, OP_PULL_HEAD_PLUS, OP_PULL_LEN_PLUS, OP_TAIL };
enum { R_IFINDEX, R_MAP, R_BROADCAST, R_BROADCAST_EXCLUDE_INGRESS };
#define BUCKETS 6 /* aborted, drop, pass, tx, redirect, anything else */

struct config {
	__u32 verdict;
	__u32 op;
	__s32 arg;
	__u32 copy;
	__u32 redirect; /* R_*, for XDP_REDIRECT */
	__u32 ifindex;	/* bpf_redirect() target */
	__u32 map_key;	/* tx_port/tx_hash key of R_MAP */
	__u32 use_hash; /* tx_hash rather than tx_port */
	__u32 mb_only;	/* frames without frags on entry get XDP_PASS, no op */
};

struct shape {
	__u32 head;
	__u32 nr_frags;
	__u32 frags_len;
	__u32 buff_len;
};

struct rec {
	__u64 seen;
	__s32 ret;
	__u32 verdict;
	struct shape before;
	struct shape after;
	__u32 copied; /* bytes of the frame in bytes[], 0 if not copied */
	__u32 direct; /* bytes of the linear area in head[] */
	__u8 bytes[MAX_FRAME];
	__u8 head[MAX_HEAD];
};

struct totals {
	__u64 frames;	     /* crafted frames */
	__u64 strays;	     /* anything else */
	__u64 mb_in;	     /* crafted, with frags on entry */
	__u64 op_ok;	     /* crafted, op returned 0 */
	__u64 op_err;	     /* crafted, op returned an error */
	__u64 frags_released; /* crafted: frags on entry - frags after the op */
	__u64 copy_fail;     /* crafted: a dynptr slice or the copy failed */
	__u64 packets[BUCKETS];
	__u64 bytes[BUCKETS];
	__u64 mb_packets[BUCKETS];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct config);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLOTS);
	__type(key, __u32);
	__type(value, struct rec);
} recs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct totals);
} totals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
} tx_port SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
} tx_hash SEC(".maps");

static __always_inline void get_shape(struct xdp_md *ctx, struct shape *s)
{
	s->head = ctx->data_end - ctx->data;
	s->nr_frags = bpf_xdp_frags_count(ctx);
	s->frags_len = bpf_xdp_frags_len(ctx);
	s->buff_len = bpf_xdp_get_buff_len(ctx);
}

/* The slot of a crafted frame, or -1. Headers may be in a frag (test runs). */
static __always_inline int frame_slot(struct xdp_md *ctx)
{
	__u8 buf[HDRS_LEN];
	struct bpf_dynptr dp;
	struct ethhdr *eth;
	struct iphdr *iph;
	struct udphdr *udp;
	__u8 *hdrs;
	__u16 sport;

	if (bpf_dynptr_from_xdp(ctx, 0, &dp))
		return -1;
	hdrs = bpf_dynptr_slice(&dp, 0, buf, sizeof(buf));
	if (!hdrs)
		return -1;
	eth = (void *)hdrs;
	iph = (void *)(hdrs + sizeof(*eth));
	udp = (void *)(hdrs + sizeof(*eth) + sizeof(*iph));
	if (eth->h_proto != bpf_htons(ETH_P_IP) || iph->ihl != 5 ||
	    iph->protocol != IPPROTO_UDP || udp->dest != bpf_htons(MB_DPORT))
		return -1;
	sport = bpf_ntohs(udp->source);
	if (sport < SLOT_SPORT_BASE || sport >= SLOT_SPORT_BASE + SLOTS)
		return -1;
	return sport - SLOT_SPORT_BASE;
}

/* The frame, across its frags, into dst: whole CHUNKs, then the last CHUNK
 * bytes again if the length is not a multiple (frames are at least CHUNK long).
 * Returns the bytes copied, 0 on failure.
 */
static __always_inline __u32 copy_frame(struct xdp_md *ctx, __u8 *dst, __u32 len)
{
	__u8 buf[CHUNK];
	struct bpf_dynptr dp;
	__u32 off, n, i;
	__u8 *p;

	if (len < CHUNK || len > MAX_FRAME)
		return 0;
	if (bpf_dynptr_from_xdp(ctx, 0, &dp))
		return 0;
	n = len / CHUNK;
	for (i = 0; i < MAX_FRAME / CHUNK; i++) {
		if (i >= n)
			break;
		off = i * CHUNK;
		p = bpf_dynptr_slice(&dp, off, buf, CHUNK);
		if (!p)
			return 0;
		__builtin_memcpy(dst + off, p, CHUNK);
	}
	if (len % CHUNK) {
		off = len - CHUNK;
		if (off > MAX_FRAME - CHUNK)
			return 0;
		p = bpf_dynptr_slice(&dp, off, buf, CHUNK);
		if (!p)
			return 0;
		__builtin_memcpy(dst + off, p, CHUNK);
	}
	return len;
}

/* The linear area, with direct packet access, into dst: its first MAX_HEAD
 * bytes, nothing if it is shorter than HEAD_CHUNK. Returns the bytes copied.
 */
static __always_inline __u32 copy_head(struct xdp_md *ctx, __u8 *dst)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 len = data_end - data;
	__u32 off, i;

	if (len < HEAD_CHUNK)
		return 0;
	if (len > MAX_HEAD)
		len = MAX_HEAD;
	for (i = 0; i < MAX_HEAD / HEAD_CHUNK; i++) {
		off = i * HEAD_CHUNK;
		if (off + HEAD_CHUNK > len || data + off + HEAD_CHUNK > data_end)
			break;
		__builtin_memcpy(dst + off, data + off, HEAD_CHUNK);
	}
	if (len % HEAD_CHUNK) {
		off = len - HEAD_CHUNK;
		if (off > MAX_HEAD - HEAD_CHUNK)
			return 0;
		if (data + off + HEAD_CHUNK > data_end)
			return 0;
		__builtin_memcpy(dst + off, data + off, HEAD_CHUNK);
	}
	return len;
}

static __always_inline int run_op(struct xdp_md *ctx, struct config *cfg, struct shape *s)
{
	switch (cfg->op) {
	case OP_PULL:
		return bpf_xdp_pull_data(ctx, (__u32)cfg->arg);
	case OP_PULL_HEAD_PLUS:
		return bpf_xdp_pull_data(ctx, s->head + cfg->arg);
	case OP_PULL_LEN_PLUS:
		return bpf_xdp_pull_data(ctx, s->buff_len + cfg->arg);
	case OP_TAIL:
		return bpf_xdp_adjust_tail(ctx, cfg->arg);
	}
	return 0;
}

static __always_inline int swap_macs(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = (void *)(long)ctx->data;
	unsigned char tmp[ETH_ALEN];

	if ((void *)(eth + 1) > data_end)
		return -1;
	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
	return 0;
}

static __always_inline int verdict(struct xdp_md *ctx, struct config *cfg)
{
	void *map = cfg->use_hash ? (void *)&tx_hash : (void *)&tx_port;

	switch (cfg->verdict) {
	case XDP_TX:
		return swap_macs(ctx) ? XDP_ABORTED : XDP_TX;
	case XDP_REDIRECT:
		switch (cfg->redirect) {
		case R_IFINDEX:
			return bpf_redirect(cfg->ifindex, 0);
		case R_MAP:
			return bpf_redirect_map(map, cfg->map_key, 0);
		case R_BROADCAST:
			return bpf_redirect_map(map, 0, BPF_F_BROADCAST);
		case R_BROADCAST_EXCLUDE_INGRESS:
			return bpf_redirect_map(map, 0, BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS);
		}
		return XDP_ABORTED;
	}
	return cfg->verdict;
}

static __always_inline int tally(struct xdp_md *ctx, struct totals *t, int act)
{
	__u32 b = act >= 0 && act <= XDP_REDIRECT ? act : BUCKETS - 1;
	__u32 frags = bpf_xdp_frags_count(ctx);

	if (b >= BUCKETS)
		return act;
	__sync_fetch_and_add(&t->packets[b], 1);
	__sync_fetch_and_add(&t->bytes[b], bpf_xdp_get_buff_len(ctx));
	if (frags)
		__sync_fetch_and_add(&t->mb_packets[b], 1);
	return act;
}

static __always_inline int inspect(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct config *cfg = bpf_map_lookup_elem(&config, &zero);
	struct totals *t = bpf_map_lookup_elem(&totals, &zero);
	struct shape before;
	struct rec *r;
	int slot, ret;
	__u32 key;

	if (!cfg || !t)
		return XDP_ABORTED;
	slot = frame_slot(ctx);
	if (slot < 0) {
		__sync_fetch_and_add(&t->strays, 1);
		return tally(ctx, t, XDP_PASS);
	}
	key = slot;
	r = bpf_map_lookup_elem(&recs, &key);
	if (!r)
		return XDP_ABORTED;

	get_shape(ctx, &before);
	__sync_fetch_and_add(&t->frames, 1);
	if (before.nr_frags)
		__sync_fetch_and_add(&t->mb_in, 1);
	if (cfg->mb_only && !before.nr_frags) {
		r->seen++;
		r->before = before;
		r->ret = 0;
		r->verdict = XDP_PASS;
		return tally(ctx, t, XDP_PASS);
	}

	ret = run_op(ctx, cfg, &before);
	if (cfg->op != OP_NONE)
		__sync_fetch_and_add(ret ? &t->op_err : &t->op_ok, 1);

	r->seen++;
	r->ret = ret;
	r->before = before;
	get_shape(ctx, &r->after);
	if (before.nr_frags > r->after.nr_frags)
		__sync_fetch_and_add(&t->frags_released, before.nr_frags - r->after.nr_frags);
	r->copied = 0;
	r->direct = 0;
	if (cfg->copy) {
		r->copied = copy_frame(ctx, r->bytes, r->after.buff_len);
		r->direct = copy_head(ctx, r->head);
		if (!r->copied || !r->direct)
			__sync_fetch_and_add(&t->copy_fail, 1);
	}
	ret = verdict(ctx, cfg);
	r->verdict = ret;
	return tally(ctx, t, ret);
}

#endif /* MB_INSPECT_H */
