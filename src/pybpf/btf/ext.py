""".BTF.ext: per-ELF-section func_info, line_info and CO-RE relocation records.

Layout (libbpf's ``struct btf_ext_header``): magic 0xeB9F, version 1, flags,
hdr_len, then offset/length pairs (relative to the header's end) of the
func_info, line_info and -- when hdr_len allows -- CO-RE relocation areas.
Each area starts with a u32 record size, then per ELF section:
``sec_name_off, num_info`` and ``num_info`` records.  Section names and file
names/lines are offsets into the companion .BTF string table.

In an object file ``insn_off`` counts BYTES from the section start; records
here store the instruction slot index (bytes / 8), the unit the rest of pybpf
uses for jump targets and relocations.
"""

from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass
from enum import IntEnum

from ..errors import BTFError
from .parse import byteorder_of
from .spec import BTF

_EXT_HEADER_MIN = 24  # up to line_info_len
_EXT_HEADER_CORE = 32  # with core_relo_off/len


class CORERelocKind(IntEnum):
    """``enum bpf_core_relo_kind`` (include/uapi/linux/bpf.h)."""

    FIELD_BYTE_OFFSET = 0
    FIELD_BYTE_SIZE = 1
    FIELD_EXISTS = 2
    FIELD_SIGNED = 3
    FIELD_LSHIFT_U64 = 4
    FIELD_RSHIFT_U64 = 5
    TYPE_ID_LOCAL = 6
    TYPE_ID_TARGET = 7
    TYPE_EXISTS = 8
    TYPE_SIZE = 9
    ENUMVAL_EXISTS = 10
    ENUMVAL_VALUE = 11
    TYPE_MATCHES = 12

    @property
    def is_field(self) -> bool:
        return self <= CORERelocKind.FIELD_RSHIFT_U64

    @property
    def is_type(self) -> bool:
        return CORERelocKind.TYPE_ID_LOCAL <= self <= CORERelocKind.TYPE_SIZE or (
            self == CORERelocKind.TYPE_MATCHES
        )

    @property
    def is_enumval(self) -> bool:
        return self in (CORERelocKind.ENUMVAL_EXISTS, CORERelocKind.ENUMVAL_VALUE)

    @property
    def libbpf_name(self) -> str:
        """The spelling libbpf uses in logs (``byte_off``, ``type_id``, ...)."""
        return _LIBBPF_NAMES[self]


_LIBBPF_NAMES = {
    CORERelocKind.FIELD_BYTE_OFFSET: "byte_off",
    CORERelocKind.FIELD_BYTE_SIZE: "byte_sz",
    CORERelocKind.FIELD_EXISTS: "field_exists",
    CORERelocKind.FIELD_SIGNED: "signed",
    CORERelocKind.FIELD_LSHIFT_U64: "lshift_u64",
    CORERelocKind.FIELD_RSHIFT_U64: "rshift_u64",
    CORERelocKind.TYPE_ID_LOCAL: "local_type_id",
    CORERelocKind.TYPE_ID_TARGET: "target_type_id",
    CORERelocKind.TYPE_EXISTS: "type_exists",
    CORERelocKind.TYPE_SIZE: "type_size",
    CORERelocKind.ENUMVAL_EXISTS: "enumval_exists",
    CORERelocKind.ENUMVAL_VALUE: "enumval_value",
    CORERelocKind.TYPE_MATCHES: "type_matches",
}


@dataclass(frozen=True, slots=True)
class FuncInfo:
    """A function starts at instruction slot ``insn_idx``; ``type_id`` is its BTF FUNC."""

    insn_idx: int
    type_id: int


@dataclass(frozen=True, slots=True)
class LineInfo:
    """Instruction slot ``insn_idx`` comes from ``file_name``:``line_num``:``column``."""

    insn_idx: int
    file_name: str
    line: str
    line_num: int
    column: int


@dataclass(frozen=True, slots=True)
class CORERelo:
    """A CO-RE relocation of the instruction at slot ``insn_idx``.

    ``type_id`` is the local root type, ``access`` the access string
    (``"0:1:2"`` for field relocations, ``"0"`` for type ones, the enumerator
    index for enum-value ones), ``kind`` what to compute.
    """

    insn_idx: int
    type_id: int
    access: str
    kind: CORERelocKind

    @property
    def access_spec(self) -> tuple[int, ...]:
        """The access string as integers; BTFError if it is not ``n(:n)*``."""
        parts = self.access.split(":")
        if not all(p.isascii() and p.isdigit() for p in parts):
            raise BTFError(f"malformed CO-RE access string {self.access!r}")
        return tuple(int(p) for p in parts)


@dataclass(frozen=True, slots=True)
class BTFExt:
    """Decoded .BTF.ext, keyed by ELF section name (e.g. ``"xdp"``, ``".text"``)."""

    func_info: dict[str, tuple[FuncInfo, ...]]
    line_info: dict[str, tuple[LineInfo, ...]]
    core_relos: dict[str, tuple[CORERelo, ...]]
    func_info_rec_size: int = 8
    line_info_rec_size: int = 16
    core_relo_rec_size: int = 16

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview, btf: BTF) -> BTFExt:
        """Parse .BTF.ext bytes whose names live in ``btf``'s string table."""
        return _parse(bytes(data), btf)

    def line_at(self, section: str, insn_idx: int) -> LineInfo | None:
        """The source line instruction ``insn_idx`` of ``section`` belongs to (the last
        line_info record at or before it), or None when the section has none."""
        lines = self.line_info.get(section, ())
        pos = bisect.bisect_right([li.insn_idx for li in lines], insn_idx)
        return lines[pos - 1] if pos else None

    @property
    def sections(self) -> list[str]:
        """Every section name that has any record, in first-seen order."""
        seen = dict.fromkeys([*self.func_info, *self.line_info, *self.core_relos])
        return list(seen)


