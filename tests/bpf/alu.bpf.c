// SPDX-License-Identifier: MIT
/*
 * alu: ALU, jump and load/store encodings across -mcpu=v1/v3/v4.
 *
 * Exercises: 64- and 32-bit add/sub/mul/div/mod/and/or/xor/lsh/rsh/arsh/neg,
 * JMP and JMP32 (v3+) conditional jumps of every comparison, and the cpu v4
 * additions: signed division and modulo (sdiv/smod, 64 and 32 bit), movsx
 * (sign-extending register moves from 8/16/32 bits), ldsx (sign-extending
 * loads), bswap16/32/64, gotol and may_goto (via inline asm). Older cpus
 * compute the same values without those instructions (#if on
 * __BPF_CPU_VERSION__), so all three objects give identical results: a
 * differential test can compare v1/v3/v4, the VM and the kernel.
 * Division and modulo by zero use inline asm so the BPF semantics (x/0 = 0,
 * x%0 = x) are exercised instead of C undefined behaviour.
 *
 * Input: the first 32 bytes of the packet (XDP test_run data):
 *   a = u64 @0, b = u64 @8, c = u32 @16, d = u32 @20, bytes 24..31 for the
 *   sign-extending loads. Output: `out[]` in .bss (indices below).
 * Every slot is written on each run (skipped signed cases write 0).
 * Returns XDP_PASS, or XDP_DROP when the packet is shorter than 32 bytes.
 */
#include "fixture.h"

enum {
	OUT_ADD, OUT_SUB, OUT_MUL, OUT_DIV, OUT_MOD, OUT_AND, OUT_OR, OUT_XOR,
	OUT_LSH, OUT_RSH, OUT_ARSH, OUT_NEG,
	OUT_ADD32, OUT_MUL32, OUT_DIV32, OUT_RSH32, OUT_ARSH32,
	OUT_SDIV, OUT_SMOD, OUT_SDIV32, OUT_SMOD32,
	OUT_MOVSX8, OUT_MOVSX16, OUT_MOVSX32,
	OUT_LDSX8, OUT_LDSX16, OUT_LDSX32,
	OUT_BSWAP16, OUT_BSWAP32, OUT_BSWAP64, OUT_HTONS, OUT_HTONL,
	OUT_JMP64, OUT_JMP32,
	OUT_ASM_DIV0, OUT_ASM_MOD0, OUT_ASM_DIV32_0, OUT_ASM_MOD32_0,
	OUT_GOTOL, OUT_MAY_GOTO,
	OUT_COUNT
};

__u64 out[OUT_COUNT];

static __always_inline __s64 sdiv64(__s64 a, __s64 b)
{
#if __BPF_CPU_VERSION__ >= 4
	return a / b;
#else
	__u64 ua = a < 0 ? 0 - (__u64)a : (__u64)a;
	__u64 ub = b < 0 ? 0 - (__u64)b : (__u64)b;
	__u64 q = ua / ub;

	return (__s64)((a < 0) != (b < 0) ? 0 - q : q);
#endif
}

static __always_inline __s64 smod64(__s64 a, __s64 b)
{
#if __BPF_CPU_VERSION__ >= 4
	return a % b;
#else
	__u64 ua = a < 0 ? 0 - (__u64)a : (__u64)a;
	__u64 ub = b < 0 ? 0 - (__u64)b : (__u64)b;
	__u64 r = ua % ub;

	return (__s64)(a < 0 ? 0 - r : r);
#endif
}

static __always_inline __s32 sdiv32(__s32 a, __s32 b)
{
#if __BPF_CPU_VERSION__ >= 4
	return a / b;
#else
	__u32 ua = a < 0 ? 0 - (__u32)a : (__u32)a;
	__u32 ub = b < 0 ? 0 - (__u32)b : (__u32)b;
	__u32 q = ua / ub;

	return (__s32)((a < 0) != (b < 0) ? 0 - q : q);
#endif
}

static __always_inline __s32 smod32(__s32 a, __s32 b)
{
#if __BPF_CPU_VERSION__ >= 4
	return a % b;
#else
	__u32 ua = a < 0 ? 0 - (__u32)a : (__u32)a;
	__u32 ub = b < 0 ? 0 - (__u32)b : (__u32)b;
	__u32 r = ua % ub;

	return (__s32)(a < 0 ? 0 - r : r);
#endif
}

/* One bit per comparison, so a single value records every branch taken. */
static __always_inline __u64 cmp_bits64(__u64 a, __u64 b)
{
	__s64 sa = a, sb = b;

	return (a == b) | (a != b) << 1 | (a < b) << 2 | (a <= b) << 3 |
	       (a > b) << 4 | (a >= b) << 5 | (sa < sb) << 6 | (sa <= sb) << 7 |
	       (sa > sb) << 8 | (sa >= sb) << 9 | (!!(a & b)) << 10;
}

static __always_inline __u64 cmp_bits32(__u32 a, __u32 b)
{
	__s32 sa = a, sb = b;

	return (a == b) | (a != b) << 1 | (a < b) << 2 | (a <= b) << 3 |
	       (a > b) << 4 | (a >= b) << 5 | (sa < sb) << 6 | (sa <= sb) << 7 |
	       (sa > sb) << 8 | (sa >= sb) << 9 | (!!(a & b)) << 10;
}

