// SPDX-License-Identifier: GPL-2.0
/*
 * maps_btf: BTF-defined maps of many types in SEC(".maps").
 *
 * Exercises: the BTF map definition convention (__uint/__type/__array
 * members of an anonymous struct), key/value given by type or by size,
 * map_flags (BPF_F_NO_PREALLOC, BPF_F_NUMA_NODE), numa_node, map_extra
 * (bloom filter hash count), pinning = LIBBPF_PIN_BY_NAME, a PROG_ARRAY with
 * initial values (relocations in .maps against programs for tail calls),
 * ARRAY_OF_MAPS with a named inner map type and initial values, a
 * HASH_OF_MAPS with an anonymous inline inner map definition. Map types:
 * hash, array, percpu_array, percpu_hash, lru_hash, lru_percpu_hash,
 * lpm_trie, queue, stack, bloom_filter, ringbuf, perf_event_array,
 * prog_array, array_of_maps, hash_of_maps. The XDP program `xdp_use_maps`
 * touches all of them; `tail_a` and `tail_b` are the tail-call targets.
 */
#include "fixture.h"

struct flow_key {
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 pad[3];
};

struct flow_stats {
	__u64 packets;
	__u64 bytes;
};

struct lpm_v4_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct flow_key);
	__type(value, struct flow_stats);
} flows SEC(".maps");

/* Key and value given by size rather than by type. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u64));
} sized_array SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} percpu_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct flow_stats);
} percpu_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 128);
	__type(key, __u32);
	__type(value, __u64);
} lru SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 128);
	__type(key, __u32);
	__type(value, __u64);
} lru_percpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 256);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v4_key);
	__type(value, __u32);
} routes SEC(".maps");

/* Queue and stack have no key. */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 32);
	__type(value, __u32);
} fifo SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 32);
	__type(value, __u64);
} lifo SEC(".maps");

/* Bloom filter: no key, map_extra is the number of hash functions. */
struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 1000);
	__uint(map_extra, 3);
	__type(value, __u32);
} seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf_out SEC(".maps");

/* Pinned by name under the pin root (/sys/fs/bpf by default). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pybpf_fixture_pinned SEC(".maps");

/* map_flags and numa_node together. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_NUMA_NODE);
	__uint(numa_node, 0);
	__type(key, __u32);
	__type(value, __u32);
} numa_hash SEC(".maps");

/* Inner map type shared by the array-of-maps and its initial values. */
struct inner_counter {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
};

struct inner_counter inner0 SEC(".maps");
struct inner_counter inner1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner_counter);
} outer_array SEC(".maps") = {
	.values = { [0] = &inner0, [2] = &inner1 },
};

/* Anonymous inner definition, no initial values. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 8);
	__type(key, __u32);
	__array(values, struct {
		__uint(type, BPF_MAP_TYPE_HASH);
		__uint(max_entries, 16);
		__type(key, __u32);
		__type(value, __u32);
	});
} outer_hash SEC(".maps");

SEC("xdp")
int tail_a(struct xdp_md *ctx)
{
	return XDP_DROP;
}

SEC("xdp")
int tail_b(struct xdp_md *ctx)
{
	return XDP_TX;
}

/* Tail-call table with initial values: slot 0 -> tail_a, slot 2 -> tail_b. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, int (struct xdp_md *));
} jmp_table SEC(".maps") = {
	.values = { [0] = (void *)&tail_a, [2] = (void *)&tail_b },
};

SEC("xdp")
int xdp_use_maps(struct xdp_md *ctx)
{
	struct flow_key fk = { .saddr = 1, .daddr = 2, .sport = 3, .dport = 4, .proto = 17 };
	struct flow_stats *st, zero = {};
	struct lpm_v4_key lk = { .prefixlen = 32, .addr = { 10, 0, 0, 1 } };
	__u32 key = 0, u32v = 7, *route;
	__u64 u64v = 9, *v;
	void *inner;

	st = bpf_map_lookup_elem(&flows, &fk);
	if (!st) {
		bpf_map_update_elem(&flows, &fk, &zero, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&flows, &fk);
	}
	if (st) {
		st->packets++;
		st->bytes += ctx->data_end - ctx->data;
	}

	v = bpf_map_lookup_elem(&sized_array, &key);
	if (v)
		*v += 1;
	v = bpf_map_lookup_elem(&percpu_counters, &key);
	if (v)
		*v += 1;
	bpf_map_update_elem(&percpu_flows, &key, &zero, BPF_ANY);
	bpf_map_update_elem(&lru, &key, &u64v, BPF_ANY);
	bpf_map_update_elem(&lru_percpu, &key, &u64v, BPF_ANY);
	bpf_map_delete_elem(&numa_hash, &key);
	bpf_map_update_elem(&pybpf_fixture_pinned, &key, &u32v, BPF_ANY);

	route = bpf_map_lookup_elem(&routes, &lk);
	if (route)
		u32v = *route;

	bpf_map_push_elem(&fifo, &u32v, BPF_EXIST);
	bpf_map_push_elem(&lifo, &u64v, 0);
	bpf_map_push_elem(&seen, &u32v, 0);
	if (bpf_map_peek_elem(&seen, &u32v) == 0)
		bpf_map_pop_elem(&fifo, &u32v);

	bpf_ringbuf_output(&rb, &u64v, sizeof(u64v), 0);
	bpf_perf_event_output(ctx, &perf_out, BPF_F_CURRENT_CPU, &u32v, sizeof(u32v));

	inner = bpf_map_lookup_elem(&outer_array, &key);
	if (inner) {
		v = bpf_map_lookup_elem(inner, &key);
		if (v)
			*v += 1;
	}
	inner = bpf_map_lookup_elem(&outer_hash, &key);
	if (inner)
		bpf_map_update_elem(inner, &key, &u32v, BPF_ANY);

	bpf_tail_call(ctx, &jmp_table, u32v & 3);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