def _parse(data: bytes, btf: BTF) -> BTFExt:
    bo = byteorder_of(data, what="BTF.ext")
    if len(data) < 8:
        raise BTFError(f"BTF.ext header truncated: {len(data)} bytes", offset=0)
    _magic, version, _flags, hdr_len = struct.unpack_from(bo + "HBBI", data, 0)
    if version != 1:
        raise BTFError(f"unsupported BTF.ext version {version}", offset=2)
    if hdr_len < _EXT_HEADER_MIN:
        raise BTFError(f"BTF.ext hdr_len {hdr_len} smaller than {_EXT_HEADER_MIN}", offset=4)
    if hdr_len > len(data):
        raise BTFError(f"BTF.ext hdr_len {hdr_len} beyond the data ({len(data)} bytes)", offset=4)
    fi_off, fi_len, li_off, li_len = struct.unpack_from(bo + "IIII", data, 8)
    co_off = co_len = 0
    if hdr_len >= _EXT_HEADER_CORE:
        co_off, co_len = struct.unpack_from(bo + "II", data, 24)

    reader = _AreaReader(data, hdr_len, bo, btf)
    func_raw, fi_size = reader.area("func_info", fi_off, fi_len, 8)
    line_raw, li_size = reader.area("line_info", li_off, li_len, 16)
    core_raw, co_size = reader.area("core_relo", co_off, co_len, 16)

    strings = btf.strings
    ntypes = len(btf)

    def type_ok(type_id: int, where: int) -> int:
        if type_id >= ntypes:
            raise BTFError(f"BTF.ext type id {type_id} out of range (BTF has {ntypes} types)", offset=where)
        return type_id

    def slot(insn_off: int, where: int) -> int:
        if insn_off % 8:
            raise BTFError(f"BTF.ext insn_off {insn_off} is not a multiple of 8", offset=where)
        return insn_off // 8

    func_info: dict[str, tuple[FuncInfo, ...]] = {}
    for sec, recs in func_raw:
        funcs = tuple(FuncInfo(slot(r[0], at), type_ok(r[1], at)) for at, r in recs)
        func_info[sec] = func_info.get(sec, ()) + funcs
    line_info: dict[str, tuple[LineInfo, ...]] = {}
    get = strings.get
    for sec, recs in line_raw:
        lines = tuple(
            LineInfo(slot(r[0], at), get(r[1], at), get(r[2], at), r[3] >> 10, r[3] & 0x3FF) for at, r in recs
        )
        line_info[sec] = line_info.get(sec, ()) + lines
    core_relos: dict[str, tuple[CORERelo, ...]] = {}
    for sec, recs in core_raw:
        relos = []
        for at, r in recs:
            if r[3] > max(CORERelocKind):
                raise BTFError(f"unknown CO-RE relocation kind {r[3]}", offset=at + 12)
            relos.append(CORERelo(slot(r[0], at), type_ok(r[1], at), get(r[2], at), CORERelocKind(r[3])))
        core_relos[sec] = core_relos.get(sec, ()) + tuple(relos)
    return BTFExt(func_info, line_info, core_relos, fi_size, li_size, co_size)


class _AreaReader:
    """Walks one info area: ``rec_size`` then ``(sec_name_off, num_info, records...)*``."""

    def __init__(self, data: bytes, hdr_len: int, bo: str, btf: BTF) -> None:
        self.data = data
        self.hdr_len = hdr_len
        self.bo = bo
        self.btf = btf

    def area(
        self, what: str, rel_off: int, length: int, min_rec: int
    ) -> tuple[list[tuple[str, list[tuple[int, tuple[int, ...]]]]], int]:
        """Sections of ``(absolute record offset, decoded u32 fields)``, and the record size."""
        if length == 0:
            return [], min_rec
        start = self.hdr_len + rel_off
        end = start + length
        data = self.data
        if end > len(data):
            raise BTFError(
                f"BTF.ext {what} [{start}, {end}) beyond the data ({len(data)} bytes)", offset=start
            )
        if length < 4:
            raise BTFError(f"BTF.ext {what} too short for its record size", offset=start)
        (rec_size,) = struct.unpack_from(self.bo + "I", data, start)
        if rec_size < min_rec or rec_size % 4:
            raise BTFError(f"BTF.ext {what} record size {rec_size} invalid (minimum {min_rec})", offset=start)
        nfields = min_rec // 4
        fmt = self.bo + "I" * nfields
        out: list[tuple[str, list[tuple[int, tuple[int, ...]]]]] = []
        off = start + 4
        while off < end:
            if off + 8 > end:
                raise BTFError(f"BTF.ext {what} section header truncated", offset=off)
            name_off, count = struct.unpack_from(self.bo + "II", data, off)
            name = self.btf.strings.get(name_off, off)
            if count == 0:
                raise BTFError(f"BTF.ext {what} section {name!r} has no records", offset=off)
            body = off + 8
            nxt = body + count * rec_size
            if nxt > end:
                raise BTFError(
                    f"BTF.ext {what} section {name!r}: {count} records of {rec_size} bytes overrun the area",
                    offset=off,
                )
            recs = [(at, struct.unpack_from(fmt, data, at)) for at in range(body, nxt, rec_size)]
            out.append((name, recs))
            off = nxt
        return out, rec_size
