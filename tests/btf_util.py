"""Shared helpers of the BTF tests: a C source touching every BTF kind, and clang.

The source is compiled into the test's tmp_path (clang-19 -O2 -g -target bpf),
so the tests read BTF exactly as clang emits it, and can diff pybpf's dump
against the installed bpftool on the same object.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CLANG = "clang-19"
FIXTURES = Path(__file__).resolve().parent / "bpf"
VMLINUX = Path("/sys/kernel/btf/vmlinux")

KITCHEN_SOURCE = r"""#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

typedef unsigned int u32_t;
typedef unsigned long long u64_t;

enum color { RED, GREEN = 5, BLUE = -3 };
enum big { SMALL = 1, HUGE = 0xffffffffffffULL, NEGBIG = -0x100000000LL };
enum ubig { UB = 0xfffffffffffffff0ULL };

struct bits {
	unsigned int a : 3;
	unsigned int b : 5;
	int c : 7;
	unsigned long long d : 40;
	char tail;
};

union u {
	int i;
	float f;
	double d;
	char bytes[8];
};

struct __attribute__((btf_decl_tag("tagged_struct"))) node {
	struct node *next;
	const volatile int *cvp;
	int (*callback)(int, const char *, ...);
	struct bits b;
	union u u;
	enum color c;
	enum big big;
	enum ubig ubig;
	int arr[4][2];
	struct { int x; int y; } anon;
	union { long l; short s; };
	int __attribute__((btf_type_tag("user"))) *tagged_ptr;
	int __attribute__((btf_decl_tag("field_tag"))) tagged_field;
	char *restrict rp;
	_Bool flag;
	signed char sc;
	unsigned char uc;
	long double ld;
	__int128 big128;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, u32_t);
	__type(value, struct node);
} nodes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, int);
	__type(value, u64_t);
} counters SEC(".maps");

int global_data = 7;
int global_bss;
const volatile int ro_config = 3;
static volatile int static_data = 9;
float gfloat = 1.5f;
struct node *gnode;
struct opaque;
union opaque_u;
struct opaque *gopaque;
union opaque_u *gopaque_u;
extern int some_extern __attribute__((weak));

static __attribute__((noinline)) int
helper_fn(struct node *n __attribute__((btf_decl_tag("param_tag"))), int x)
{
	if (!n)
		return x;
	return n->b.a + n->b.c + x + n->u.i;
}

__attribute__((btf_decl_tag("global_func")))
int global_fn(int x)
{
	return x * 3 + static_data;
}

SEC("xdp")
int prog_xdp(struct xdp_md *ctx)
{
	u32_t k = 0;
	struct node *n = bpf_map_lookup_elem(&nodes, &k);
	u64_t *c = bpf_map_lookup_elem(&counters, &k);
	if (c)
		__sync_fetch_and_add(c, 1);
	global_bss++;
	if (&some_extern)
		global_bss += some_extern;
	return helper_fn(n, ro_config + global_data) + global_fn(ctx->ingress_ifindex) + (gnode != 0);
}

struct task_like {
	int pid;
	int tgid;
	struct { int inner; } nested;
	unsigned int bf : 4;
} __attribute__((preserve_access_index));
enum ev { EV_A = 1, EV_B = 2 };

SEC("tracepoint/syscalls/sys_enter_write")
int prog_tp(void *ctx)
{
	struct task_like *t = (void *)ctx;
	int pid = BPF_CORE_READ(t, pid);
	int inner = BPF_CORE_READ(t, nested.inner);
	int exists = bpf_core_field_exists(t->tgid);
	int sz = bpf_core_type_size(struct task_like);
	int ev = bpf_core_enum_value(enum ev, EV_B);
	unsigned int bf = BPF_CORE_READ_BITFIELD_PROBED(t, bf);
	return pid + inner + exists + sz + ev + bf;
}

char LICENSE[] SEC("license") = "GPL";
"""


def compile_bpf(source: str, out_dir: Path, name: str = "prog") -> Path:
    """Compile C ``source`` with clang-19 for BPF; skip the test if clang is missing."""
    if shutil.which(CLANG) is None:
        pytest.skip(f"{CLANG} not installed")
    c_file = out_dir / f"{name}.bpf.c"
    c_file.write_text(source)
    obj = out_dir / f"{name}.bpf.o"
    subprocess.run(
        [
            CLANG,
            "-O2",
            "-g",
            "-target",
            "bpf",
            "-I/usr/include/x86_64-linux-gnu",
            "-c",
            str(c_file),
            "-o",
            str(obj),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return obj


def bpftool(*args: str) -> str:
    """Run the installed bpftool; skip the test if it is missing."""
    if shutil.which("bpftool") is None:
        pytest.skip("bpftool not installed")
    return subprocess.run(["bpftool", *args], check=True, capture_output=True, text=True, timeout=120).stdout


def fixture_objects() -> list[Path]:
    """The committed clang-built fixtures (tests/bpf/*.o)."""
    return sorted(FIXTURES.glob("*.o"))
