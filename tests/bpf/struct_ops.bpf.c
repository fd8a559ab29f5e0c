// SPDX-License-Identifier: GPL-2.0
/*
 * struct_ops: a TCP congestion control implemented in BPF.
 *
 * Exercises: SEC("struct_ops/...") programs (BPF_PROG_TYPE_STRUCT_OPS,
 * attach_btf_id = the kernel struct, expected_attach_type = member index),
 * a SEC(".struct_ops") variable of a kernel struct type whose function
 * pointer members are relocated against the programs (R_BPF_64_ABS64 in
 * .rel.struct_ops) and whose data member (`name`) is copied to the kernel,
 * a minimal local `struct tcp_congestion_ops` (libbpf/pybpf match members
 * by name against kernel BTF), BPF_PROG argument unpacking.
 * The algorithm ("pybpf_cc") keeps cwnd: ssthresh = max(cwnd/2, 2),
 * cong_avoid only counts its calls (in .bss, so a test sees the kernel's TCP
 * stack run it), undo_cwnd returns the current cwnd.
 *
 * `bpftool struct_ops register` loads and registers it; so does pybpf's
 * kernel backend (attach_all), after which sockets may select "pybpf_cc".
 */
#include "fixture.h"
#include <bpf/bpf_tracing.h>

struct sock;

struct tcp_sock {
	__u32 snd_cwnd;
} __attribute__((preserve_access_index));

struct tcp_congestion_ops {
	__u32 (*ssthresh)(struct sock *sk);
	void (*cong_avoid)(struct sock *sk, __u32 ack, __u32 acked);
	__u32 (*undo_cwnd)(struct sock *sk);
	char name[16];
} __attribute__((preserve_access_index));

SEC("struct_ops/pybpf_ssthresh")
__u32 BPF_PROG(pybpf_ssthresh, struct sock *sk)
{
	__u32 cwnd = ((struct tcp_sock *)sk)->snd_cwnd;

	return cwnd / 2 > 2 ? cwnd / 2 : 2;
}

__u64 cong_avoid_calls;

SEC("struct_ops/pybpf_cong_avoid")
void BPF_PROG(pybpf_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	__sync_fetch_and_add(&cong_avoid_calls, 1);
}

SEC("struct_ops/pybpf_undo_cwnd")
__u32 BPF_PROG(pybpf_undo_cwnd, struct sock *sk)
{
	return ((struct tcp_sock *)sk)->snd_cwnd;
}

SEC(".struct_ops")
struct tcp_congestion_ops pybpf_cc = {
	.ssthresh = (void *)pybpf_ssthresh,
	.cong_avoid = (void *)pybpf_cong_avoid,
	.undo_cwnd = (void *)pybpf_undo_cwnd,
	.name = "pybpf_cc",
};

char LICENSE[] SEC("license") = "GPL";
