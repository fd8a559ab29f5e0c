""".BTF.ext: func_info, line_info and CO-RE relocations of clang-built objects."""

from __future__ import annotations

import contextlib
import struct
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from btf_util import KITCHEN_SOURCE, compile_bpf, fixture_objects
from pybpf.btf import BTF, BTFExt, CORERelocKind, Func
from pybpf.btf.spec import elf_section
from pybpf.errors import BTFError


@pytest.fixture(scope="module")
def kitchen_obj(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_bpf(KITCHEN_SOURCE, tmp_path_factory.mktemp("btfext"), "kitchen")


def load(path: Path) -> tuple[BTF, BTFExt, bytes]:
    data = path.read_bytes()
    btf = BTF.parse(elf_section(data, ".BTF"))
    raw_ext = elf_section(data, ".BTF.ext")
    return btf, BTFExt.parse(raw_ext, btf), raw_ext


def function_symbols(path: Path) -> dict[str, tuple[str, int]]:
    """name -> (section name, instruction slot) of every FUNC symbol."""
    with path.open("rb") as f:
        elf = ELFFile(f)
        symtab = elf.get_section_by_name(".symtab")
        out = {}
        for sym in symtab.iter_symbols():
            if sym["st_info"]["type"] == "STT_FUNC":
                out[sym.name] = (elf.get_section(sym["st_shndx"]).name, sym["st_value"] // 8)
        return out


def test_func_info_points_at_function_symbols(kitchen_obj: Path) -> None:
    btf, ext, _ = load(kitchen_obj)
    symbols = function_symbols(kitchen_obj)
    seen = set()
    for section, infos in ext.func_info.items():
        for info in infos:
            func = btf[info.type_id]
            assert isinstance(func, Func)
            assert symbols[func.name] == (section, info.insn_idx)
            seen.add(func.name)
    assert seen == {"prog_xdp", "prog_tp", "helper_fn", "global_fn"}


def test_line_info_matches_source_lines(kitchen_obj: Path) -> None:
    _btf, ext, _ = load(kitchen_obj)
    source = (kitchen_obj.parent / "kitchen.bpf.c").read_text().splitlines()
    assert set(ext.line_info) == {".text", "xdp", "tracepoint/syscalls/sys_enter_write"}
    count = 0
    for infos in ext.line_info.values():
        slots = [li.insn_idx for li in infos]
        assert slots == sorted(slots)
        for li in infos:
            assert li.file_name.endswith("kitchen.bpf.c")
            assert li.line == source[li.line_num - 1]
            assert li.column <= len(li.line) + 1
            count += 1
    assert count > 20
    assert ext.line_at("xdp", 1) == ext.line_info["xdp"][0]
    assert ext.line_at("nope", 0) is None
    first = ext.line_info["xdp"][0]
    assert (first.insn_idx, first.line, first.column) == (0, "int prog_xdp(struct xdp_md *ctx)", 0)


def test_core_relocations(kitchen_obj: Path) -> None:
    btf, ext, _ = load(kitchen_obj)
    relos = ext.core_relos["tracepoint/syscalls/sys_enter_write"]
    kinds = {r.kind for r in relos}
    assert {
        CORERelocKind.FIELD_BYTE_OFFSET,
        CORERelocKind.FIELD_EXISTS,
        CORERelocKind.FIELD_BYTE_SIZE,
        CORERelocKind.FIELD_SIGNED,
        CORERelocKind.FIELD_LSHIFT_U64,
        CORERelocKind.FIELD_RSHIFT_U64,
        CORERelocKind.TYPE_SIZE,
        CORERelocKind.ENUMVAL_VALUE,
    } <= kinds
    by_access = {(r.kind, r.access): r for r in relos}
    pid = by_access[(CORERelocKind.FIELD_BYTE_OFFSET, "0:0")]
    assert btf[pid.type_id].name == "task_like" and pid.access_spec == (0, 0)
    assert (CORERelocKind.FIELD_BYTE_OFFSET, "0:2:0") in by_access  # nested.inner
    ev = by_access[(CORERelocKind.ENUMVAL_VALUE, "1")]
    assert btf[ev.type_id].name == "ev"
    assert CORERelocKind.TYPE_SIZE.is_type and CORERelocKind.FIELD_SIGNED.is_field
    assert CORERelocKind.FIELD_BYTE_OFFSET.libbpf_name == "byte_off"
    assert ext.sections[0] in ext.func_info


@pytest.mark.parametrize("obj", fixture_objects(), ids=lambda p: p.name)
def test_fixture_ext_parses(obj: Path) -> None:
    btf, ext, _ = load(obj)
    assert ext.func_info and ext.line_info
    for infos in ext.func_info.values():
        assert all(isinstance(btf[i.type_id], Func) for i in infos)


def test_malformed_ext_is_btferror(kitchen_obj: Path) -> None:
    btf, _, raw = load(kitchen_obj)
    with pytest.raises(BTFError, match="magic"):
        BTFExt.parse(b"\0\0" + raw[2:], btf)
    with pytest.raises(BTFError):
        BTFExt.parse(raw[:6], btf)
    bad = bytearray(raw)
    struct.pack_into("<I", bad, 4, len(raw) + 1)  # hdr_len beyond the data
    with pytest.raises(BTFError, match="hdr_len"):
        BTFExt.parse(bytes(bad), btf)
    for cut in range(8, len(raw), 7):
        with contextlib.suppress(BTFError):
            BTFExt.parse(raw[:cut], btf)
