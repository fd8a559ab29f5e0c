"""``dump_raw`` / ``dump_json`` must reproduce the installed bpftool exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from btf_util import KITCHEN_SOURCE, VMLINUX, bpftool, compile_bpf, fixture_objects
from pybpf.btf import BTF, dump_json, dump_raw


@pytest.fixture(scope="module")
def kitchen_obj(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_bpf(KITCHEN_SOURCE, tmp_path_factory.mktemp("btfdump"), "kitchen")


def assert_same_as_bpftool(path: Path) -> None:
    btf = BTF.from_file(path)
    expected = bpftool("btf", "dump", "file", str(path))
    got = dump_raw(btf)
    if got != expected:  # show the first differing line, not two huge strings
        for line_no, (a, b) in enumerate(zip(got.splitlines(), expected.splitlines(), strict=False)):
            assert a == b, f"{path}: line {line_no + 1}"
    assert got == expected
    assert dump_json(btf) == json.loads(bpftool("-j", "btf", "dump", "file", str(path)))


def test_kitchen_object_matches_bpftool(kitchen_obj: Path) -> None:
    assert_same_as_bpftool(kitchen_obj)


@pytest.mark.parametrize("obj", fixture_objects(), ids=lambda p: p.name)
def test_fixture_objects_match_bpftool(obj: Path) -> None:
    assert_same_as_bpftool(obj)


@pytest.mark.skipif(not VMLINUX.exists(), reason="no /sys/kernel/btf/vmlinux")
def test_vmlinux_matches_bpftool() -> None:
    assert_same_as_bpftool(VMLINUX)


def test_raw_format_samples(kitchen_obj: Path) -> None:
    text = dump_raw(BTF.from_file(kitchen_obj))
    assert "[2] INT 'int' size=4 bits_offset=0 nr_bits=32 encoding=SIGNED\n" in text
    assert "\t'd' type_id=22 bits_offset=15 bitfield_size=40\n" in text
    assert " linkage=global\n" in text and ", linkage=static\n" in text
    assert "\t'NEGBIG' val=-4294967296LL\n" in text
    assert "(VAR 'ro_config')" in text
