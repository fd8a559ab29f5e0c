// SPDX-License-Identifier: GPL-2.0
/*
 * struct_ops through a BPF link: the same minimal TCP congestion control as
 * struct_ops.bpf.c, in SEC(".struct_ops.link") under the name "pybpf_cc_link".
 *
 * Exercises: a .struct_ops.link variable (its map is created with BPF_F_LINK;
 * the map update only stores the value and BPF_LINK_CREATE on the map fd
 * registers it, closing the link unregisters), a local struct that names
 * its members in a different order from the kernel's (they are matched by
 * name) and leaves out most of them.
 */
#include "fixture.h"
#include <bpf/bpf_tracing.h>

struct sock;

struct tcp_sock {
	__u32 snd_cwnd;
} __attribute__((preserve_access_index));

struct tcp_congestion_ops {
	char name[16];
	__u32 (*undo_cwnd)(struct sock *sk);
	void (*cong_avoid)(struct sock *sk, __u32 ack, __u32 acked);
	__u32 (*ssthresh)(struct sock *sk);
} __attribute__((preserve_access_index));

SEC("struct_ops/link_ssthresh")
__u32 BPF_PROG(link_ssthresh, struct sock *sk)
{
	__u32 cwnd = ((struct tcp_sock *)sk)->snd_cwnd;

	return cwnd / 2 > 2 ? cwnd / 2 : 2;
}

SEC("struct_ops/link_cong_avoid")
void BPF_PROG(link_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
}

SEC("struct_ops/link_undo_cwnd")
__u32 BPF_PROG(link_undo_cwnd, struct sock *sk)
{
	return ((struct tcp_sock *)sk)->snd_cwnd;
}

SEC(".struct_ops.link")
struct tcp_congestion_ops pybpf_cc_link = {
	.name = "pybpf_cc_link",
	.undo_cwnd = (void *)link_undo_cwnd,
	.cong_avoid = (void *)link_cong_avoid,
	.ssthresh = (void *)link_ssthresh,
};

char LICENSE[] SEC("license") = "GPL";
