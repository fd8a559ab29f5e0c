"""The object model: ObjectSpec (parsed, deterministic) and its parts."""

from __future__ import annotations

from .spec import (
    BPF_F_MMAPABLE,
    BPF_F_NO_PREALLOC,
    BPF_F_RDONLY_PROG,
    ExternKind,
    ExternSpec,
    FuncInfo,
    MapKind,
    MapSpec,
    ObjectSpec,
    PinType,
    ProgramSpec,
    StructOpsSpec,
    VariableSpec,
)

__all__ = [
    "BPF_F_MMAPABLE",
    "BPF_F_NO_PREALLOC",
    "BPF_F_RDONLY_PROG",
    "ExternKind",
    "ExternSpec",
    "FuncInfo",
    "MapKind",
    "MapSpec",
    "ObjectSpec",
    "PinType",
    "ProgramSpec",
    "StructOpsSpec",
    "VariableSpec",
]
