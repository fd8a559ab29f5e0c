// SPDX-License-Identifier: MIT
/*
 * atomics: BPF_ATOMIC instructions, 32 and 64 bit.
 *
 * Exercises: the v1 atomic add without fetch (BPF_XADD: `lock *(u64 *)(r) +=`),
 * and on cpu v3+ add/and/or/xor with and without BPF_FETCH, xchg and cmpxchg
 * (BPF_CMPXCHG uses r0 implicitly), on 32- and 64-bit words in .data and in
 * an ARRAY map value. Cpu v1 has only atomic add without fetch, so it
 * computes the same values with plain loads/stores (#if on
 * __BPF_CPU_VERSION__): all three objects give identical results.
 *
 * Input: u64 `x` at packet offset 0 (test_run data, >= 8 bytes).
 * State: `w64`/`w32` in .data start at 0x1000/0x100; each run does, in order,
 *   add x, and ~1, or 0x10, xor 0xff, xchg with x, cmpxchg(old == x -> x+1),
 * recording every fetched old value in `fetched[]` (.bss).
 * Returns XDP_PASS, or XDP_DROP for packets shorter than 8 bytes.
 */
#include "fixture.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} counter SEC(".maps");

__u64 w64 = 0x1000;
__u32 w32 = 0x100;
__u64 fetched[12];

#if __BPF_CPU_VERSION__ >= 3
#define FETCH_ADD(p, v) __sync_fetch_and_add(p, v)
#define FETCH_AND(p, v) __sync_fetch_and_and(p, v)
#define FETCH_OR(p, v) __sync_fetch_and_or(p, v)
#define FETCH_XOR(p, v) __sync_fetch_and_xor(p, v)
#define XCHG(p, v) __sync_lock_test_and_set(p, v)
#define CMPXCHG(p, o, n) __sync_val_compare_and_swap(p, o, n)
#else
/* Same results without fetching atomics (single-threaded test_run). */
#define FETCH_OP(p, v, op) ({ typeof(*(p)) __old = *(p); *(p) = __old op (v); __old; })
#define FETCH_ADD(p, v) FETCH_OP(p, v, +)
#define FETCH_AND(p, v) FETCH_OP(p, v, &)
#define FETCH_OR(p, v) FETCH_OP(p, v, |)
#define FETCH_XOR(p, v) FETCH_OP(p, v, ^)
#define XCHG(p, v) ({ typeof(*(p)) __old = *(p); *(p) = (v); __old; })
#define CMPXCHG(p, o, n) ({ typeof(*(p)) __old = *(p); if (__old == (o)) *(p) = (n); __old; })
#endif

SEC("xdp")
int atomics(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 key = 0;
	__u64 x, *cnt;

	if (data + 8 > data_end)
		return XDP_DROP;
	x = *(__u64 *)data;

	/* Non-fetching add: BPF_XADD on every cpu version. */
	cnt = bpf_map_lookup_elem(&counter, &key);
	if (cnt)
		__sync_fetch_and_add(cnt, x);

	fetched[0] = FETCH_ADD(&w64, x);
	fetched[1] = FETCH_AND(&w64, ~1ULL);
	fetched[2] = FETCH_OR(&w64, 0x10);
	fetched[3] = FETCH_XOR(&w64, 0xff);
	fetched[4] = XCHG(&w64, x);
	fetched[5] = CMPXCHG(&w64, x, x + 1);

	fetched[6] = FETCH_ADD(&w32, (__u32)x);
	fetched[7] = FETCH_AND(&w32, ~1U);
	fetched[8] = FETCH_OR(&w32, 0x10);
	fetched[9] = FETCH_XOR(&w32, 0xff);
	fetched[10] = XCHG(&w32, (__u32)x);
	fetched[11] = CMPXCHG(&w32, (__u32)x + 1, 7); /* fails: old != x + 1 */

	/*
	 * Non-fetching or/and/xor (result unused): counter |= 1 << 40,
	 * &= ~(1 << 41), ^= 1 << 42 (plain read-modify-write on cpu v1).
	 */
#if __BPF_CPU_VERSION__ >= 3
	if (cnt) {
		__sync_fetch_and_or(cnt, 1ULL << 40);
		__sync_fetch_and_and(cnt, ~(1ULL << 41));
		__sync_fetch_and_xor(cnt, 1ULL << 42);
	}
#else
	if (cnt) {
		*cnt |= 1ULL << 40;
		*cnt &= ~(1ULL << 41);
		*cnt ^= 1ULL << 42;
	}
#endif
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
