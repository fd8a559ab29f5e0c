"""BTF: BPF Type Format types, the .BTF.ext side tables, and bpftool-style dumps.

``BTF.parse(bytes)`` / ``BTF.from_file(path)`` give a :class:`BTF` whose types
are frozen dataclasses (one per kind) referring to each other by id;
``BTFExt.parse(bytes, btf)`` decodes func_info, line_info and CO-RE relocations;
``marshal(btf)`` encodes back to bytes (``BTF.from_types`` / ``replace_types``
rebuild an edited BTF); ``dump_raw(btf)`` / ``dump_json(btf)`` / ``dump_c(btf)`` print what
``bpftool btf dump`` prints (raw, -j, and ``format c``: a vmlinux.h-style header).
"""

from __future__ import annotations

from .cdump import dump_c
from .dump import dump_json, dump_raw, format_type, type_json
from .ext import BTFExt, CORERelo, CORERelocKind, FuncInfo, LineInfo
from .marshal import encode, marshal
from .spec import BTF, POINTER_SIZE, TypeNotFoundError
from .strings import StringTable
from .types import (
    MODIFIER_KINDS,
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
    Kind,
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
    Void,
    Volatile,
)

__all__ = [
    "BTF",
    "MODIFIER_KINDS",
    "POINTER_SIZE",
    "Array",
    "BTFExt",
    "CORERelo",
    "CORERelocKind",
    "Const",
    "Datasec",
    "DeclTag",
    "Enum",
    "Enum64",
    "EnumValue",
    "Float",
    "Func",
    "FuncInfo",
    "FuncLinkage",
    "FuncProto",
    "Fwd",
    "Int",
    "IntEncoding",
    "Kind",
    "LineInfo",
    "Member",
    "Param",
    "Ptr",
    "Restrict",
    "StringTable",
    "Struct",
    "Type",
    "TypeNotFoundError",
    "TypeTag",
    "Typedef",
    "Union",
    "Var",
    "VarLinkage",
    "VarSecinfo",
    "Void",
    "Volatile",
    "dump_c",
    "dump_json",
    "dump_raw",
    "encode",
    "format_type",
    "marshal",
    "type_json",
]
