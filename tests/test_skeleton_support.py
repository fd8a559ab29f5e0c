"""Helpers for the skeleton tests: generate a skeleton into a directory and import it."""

from __future__ import annotations

import importlib.util
import itertools
import platform
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from pybpf.skeleton import skeleton_for_file

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "bpf"
_counter = itertools.count()


def import_path(path: Path) -> ModuleType:
    """Import a generated module from ``path`` under a unique name (tests import many)."""
    name = f"{path.stem}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def generate(obj: Path, out_dir: Path, *, name: str | None = None) -> ModuleType:
    """Write ``<name>_skel.py`` for ``obj`` into ``out_dir`` and import it."""
    source = skeleton_for_file(str(obj), name=name)
    stem = name or obj.name.split(".", 1)[0]
    path = out_dir / f"{stem}_skel.py"
    path.write_text(source)
    return import_path(path)


# A program with every kind of global the generator types: ints, bool, char and int
# arrays, nested structs, an array of structs, bitfields, an anonymous union, a static.
SKEL_C = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct limits { __u16 lo; __u16 hi; };
struct config {
	__u32 verdict;
	struct limits lim;
	__u8 tag[4];
	__s32 weights[3];
	struct { __u32 a: 3, b: 5; __s32 c: 4; };
	union { __u32 as_u32; __u8 as_bytes[4]; } u;
};

const volatile __u32 max_len = 1514;
const volatile struct config cfg = {
	.verdict = XDP_PASS, .lim = { 10, 20 }, .weights = { -1, 2, 3 }, .a = 5, .b = 17, .c = -3,
};
__u64 counter;
__u32 lens[4];
struct limits seen[2];
_Bool flag = 1;
char name[16] = "pybpf";
__s64 total = -5;
static __u32 hidden;

SEC("xdp")
int xdp_skel(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;

	counter++;
	total += len;
	lens[len & 3] = len;
	seen[1].hi = cfg.lim.hi + cfg.c + cfg.weights[0];
	seen[0].lo = cfg.a + cfg.b;
	hidden++;
	if (name[0] == 'X')
		return XDP_ABORTED;
	if (len > max_len)
		return XDP_DROP;
	return cfg.verdict;
}

char LICENSE[] SEC("license") = "GPL";
"""


def compile_bpf(source: str, out: Path) -> Path:
    """Build ``source`` with clang-19 (flags as tests/bpf/Makefile) into ``out``."""
    src = out.with_suffix(".c")
    src.write_text(source)
    arch_inc = f"/usr/include/{platform.machine()}-linux-gnu"
    cmd = [
        "clang-19",
        "-O2",
        "-g",
        "-target",
        "bpf",
        "-mcpu=v3",
        f"-I{arch_inc}",
        "-c",
        str(src),
        "-o",
        str(out),
    ]
    subprocess.run(cmd, check=True, capture_output=True)
    return out
