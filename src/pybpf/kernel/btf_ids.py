"""Find a type id by name in the kernel's BTF, for fentry/fexit/LSM/tp_btf attach.

A deliberately minimal scan (header, type records, string table) so attaching does
not depend on the full BTF model in :mod:`pybpf.btf`; it only needs each kind's
record length.  The name index is built once per file and cached.
"""

from __future__ import annotations

import struct
from functools import cache

from ..errors import BTFError, NotSupportedError

VMLINUX_BTF = "/sys/kernel/btf/vmlinux"
BTF_MAGIC = 0xEB9F

KIND_FUNC = 12
KIND_STRUCT = 4
KIND_TYPEDEF = 8

# Bytes that follow the 12-byte common header, per kind: (fixed, per vlen entry).
_TRAILER: dict[int, tuple[int, int]] = {
    0: (0, 0),  # void/unknown (never a record)
    1: (4, 0),  # INT
    2: (0, 0),  # PTR
    3: (12, 0),  # ARRAY
    4: (0, 12),  # STRUCT
    5: (0, 12),  # UNION
    6: (0, 8),  # ENUM
    7: (0, 0),  # FWD
    8: (0, 0),  # TYPEDEF
    9: (0, 0),  # VOLATILE
    10: (0, 0),  # CONST
    11: (0, 0),  # RESTRICT
    12: (0, 0),  # FUNC
    13: (0, 8),  # FUNC_PROTO
    14: (4, 0),  # VAR
    15: (0, 12),  # DATASEC
    16: (0, 0),  # FLOAT
    17: (4, 0),  # DECL_TAG
    18: (0, 0),  # TYPE_TAG
    19: (0, 12),  # ENUM64
}


def _index(data: bytes) -> dict[tuple[int, str], int]:
    if len(data) < 24:
        raise BTFError("BTF too short for its header")
    magic, _version, _flags, hdr_len = struct.unpack_from("<HBBI", data, 0)
    if magic != BTF_MAGIC:
        raise BTFError(f"bad BTF magic {magic:#x}", offset=0)
    type_off, type_len, str_off, str_len = struct.unpack_from("<4I", data, 8)
    types_at = hdr_len + type_off
    strings_at = hdr_len + str_off
    if types_at + type_len > len(data) or strings_at + str_len > len(data):
        raise BTFError("BTF sections exceed the data")
    strings = data[strings_at : strings_at + str_len]
    index: dict[tuple[int, str], int] = {}
    pos, end, type_id = types_at, types_at + type_len, 1
    unpack = struct.Struct("<III").unpack_from
    while pos < end:
        name_off, info, _ = unpack(data, pos)
        kind = (info >> 24) & 0x1F
        vlen = info & 0xFFFF
        trailer = _TRAILER.get(kind)
        if trailer is None:
            raise BTFError(f"unknown BTF kind {kind} for type {type_id}", offset=pos)
        if name_off:
            stop = strings.find(b"\0", name_off)
            name = strings[name_off:stop].decode(errors="replace")
            index.setdefault((kind, name), type_id)
        pos += 12 + trailer[0] + trailer[1] * vlen
        type_id += 1
    return index


@cache
def _file_index(path: str) -> dict[tuple[int, str], int]:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise NotSupportedError(f"kernel BTF not readable at {path}: {e.strerror}") from None
    return _index(data)


def find_type_id(name: str, kind: int = KIND_FUNC, path: str = VMLINUX_BTF) -> int:
    """The id of the ``kind`` type named ``name`` in the kernel BTF at ``path``."""
    type_id = _file_index(path).get((kind, name))
    if type_id is None:
        raise NotSupportedError(f"no BTF type {name!r} (kind {kind}) in {path}")
    return type_id
