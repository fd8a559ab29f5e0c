"""Encoding a :class:`BTF` back into the wire format (the inverse of parse).

Why: an object's BTF must be adjusted before the kernel accepts it (DATASEC
sizes and variable offsets are 0 in a clang .o until the loader fills them in
from the ELF symbols; kinds an older kernel lacks must be replaced), and the
adjusted types are frozen dataclasses.  The loader edits with
``dataclasses.replace`` + :meth:`BTF.from_types`, then calls :func:`marshal`.

The string table is rebuilt: the empty string first, then every name in
order of first use, each stored once.  Split BTF reuses the base's strings
when a name is already there, as libbpf does.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import BTFError
from .parse import BTF_MAGIC, BTF_VERSION, HEADER_SIZE
from .strings import StringTable
from .types import (
    Array,
    Datasec,
    DeclTag,
    Enum,
    Enum64,
    Float,
    Func,
    FuncProto,
    Fwd,
    Int,
    Struct,
    Type,
    TypeTag,
    Union,
    Var,
    Void,
)

if TYPE_CHECKING:
    from .spec import BTF


class _Strings:
    """Accumulates the string section: text -> offset.

    Seeded with an existing table, every old offset stays valid (the
    .BTF.ext of an object points into .BTF's strings) and new names are
    appended; otherwise the table is built in order of first use.
    """

    def __init__(self, base: BTF | None, seed: StringTable | None) -> None:
        self.base_len = len(base.strings) if base is not None else 0
        self.base_index: dict[str, int] = {}
        if base is not None:
            for off, text in base.strings.names.items():
                self.base_index.setdefault(text, off)
        self.index: dict[str, int] = {}
        self.parts: list[bytes] = []
        self.size = 0
        if seed is not None and seed.raw:
            raw = seed.raw
            self.parts.append(raw[:-1])  # joined with b"\0" below, final NUL re-added
            self.size = len(raw)
            for off, text in seed.names.items():
                if off >= self.base_len:
                    self.index.setdefault(text, off)
        elif base is None:
            self.parts.append(b"")
            self.size = 1
        if base is None:
            self.index[""] = 0

    def add(self, text: str) -> int:
        if not text:
            return 0
        off = self.base_index.get(text)
        if off is not None:
            return off
        off = self.index.get(text)
        if off is None:
            raw = text.encode()
            if b"\0" in raw:
                raise BTFError(f"name {text!r} contains a NUL byte")
            off = self.base_len + self.size
            self.index[text] = off
            self.parts.append(raw)
            self.size += len(raw) + 1
        return off

    def section(self) -> bytes:
        return b"\0".join(self.parts) + b"\0" if self.parts else b""


def _u32(value: int, what: str, t: Type) -> int:
    if not 0 <= value <= 0xFFFFFFFF:
        raise BTFError(f"type [{t.id}] {t.kind.name}: {what} {value} does not fit in 32 bits")
    return value


def marshal(btf: BTF, *, byteorder: str = "<") -> bytes:
    """Raw BTF bytes for ``btf``'s own types (``"<"`` little-endian or ``">"`` big-endian)."""
    return encode(btf.own_types, base=btf.base, byteorder=byteorder, strings=btf.strings)


def encode(
    types: Sequence[Type],
    *,
    base: BTF | None = None,
    byteorder: str = "<",
    strings: StringTable | None = None,
) -> bytes:
    """Raw BTF bytes for ``types`` (ids ``first .. first+len-1``; void not included).

    With ``strings`` (the table the types were parsed with) existing string
    offsets are preserved, so an unmodified BTF re-encodes byte for byte.
    """
    if byteorder not in ("<", ">"):
        raise BTFError(f"byte order must be '<' or '>', not {byteorder!r}")
    try:
        return _encode(types, base, byteorder, strings)
    except struct.error as exc:
        raise BTFError(f"value out of range while encoding BTF: {exc}") from exc


def _encode(types: Sequence[Type], base: BTF | None, bo: str, seed: StringTable | None) -> bytes:
    first = len(base) if base is not None else 1
    strings = _Strings(base, seed)
    name = strings.add
    head = struct.Struct(bo + "III")
    one = struct.Struct(bo + "I")
    out: list[bytes] = []
    emit = out.append
    for index, t in enumerate(types):
        kind = int(t.kind)
        if isinstance(t, Void):
            raise BTFError("void (id 0) cannot be encoded as a type record")
        if t.id != first + index:
            raise BTFError(f"type at position {index} has id {t.id}, expected {first + index}")
        if isinstance(t, Int):
            emit(head.pack(name(t.name), kind << 24, _u32(t.size, "size", t)))
            emit(one.pack((int(t.encoding) & 0x0F) << 24 | (t.bits_offset & 0xFF) << 16 | (t.nr_bits & 0xFF)))
        elif isinstance(t, Struct | Union):
            kflag = t.kind_flag or any(m.bitfield_size for m in t.members)
            emit(head.pack(name(t.name), kflag << 31 | kind << 24 | _vlen(len(t.members), t), t.size))
            for m in t.members:
                if kflag:
                    if m.bits_offset > 0xFFFFFF or m.bitfield_size > 0xFF:
                        raise BTFError(f"type [{t.id}]: member {m.name!r} offset/bitfield out of range")
                    offset = m.bitfield_size << 24 | m.bits_offset
                else:
                    offset = _u32(m.bits_offset, "member offset", t)
                emit(head.pack(name(m.name), m.type_id, offset))
        elif isinstance(t, Array):
            emit(head.pack(name(t.name), kind << 24, 0))
            emit(head.pack(t.type_id, t.index_type_id, _u32(t.nelems, "nelems", t)))
        elif isinstance(t, Enum):
            emit(head.pack(name(t.name), t.signed << 31 | kind << 24 | _vlen(len(t.values), t), t.size))
            for v in t.values:
                emit(struct.pack(bo + "II", name(v.name), v.value & 0xFFFFFFFF))
        elif isinstance(t, Enum64):
            emit(head.pack(name(t.name), t.signed << 31 | kind << 24 | _vlen(len(t.values), t), t.size))
            for v in t.values:
                raw = v.value & 0xFFFFFFFFFFFFFFFF
                emit(head.pack(name(v.name), raw & 0xFFFFFFFF, raw >> 32))
        elif isinstance(t, Fwd):
            emit(head.pack(name(t.name), t.is_union << 31 | kind << 24, 0))
        elif isinstance(t, Func):
            emit(head.pack(name(t.name), kind << 24 | (int(t.linkage) & 0xFFFF), t.type_id))
        elif isinstance(t, FuncProto):
            emit(head.pack(name(t.name), kind << 24 | _vlen(len(t.params), t), t.return_type_id))
            for p in t.params:
                emit(struct.pack(bo + "II", name(p.name), p.type_id))
        elif isinstance(t, Var):
            emit(head.pack(name(t.name), kind << 24, t.type_id))
            emit(one.pack(int(t.linkage)))
        elif isinstance(t, Datasec):
            emit(head.pack(name(t.name), kind << 24 | _vlen(len(t.vars), t), _u32(t.size, "size", t)))
            for sec in t.vars:
                emit(head.pack(sec.type_id, _u32(sec.offset, "offset", t), _u32(sec.size, "size", t)))
        elif isinstance(t, Float):
            emit(head.pack(name(t.name), kind << 24, t.size))
        elif isinstance(t, DeclTag):
            emit(head.pack(name(t.name), t.kind_flag << 31 | kind << 24, t.type_id))
            emit(struct.pack(bo + "i", t.component_idx))
        elif isinstance(t, TypeTag):
            emit(head.pack(name(t.name), t.kind_flag << 31 | kind << 24, t.type_id))
        else:  # PTR, TYPEDEF, VOLATILE, CONST, RESTRICT
            emit(head.pack(name(t.name), kind << 24, t.type_id))
    type_section = b"".join(out)
    strs = strings.section()
    size = len(type_section)
    header = struct.pack(bo + "HBBIIIII", BTF_MAGIC, BTF_VERSION, 0, HEADER_SIZE, 0, size, size, len(strs))
    return header + type_section + strs


def _vlen(count: int, t: Type) -> int:
    if count > 0xFFFF:
        raise BTFError(f"type [{t.id}] {t.kind.name} has {count} entries (maximum 65535)")
    return count
