"""Decoding the BTF wire format (include/uapi/linux/btf.h) into the type model.

Layout: a ``btf_header`` (magic 0xeB9F, version 1, flags, hdr_len, then the
offset/length of the type and string sections relative to the header's end),
a type section of variable-length records (12-byte ``btf_type`` plus a
kind-specific tail), and a string section.

Speed matters (vmlinux has >100k types): the walk is one loop with the kind
dispatch inlined, tails are read with ``struct.iter_unpack`` over memoryview
slices, names come from a caching string table, and every validation is a
plain integer comparison.  Every malformed input raises :class:`BTFError`
carrying the byte offset (from the start of the blob) of the bad record.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from operator import itemgetter

from ..errors import BTFError
from .strings import StringTable
from .types import (
    Array,
    Const,
    Datasec,
    DeclTag,
    Enum,
    Enum64,
    EnumValue,
    Float,
    Func,
    FuncLinkage,
    FuncProto,
    Fwd,
    Int,
    IntEncoding,
    Member,
    Param,
    Ptr,
    Restrict,
    Struct,
    Type,
    Typedef,
    TypeTag,
    Union,
    Var,
    VarLinkage,
    VarSecinfo,
    Volatile,
)

BTF_MAGIC = 0xEB9F
BTF_VERSION = 1
HEADER_SIZE = 24
MAX_KIND = 19

#: Bytes following the 12-byte ``btf_type`` header: fixed part, per-vlen part.
_TAIL_FIXED = (0, 4, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 4, 0, 0)
_TAIL_PER_VLEN = (0, 0, 0, 0, 12, 12, 8, 0, 0, 0, 0, 0, 0, 8, 0, 12, 0, 0, 0, 12)

_FIRST = itemgetter(0)
_SECOND = itemgetter(1)


@dataclass(frozen=True, slots=True)
class Header:
    """A decoded ``struct btf_header``; offsets are absolute within the blob."""

    byteorder: str  # "<" or ">"
    version: int
    flags: int
    hdr_len: int
    type_off: int
    type_len: int
    str_off: int
    str_len: int


def byteorder_of(data: bytes | memoryview, *, what: str = "BTF") -> str:
    """``"<"`` or ``">"`` from the 16-bit magic at the start of ``data``."""
    if len(data) < 2:
        raise BTFError(f"{what} data too short for a header ({len(data)} bytes)", offset=0)
    if data[0] == 0x9F and data[1] == 0xEB:
        return "<"
    if data[0] == 0xEB and data[1] == 0x9F:
        return ">"
    raise BTFError(f"bad {what} magic {data[0]:02x}{data[1]:02x} (expected 0xeb9f)", offset=0)


def parse_header(data: bytes | memoryview) -> Header:
    """Validate the header and section bounds, as libbpf's btf_parse_hdr does."""
    bo = byteorder_of(data)
    if len(data) < HEADER_SIZE:
        raise BTFError(f"BTF header truncated: {len(data)} of {HEADER_SIZE} bytes", offset=0)
    _magic, version, flags, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from(
        bo + "HBBIIIII", data, 0
    )
    if version != BTF_VERSION:
        raise BTFError(f"unsupported BTF version {version}", offset=2)
    if hdr_len < HEADER_SIZE:
        raise BTFError(f"BTF hdr_len {hdr_len} smaller than {HEADER_SIZE}", offset=4)
    if hdr_len > len(data):
        raise BTFError(f"BTF hdr_len {hdr_len} beyond the data ({len(data)} bytes)", offset=4)
    meta = len(data) - hdr_len
    if type_off + type_len > meta:
        raise BTFError(
            f"type section [{type_off}, +{type_len}) beyond the data ({meta} bytes after header)", offset=8
        )
    if str_off + str_len > meta:
        raise BTFError(
            f"string section [{str_off}, +{str_len}) beyond the data ({meta} bytes after header)", offset=16
        )
    if type_off % 4:
        raise BTFError(f"type section offset {type_off} not 4-byte aligned", offset=8)
    if type_off < str_off < type_off + type_len or str_off < type_off < str_off + str_len:
        raise BTFError("type and string sections overlap", offset=8)
    return Header(bo, version, flags, hdr_len, hdr_len + type_off, type_len, hdr_len + str_off, str_len)


_FUNC_LINKAGE = tuple(FuncLinkage)
_VAR_LINKAGE = tuple(VarLinkage)


