// SPDX-License-Identifier: GPL-2.0
/*
 * subprogs: BPF-to-BPF calls and callbacks.
 *
 * Exercises: static __noinline subprograms in .text (call relocations
 * R_BPF_64_32 against the .text section symbol), a global (non-static)
 * subprogram verified on its own (BTF FUNC linkage global) called from
 * programs in different sections, a global __noinline function taking the
 * ctx, several programs in one section (two SEC("xdp"), two SEC("tc")),
 * callbacks passed as function pointers (ld_imm64 with BPF_PSEUDO_FUNC):
 * bpf_loop and bpf_for_each_map_elem, a nested call chain three deep.
 *
 * All programs are deterministic so the VM and the kernel can be compared:
 *   xdp_sub_a: XDP_PASS (2) if sum_to(10) == 55 else XDP_ABORTED.
 *   xdp_sub_b: (pkt_len_of(ctx) + loop_sum(8)) & 1 ? XDP_DROP : XDP_PASS.
 *   tc_sub_a:  TC_ACT_OK; stores sum of the `values` array in `result`.
 *   tc_sub_b:  TC_ACT_SHOT if skb->len > scale(100, 3) else TC_ACT_OK.
 */
#include "fixture.h"
#include <linux/pkt_cls.h>

struct bpf_map;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} values SEC(".maps");

__u64 result;
__u64 loop_result;

static __noinline int add(int a, int b)
{
	return a + b;
}

static __noinline int sum_to(int n)
{
	int i, s = 0;

	for (i = 1; i <= n && i < 64; i++)
		s = add(s, i);
	return s;
}

/* Global: the kernel verifies it once, independently of its callers. */
__noinline int scale(int x, int factor)
{
	return add(x * factor, 0);
}

__noinline int pkt_len_of(struct xdp_md *ctx)
{
	if (!ctx)
		return 0;
	return ctx->data_end - ctx->data;
}

struct loop_ctx {
	__u64 sum;
	__u32 limit;
};

static int loop_body(__u32 index, void *data)
{
	struct loop_ctx *lc = data;

	lc->sum += index * 2;
	return index + 1 >= lc->limit; /* 1 stops the loop */
}

static __noinline __u64 loop_sum(__u32 n)
{
	struct loop_ctx lc = { .sum = 0, .limit = n };

	bpf_loop(n, loop_body, &lc, 0);
	return lc.sum;
}

struct sum_ctx {
	__u64 total;
	__u32 visited;
};

static __u64 sum_elem(struct bpf_map *map, __u32 *key, __u64 *val, struct sum_ctx *sc)
{
	sc->total += *val;
	sc->visited++;
	return 0; /* continue */
}

SEC("xdp")
int xdp_sub_a(struct xdp_md *ctx)
{
	return sum_to(10) == 55 ? XDP_PASS : XDP_ABORTED;
}

SEC("xdp")
int xdp_sub_b(struct xdp_md *ctx)
{
	__u64 s = loop_sum(8);

	loop_result = s;
	return (pkt_len_of(ctx) + s) & 1 ? XDP_DROP : XDP_PASS;
}

SEC("tc")
int tc_sub_a(struct __sk_buff *skb)
{
	struct sum_ctx sc = {};

	bpf_for_each_map_elem(&values, sum_elem, &sc, 0);
	result = sc.total + sc.visited;
	return TC_ACT_OK;
}

SEC("tc")
int tc_sub_b(struct __sk_buff *skb)
{
	return skb->len > (__u32)scale(100, 3) ? TC_ACT_SHOT : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
