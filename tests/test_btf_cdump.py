"""``dump_c`` (``btf dump ... format c``): identical to bpftool, and compilable."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from btf_util import CLANG, KITCHEN_SOURCE, VMLINUX, bpftool, compile_bpf, fixture_objects
from pybpf.btf import BTF, Kind, dump_c


@pytest.fixture(scope="module")
def kitchen_obj(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_bpf(KITCHEN_SOURCE, tmp_path_factory.mktemp("btfc"), "kitchen")


def assert_same_as_bpftool(path: Path) -> str:
    got = dump_c(BTF.from_file(path))
    expected = bpftool("btf", "dump", "file", str(path), "format", "c")
    if got != expected:
        for line_no, (a, b) in enumerate(zip(got.splitlines(), expected.splitlines(), strict=False)):
            assert a == b, f"{path}: line {line_no + 1}"
    assert got == expected
    return got


def test_kitchen_header_matches_bpftool_and_compiles(kitchen_obj: Path, tmp_path: Path) -> None:
    header = assert_same_as_bpftool(kitchen_obj)
    assert "\tunsigned int a: 3;\n" in header
    assert "\tint (*callback)(int, const char *, ...);\n" in header
    assert "\tlong: 64;\n\t__int128 big128;\n" in header  # explicit padding before a 16-aligned member
    assert "struct opaque;\n" in header and "union opaque_u;\n" in header
    (tmp_path / "kitchen.h").write_text(header)
    btf = BTF.from_file(kitchen_obj)
    checks = "".join(
        f'_Static_assert(sizeof(struct {t.name}) == {t.size}, "{t.name}");\n'
        for t in btf.types
        if t.kind == Kind.STRUCT and t.name
    )
    checks += '_Static_assert(__builtin_offsetof(struct node, big128) == 160, "big128");\n'
    src = tmp_path / "use.c"
    src.write_text('#include "kitchen.h"\n' + checks)
    subprocess.run([CLANG, "-target", "bpf", "-fsyntax-only", str(src)], check=True, capture_output=True)


@pytest.mark.parametrize("obj", [p for p in fixture_objects() if ".v3." in p.name], ids=lambda p: p.name)
def test_fixture_headers_match_bpftool(obj: Path) -> None:
    assert_same_as_bpftool(obj)


@pytest.mark.skipif(not VMLINUX.exists(), reason="no /sys/kernel/btf/vmlinux")
def test_vmlinux_h_matches_bpftool_and_compiles(tmp_path: Path) -> None:
    header = assert_same_as_bpftool(VMLINUX)
    (tmp_path / "vmlinux.h").write_text(header)
    src = tmp_path / "use.c"
    src.write_text('#include "vmlinux.h"\n_Static_assert(sizeof(struct sk_buff) > 0, "skb");\n')
    subprocess.run([CLANG, "-target", "bpf", "-fsyntax-only", str(src)], check=True, capture_output=True)


def test_struct_by_value_cycle_is_btferror() -> None:
    import struct as st

    from pybpf.errors import BTFError

    types = st.pack("<III", 1, Kind.STRUCT << 24 | 1, 4) + st.pack("<III", 0, 1, 0)
    strs = b"\0a\0"
    blob = st.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strs)) + types + strs
    with pytest.raises(BTFError, match="cycle"):
        dump_c(BTF.parse(blob))