def decode_types(
    data: bytes | memoryview,
    header: Header,
    strings: StringTable,
    first_id: int,
) -> list[Type]:
    """Decode every record of the type section; ids start at ``first_id``.

    Type references are range-checked once the total count is known: the walk
    only tracks the largest id referenced and where.
    """
    bo = header.byteorder
    mv = memoryview(data)
    start = header.type_off
    end = start + header.type_len
    unpack3 = struct.Struct(bo + "III").unpack_from
    unpack_i = struct.Struct(bo + "i").unpack_from
    unpack_u = struct.Struct(bo + "I").unpack_from
    iter_unpack = struct.iter_unpack
    fmt_iii = bo + "III"
    fmt_ii = bo + "II"
    fmt_ii_signed = bo + "Ii"
    names = strings.names
    sget = names.get
    slow = strings.get
    tail_fixed = _TAIL_FIXED
    tail_per = _TAIL_PER_VLEN
    func_linkage = _FUNC_LINKAGE

    out: list[Type] = []
    append = out.append
    max_ref = 0
    max_ref_at = 0
    tid = first_id
    off = start
    while off < end:
        if off + 12 > end:
            raise BTFError(f"type [{tid}] truncated: {end - off} bytes left of a 12-byte record", offset=off)
        name_off, info, st = unpack3(mv, off)
        kind = (info >> 24) & 0x1F
        vlen = info & 0xFFFF
        if kind > MAX_KIND or kind == 0:
            raise BTFError(f"type [{tid}] has unknown kind {kind}", offset=off)
        tail = off + 12
        nxt = tail + tail_fixed[kind] + vlen * tail_per[kind]
        if nxt > end:
            raise BTFError(
                f"type [{tid}] truncated: record needs {nxt - off} bytes, {end - off} left", offset=off
            )
        name = sget(name_off)
        if name is None:
            name = slow(name_off, off)
        t: Type
        if kind == 12:  # FUNC
            if vlen > 2:
                raise BTFError(f"FUNC [{tid}] has invalid linkage {vlen}", offset=off)
            t = Func(tid, name, st, func_linkage[vlen])
            if st > max_ref:
                max_ref, max_ref_at = st, off
        elif kind == 13:  # FUNC_PROTO
            raw2 = list(iter_unpack(fmt_ii, mv[tail:nxt]))
            params = tuple(
                [Param(n if (n := sget(no)) is not None else slow(no, off), pt) for no, pt in raw2]
            )
            if raw2:
                top = max(raw2, key=_SECOND)[1]
                if top > max_ref:
                    max_ref, max_ref_at = top, off
            if st > max_ref:
                max_ref, max_ref_at = st, off
            t = FuncProto(tid, name, st, params)
        elif kind == 2:  # PTR
            t = Ptr(tid, name, st)
            if st > max_ref:
                max_ref, max_ref_at = st, off
        elif kind == 4 or kind == 5:  # STRUCT / UNION
            raw = list(iter_unpack(fmt_iii, mv[tail:nxt]))
            if info >> 31:
                members = tuple(
                    [
                        Member(
                            n if (n := sget(no)) is not None else slow(no, off), mt, mo & 0xFFFFFF, mo >> 24
                        )
                        for no, mt, mo in raw
                    ]
                )
            else:
                members = tuple(
                    [
                        Member(n if (n := sget(no)) is not None else slow(no, off), mt, mo, 0)
                        for no, mt, mo in raw
                    ]
                )
            if raw:
                top = max(raw, key=_SECOND)[1]
                if top > max_ref:
                    max_ref, max_ref_at = top, off
            t = (Struct if kind == 4 else Union)(tid, name, st, members, bool(info >> 31))
        elif kind == 10:  # CONST
            t = Const(tid, name, st)
            if st > max_ref:
                max_ref, max_ref_at = st, off
        elif kind == 8:  # TYPEDEF
            t = Typedef(tid, name, st)
            if st > max_ref:
                max_ref, max_ref_at = st, off
        elif kind == 3:  # ARRAY
            et, it, n_elems = unpack3(mv, tail)
            t = Array(tid, name, et, it, n_elems)
            top = max(et, it)
            if top > max_ref:
                max_ref, max_ref_at = top, off
        elif kind == 6:  # ENUM
            values = tuple(
                [
                    EnumValue(n if (n := sget(no)) is not None else slow(no, off), v)
                    for no, v in iter_unpack(fmt_ii_signed if info >> 31 else fmt_ii, mv[tail:nxt])
                ]
            )
            t = Enum(tid, name, st, values, bool(info >> 31))
        elif kind == 1:  # INT
            (v,) = unpack_u(mv, tail)
            t = Int(tid, name, st, IntEncoding((v >> 24) & 0x0F), (v >> 16) & 0xFF, v & 0xFF)
        elif kind == 19:  # ENUM64
            vals = []
            for no, lo, hi in iter_unpack(fmt_iii, mv[tail:nxt]):
                v = hi << 32 | lo
                if info >> 31 and hi >> 31:
                    v -= 1 << 64
                vals.append(EnumValue(slow(no, off), v))
            t = Enum64(tid, name, st, tuple(vals), bool(info >> 31))
        elif kind == 7:  # FWD
            t = Fwd(tid, name, bool(info >> 31))
        elif kind == 9 or kind == 11:  # VOLATILE / RESTRICT
            t = (Volatile if kind == 9 else Restrict)(tid, name, st)
            if st > max_ref:
                max_ref, max_ref_at = st, off
        elif kind == 18:  # TYPE_TAG
            t = TypeTag(tid, name, st, bool(info >> 31))
            if st > max_ref:
                max_ref, max_ref_at = st, off
        elif kind == 14:  # VAR
            (lk,) = unpack_u(mv, tail)
            t = Var(tid, name, st, _VAR_LINKAGE[lk] if lk <= 2 else lk)
            if st > max_ref:
                max_ref, max_ref_at = st, off
        elif kind == 15:  # DATASEC
            raw = list(iter_unpack(fmt_iii, mv[tail:nxt]))
            t = Datasec(tid, name, st, tuple([VarSecinfo(vt, vo, vs) for vt, vo, vs in raw]))
            if raw:
                top = max(raw, key=_FIRST)[0]
                if top > max_ref:
                    max_ref, max_ref_at = top, off
        elif kind == 16:  # FLOAT
            t = Float(tid, name, st)
        else:  # 17 DECL_TAG
            (ci,) = unpack_i(mv, tail)
            t = DeclTag(tid, name, st, ci, bool(info >> 31))
            if st > max_ref:
                max_ref, max_ref_at = st, off
        append(t)
        tid += 1
        off = nxt
    if max_ref >= tid:
        raise BTFError(f"type id {max_ref} out of range (BTF has {tid} types)", offset=max_ref_at)
    return out