SEC("xdp")
int alu(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 a, b, r;
	__u32 c, d;

	if (data + 32 > data_end)
		return XDP_DROP;

	a = *(__u64 *)data;
	b = *(__u64 *)(data + 8);
	c = *(__u32 *)(data + 16);
	d = *(__u32 *)(data + 20);

	out[OUT_ADD] = a + b;
	out[OUT_SUB] = a - b;
	out[OUT_MUL] = a * b;
	out[OUT_DIV] = b ? a / b : 0;
	out[OUT_MOD] = b ? a % b : a;
	out[OUT_AND] = a & b;
	out[OUT_OR] = a | b;
	out[OUT_XOR] = a ^ b;
	out[OUT_LSH] = a << (b & 63);
	out[OUT_RSH] = a >> (b & 63);
	out[OUT_ARSH] = (__u64)((__s64)a >> (b & 63));
	out[OUT_NEG] = 0 - a;

	out[OUT_ADD32] = (__u32)(c + d);
	out[OUT_MUL32] = (__u32)(c * d);
	out[OUT_DIV32] = d ? c / d : 0;
	out[OUT_RSH32] = c >> (d & 31);
	out[OUT_ARSH32] = (__u32)((__s32)c >> (d & 31));

	/*
	 * Avoid C's undefined cases; the asm section below covers x/0. Modulo
	 * uses other operands than division so clang cannot derive it from the
	 * quotient and has to emit smod.
	 */
	out[OUT_SDIV] = out[OUT_SMOD] = out[OUT_SDIV32] = out[OUT_SMOD32] = 0;
	if (b != 0 && !((__s64)a == (-0x7fffffffffffffffLL - 1) && (__s64)b == -1))
		out[OUT_SDIV] = (__u64)sdiv64(a, b);
	if (d != 0 && (__s32)d != -1)
		out[OUT_SMOD] = (__u64)smod64(a, (__s32)d);
	if (d != 0 && !((__s32)c == (-0x7fffffff - 1) && (__s32)d == -1))
		out[OUT_SDIV32] = (__u32)sdiv32(c, d);
	if (c != 0 && (__s32)c != -1)
		out[OUT_SMOD32] = (__u32)smod32(d, c);

	out[OUT_MOVSX8] = (__u64)(__s64)(__s8)a;
	out[OUT_MOVSX16] = (__u64)(__s64)(__s16)a;
	out[OUT_MOVSX32] = (__u64)(__s64)(__s32)a;
	out[OUT_LDSX8] = (__u64)(__s64)*(volatile __s8 *)(data + 24);
	out[OUT_LDSX16] = (__u64)(__s64)*(volatile __s16 *)(data + 26);
	out[OUT_LDSX32] = (__u64)(__s64)*(volatile __s32 *)(data + 28);

	out[OUT_BSWAP16] = __builtin_bswap16(c);
	out[OUT_BSWAP32] = __builtin_bswap32(c);
	out[OUT_BSWAP64] = __builtin_bswap64(a);
	out[OUT_HTONS] = bpf_htons(d);
	out[OUT_HTONL] = bpf_htonl(d);

	out[OUT_JMP64] = cmp_bits64(a, b);
	out[OUT_JMP32] = cmp_bits32(c, d);

	/* BPF semantics of division by zero: quotient 0, remainder = dividend. */
	r = a;
	asm volatile("%[r] /= %[z]" : [r] "+r"(r) : [z] "r"(b & 0));
	out[OUT_ASM_DIV0] = r;
	r = a;
	asm volatile("%[r] %%= %[z]" : [r] "+r"(r) : [z] "r"(b & 0));
	out[OUT_ASM_MOD0] = r;
	/*
	 * 32-bit forms on the full 64-bit `a`: the result must be zero-extended
	 * (w1 %= 0 leaves (u32)a, not a). Fixed registers, since cpu v1 has no
	 * "w" operand constraint although the ALU32 instructions exist.
	 */
	asm volatile("r1 = %[a]\n\t"
		     "r2 = 0\n\t"
		     "w1 /= w2\n\t"
		     "%[r] = r1"
		     : [r] "=r"(r) : [a] "r"(a) : "r1", "r2");
	out[OUT_ASM_DIV32_0] = r;
	asm volatile("r1 = %[a]\n\t"
		     "r2 = 0\n\t"
		     "w1 %%= w2\n\t"
		     "%[r] = r1"
		     : [r] "=r"(r) : [a] "r"(a) : "r1", "r2");
	out[OUT_ASM_MOD32_0] = r;

	/*
	 * gotol jumps over the add unless r is 0 (so both paths are reachable):
	 * result a ? a : 1. may_goto falls through until its budget ends.
	 */
	r = a;
#if __BPF_CPU_VERSION__ >= 4
	asm volatile("if %[r] == 0 goto +1\n\t"
		     "gotol +1\n\t"
		     "%[r] += 1" : [r] "+r"(r));
#else
	if (r == 0)
		r += 1;
#endif
	out[OUT_GOTOL] = r;
	r = 7;
#if __BPF_CPU_VERSION__ >= 4
	asm volatile("may_goto +1\n\t"
		     "%[r] += 1" : [r] "+r"(r));
#else
	r += 1;
#endif
	out[OUT_MAY_GOTO] = r;

	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
