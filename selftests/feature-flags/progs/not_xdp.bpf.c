// SPDX-License-Identifier: GPL-2.0
/* Programs of other types, which need no XDP feature: a socket filter, and
 * a tc classifier that calls bpf_redirect() (redirect only counts for XDP).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("socket")
int sock_filter_accept_all(struct __sk_buff *skb)
{
	return skb->len;
}

SEC("tc")
int tc_redirect(struct __sk_buff *skb)
{
	return bpf_redirect(1, 0);
}

char _license[] SEC("license") = "GPL";
