// SPDX-License-Identifier: MIT
/*
 * btf_types: a catalogue of C types, for the BTF parser and the C dumper.
 *
 * Exercises every BTF kind clang emits: INT (signed/unsigned/char/bool,
 * 8..128 bit), FLOAT (float, double), PTR, ARRAY (multi-dimensional),
 * STRUCT and UNION (nested, anonymous, packed, with bitfields and a
 * flexible array member), ENUM (negative values) and ENUM64 (values above
 * 32 bits), FWD (struct and union), TYPEDEF chains, VOLATILE, CONST,
 * RESTRICT, FUNC/FUNC_PROTO (global and static, with named parameters and
 * void return), VAR/DATASEC (.data, .rodata, .bss), DECL_TAG (on a struct,
 * a member, a function, a parameter and a variable) and TYPE_TAG (on
 * pointers, including __kptr on a map value member).
 * `btf_types` (SEC("socket")) touches the variables so none is dropped and
 * returns 0.
 */
#include "fixture.h"

#define __tag(x) __attribute__((btf_decl_tag(x)))
#define __ttag(x) __attribute__((btf_type_tag(x)))

typedef unsigned long long u64_alias_t;
typedef u64_alias_t u64_alias2_t;
typedef const volatile int cv_int_t;

struct fwd_struct;
union fwd_union;

enum small_enum {
	SMALL_NEG = -2,
	SMALL_ZERO = 0,
	SMALL_BIG = 0x7fffffff,
};

enum wide_enum {
	WIDE_LOW = 1,
	WIDE_HIGH = 0x123456789aULL,
};

enum __attribute__((packed)) byte_enum {
	BYTE_A,
	BYTE_B = 200,
};

struct bits {
	unsigned int a : 1;
	unsigned int b : 3;
	int c : 5;
	unsigned long long d : 40;
	unsigned char e : 2;
};

struct __attribute__((packed)) packed_hdr {
	__u8 kind;
	__u32 value;
	__u16 tail;
};

struct tagged {
	int plain;
	int tagged_member __tag("member_tag");
	int __ttag("user") *user_ptr;
} __tag("struct_tag");

struct nested {
	int id;
	union {
		__u32 as_u32;
		__u8 as_bytes[4];
		struct {
			__u16 lo;
			__u16 hi;
		};
	};
	struct {
		char name[8];
		double weight;
	} inner;
	struct bits flags;
	struct packed_hdr hdr;
	enum small_enum small;
	enum wide_enum wide;
	enum byte_enum byte;
	struct fwd_struct *opaque;
	union fwd_union *opaque_u;
	void (*callback)(int, const char *);
	int matrix[2][3];
	u64_alias2_t alias;
	const char *restrict rstr;
	volatile __s64 vol;
	_Bool flag;
	float f;
	__int128 wide_int;
	unsigned __int128 wide_uint;
	signed char sc;
	unsigned short us;
};

struct flex {
	__u32 len;
	__u8 data[];
};

struct kptr_holder {
	struct nested __ttag("kptr") *ref;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kptr_holder);
} holders SEC(".maps");

struct nested g_nested = { .id = 1, .as_u32 = 2, .inner = { .name = "n", .weight = 1.5 } };
const volatile struct bits g_bits = { .a = 1, .b = 5, .c = -3, .d = 1ULL << 39, .e = 2 };
cv_int_t g_cv = 3;
struct flex *g_flex_ptr;
struct tagged g_tagged __tag("var_tag");
enum wide_enum g_wide;
float g_float = 2.5f;
double g_double = -0.25;
struct packed_hdr g_hdr;

__noinline int tagged_func(int x __tag("param_tag"), struct nested *n) __tag("func_tag")
{
	return n ? n->id + x : x;
}

static __noinline void void_func(void)
{
	g_wide = WIDE_HIGH;
}

SEC("socket")
int btf_types(struct __sk_buff *skb)
{
	struct nested local = {};

	void_func();
	local.id = g_bits.b + g_cv + *(volatile __u32 *)&g_float + *(volatile __u32 *)&g_double + g_hdr.tail;
	g_tagged.plain = tagged_func(skb->len & 7, &local);
	return g_nested.id + (g_flex_ptr != 0) - 1 - (local.id != 0) + (local.id != 0);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
