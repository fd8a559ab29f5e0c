"""Arithmetic the generated code calls out for: signed division and byte swaps.

Everything else is inlined as Python expressions by :mod:`pybpf.vm.compiler`.
Registers are unsigned 64-bit ints; these functions take and return such ints.
RFC 9669: signed division truncates toward zero, INT_MIN / -1 wraps to INT_MIN,
division by zero gives 0 and modulo by zero leaves the dividend.
"""

from __future__ import annotations

U64 = 0xFFFFFFFFFFFFFFFF
U32 = 0xFFFFFFFF


def _s64(x: int) -> int:
    x &= U64
    return x - (1 << 64) if x >> 63 else x


def _s32(x: int) -> int:
    x &= U32
    return x - (1 << 32) if x >> 31 else x


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return -q if (a < 0) != (b < 0) else q


def _trunc_mod(a: int, b: int) -> int:
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def sdiv64(a: int, b: int) -> int:
    b = _s64(b)
    if b == 0:
        return 0
    return _trunc_div(_s64(a), b) & U64


def smod64(a: int, b: int) -> int:
    b = _s64(b)
    if b == 0:
        return a & U64
    return _trunc_mod(_s64(a), b) & U64


def sdiv32(a: int, b: int) -> int:
    b = _s32(b)
    if b == 0:
        return 0
    return _trunc_div(_s32(a), b) & U32


def smod32(a: int, b: int) -> int:
    b = _s32(b)
    if b == 0:
        return a & U32
    return _trunc_mod(_s32(a), b) & U32


def bswap16(x: int) -> int:
    return ((x & 0xFF) << 8) | ((x >> 8) & 0xFF)


def bswap32(x: int) -> int:
    return int.from_bytes((x & U32).to_bytes(4, "little"), "big")


def bswap64(x: int) -> int:
    return int.from_bytes((x & U64).to_bytes(8, "little"), "big")


BSWAP = {16: bswap16, 32: bswap32, 64: bswap64}
