// SPDX-License-Identifier: MIT
/*
 * loop_hash: a fixed amount of map work per run, for benchmarks.
 *
 * Exercises: a bounded, unrolled-or-not loop of 64 iterations, each doing a
 * HASH lookup and an update (`table`, u32 -> u64, 128 entries): 64
 * bpf_map_lookup_elem + 64 bpf_map_update_elem calls per run, no packet
 * access, so the cost is dominated by helper calls and map code.
 * SEC("xdp") so BPF_PROG_TEST_RUN can time it with `repeat`; returns
 * XDP_PASS. After N runs from an empty map, table[k] == N for k in 0..63.
 */
#include "fixture.h"

#define ITERATIONS 64

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 128);
	__type(key, __u32);
	__type(value, __u64);
} table SEC(".maps");

SEC("xdp")
int loop_hash(struct xdp_md *ctx)
{
	__u32 i;

	for (i = 0; i < ITERATIONS; i++) {
		__u32 key = i;
		__u64 value = 1, *old;

		old = bpf_map_lookup_elem(&table, &key);
		if (old)
			value = *old + 1;
		bpf_map_update_elem(&table, &key, &value, BPF_ANY);
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
