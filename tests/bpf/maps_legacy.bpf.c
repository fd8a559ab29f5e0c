// SPDX-License-Identifier: GPL-2.0
/*
 * maps_legacy: maps declared the pre-BTF way, as `struct bpf_map_def` in
 * SEC("maps").
 *
 * Exercises: the legacy map section (fixed-layout records, one per symbol,
 * no BTF map definition) as old libbpf and iproute2 read it; map
 * relocations against SEC("maps") symbols; map_flags in a legacy record.
 * libbpf >= 1.0 refuses this section; pybpf's ELF layer must parse it.
 * The struct is declared here with the old libbpf field order.
 */
#include "fixture.h"

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def SEC("maps") legacy_counts = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 4,
	.map_flags = 0,
};

struct bpf_map_def SEC("maps") legacy_hash = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u32),
	.max_entries = 128,
	.map_flags = BPF_F_NO_PREALLOC,
};

SEC("socket")
int legacy_socket(struct __sk_buff *skb)
{
	__u32 key = skb->protocol & 3, len = skb->len;
	__u64 *count;

	count = bpf_map_lookup_elem(&legacy_counts, &key);
	if (count)
		__sync_fetch_and_add(count, 1);
	bpf_map_update_elem(&legacy_hash, &key, &len, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
