"""Shared plumbing for helper implementations: the table entry type and errno returns.

Each ``impl_*`` module exports ``HELPERS``, a tuple of :class:`HelperDef`;
:mod:`pybpf.helpers.defaults` gathers them into the default registry.  Helpers
return ``-errno`` the way the kernel's do; the VM masks r0 to 64 bits.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

from ..errors import MapError, MemoryAccessError
from ..vm.context import CallContext
from .registry import ArgType, HelperImpl, HelperProto, RetType

U64 = (1 << 64) - 1
U32 = (1 << 32) - 1

A = ArgType
R = RetType


@dataclass(frozen=True, slots=True)
class HelperDef:
    """A helper implementation ready to be registered under its kernel name."""

    name: str
    proto: HelperProto
    impl: HelperImpl


def proto(*args: ArgType, ret: RetType = RetType.INTEGER) -> HelperProto:
    return HelperProto(ret, tuple(args))


def neg(err: int) -> int:
    """``-err`` as the helper's r0."""
    return -err


def s32(value: int) -> int:
    value &= U32
    return value - (1 << 32) if value & 0x80000000 else value


def s64(value: int) -> int:
    value &= U64
    return value - (1 << 64) if value >> 63 else value


def map_errno(exc: MapError) -> int:
    """The negative errno a helper returns for a failed map operation."""
    return -int(getattr(exc, "errno", errno.EINVAL))


def read_or_none(ctx: CallContext, address: int, size: int) -> bytes | None:
    """Bytes at ``address`` or None when the program may not read them (probe_read semantics)."""
    try:
        return ctx.memory.read(address & U64, size)
    except MemoryAccessError:
        return None


def read_str_or_none(ctx: CallContext, address: int, limit: int) -> bytes | None:
    """A NUL-terminated string (without the NUL, at most ``limit`` bytes) or None when unreadable."""
    if limit <= 0:
        return b""
    try:
        return ctx.memory.read_cstring(address & U64, limit)
    except MemoryAccessError:
        return None


__all__ = [
    "U32",
    "U64",
    "A",
    "HelperDef",
    "R",
    "map_errno",
    "neg",
    "proto",
    "read_or_none",
    "read_str_or_none",
]
