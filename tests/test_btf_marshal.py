"""marshal / BTF.from_types: byte-exact round trips, edits, and the kernel accepting the result."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from btf_util import KITCHEN_SOURCE, VMLINUX, compile_bpf, fixture_objects
from pybpf.btf import BTF, BTFExt, Datasec, Kind, Var, VarLinkage, VarSecinfo, dump_raw, marshal
from pybpf.btf.spec import elf_section
from pybpf.errors import BTFError


@pytest.fixture(scope="module")
def kitchen_obj(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_bpf(KITCHEN_SOURCE, tmp_path_factory.mktemp("btfm"), "kitchen")


@pytest.mark.parametrize("obj", fixture_objects()[::2], ids=lambda p: p.name)
def test_objects_round_trip_byte_for_byte(obj: Path) -> None:
    raw = elf_section(obj.read_bytes(), ".BTF")
    btf = BTF.parse(raw)
    assert marshal(btf) == raw
    assert BTF.parse(marshal(btf, byteorder=">")).types == btf.types


@pytest.mark.skipif(not VMLINUX.exists(), reason="no /sys/kernel/btf/vmlinux")
def test_vmlinux_round_trips_byte_for_byte() -> None:
    raw = VMLINUX.read_bytes()
    assert marshal(BTF.parse(raw)) == raw


def test_from_types_builds_fresh_string_table(kitchen_obj: Path) -> None:
    btf = BTF.from_file(kitchen_obj)
    rebuilt = BTF.from_types(btf.own_types)
    assert rebuilt.types == btf.types
    assert dump_raw(rebuilt) == dump_raw(btf)
    assert len(rebuilt.strings) < len(btf.strings)  # line-info strings are not types' names


def test_replace_types_keeps_ext_offsets_valid(kitchen_obj: Path) -> None:
    data = kitchen_obj.read_bytes()
    btf = BTF.parse(elf_section(data, ".BTF"))
    ds = btf.find(".bss", Kind.DATASEC)
    assert isinstance(ds, Datasec)
    fixed = dataclasses.replace(
        ds, size=16, vars=(VarSecinfo(ds.vars[0].type_id, 0, 4), VarSecinfo(ds.vars[1].type_id, 8, 8))
    )
    renamed = dataclasses.replace(btf.find("node"), name="brand_new_name")
    edited = btf.replace_types(fixed, renamed)
    assert edited[ds.id] == fixed and edited.find("brand_new_name").id == renamed.id
    ext = BTFExt.parse(elf_section(data, ".BTF.ext"), edited)
    assert ext.line_info == BTFExt.parse(elf_section(data, ".BTF.ext"), btf).line_info
    with pytest.raises(BTFError):
        btf.replace_types(dataclasses.replace(ds, id=len(btf) + 5))
    with pytest.raises(BTFError, match="out of range"):
        btf.replace_types(dataclasses.replace(ds, vars=(VarSecinfo(9999, 0, 4),)))


def loadable(btf: BTF) -> BTF:
    """What a loader does before BPF_BTF_LOAD: lay out DATASECs, make extern vars plain globals."""
    edits = []
    for t in btf.own_types:
        if isinstance(t, Datasec):
            off, secinfos = 0, []
            for v in t.vars:
                off = (off + 7) & ~7
                secinfos.append(VarSecinfo(v.type_id, off, v.size))
                off += v.size
            edits.append(dataclasses.replace(t, size=off, vars=tuple(secinfos)))
        elif isinstance(t, Var) and t.linkage == VarLinkage.GLOBAL_EXTERN:
            edits.append(dataclasses.replace(t, linkage=VarLinkage.GLOBAL_ALLOCATED))
    return btf.replace_types(*edits)


@pytest.mark.kernel
def test_kernel_accepts_marshalled_btf(kitchen_obj: Path) -> None:
    from pybpf.kernel.btf_load import load_btf

    btf = loadable(BTF.from_file(kitchen_obj))
    kbtf = load_btf(marshal(btf))
    try:
        assert BTF.parse(kbtf.data()).types == btf.types
    finally:
        kbtf.close()
