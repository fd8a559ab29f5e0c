"""Tiny instruction builders for the kernel tests (independent of pybpf.isa.assemble).

Opcodes are RFC 9669 values; each helper returns one logical Instruction.
"""

from __future__ import annotations

from pybpf.isa import Instruction as I
from pybpf.uapi import HELPER_IDS


def mov_imm(dst: int, imm: int) -> I:
    return I(0xB7, dst, 0, 0, imm)


def mov_reg(dst: int, src: int) -> I:
    return I(0xBF, dst, src)


def add_imm(dst: int, imm: int) -> I:
    return I(0x07, dst, 0, 0, imm)


def ld_map_fd(dst: int, fd: int) -> I:
    return I(0x18, dst, 1, 0, fd)


def st_w(dst: int, off: int, imm: int) -> I:
    return I(0x62, dst, 0, off, imm)


def stx_b(dst: int, src: int, off: int) -> I:
    return I(0x73, dst, src, off)


def ldx_w(dst: int, src: int, off: int) -> I:
    return I(0x61, dst, src, off)


def ldx_b(dst: int, src: int, off: int) -> I:
    return I(0x71, dst, src, off)


def ldx_dw(dst: int, src: int, off: int) -> I:
    return I(0x79, dst, src, off)


def jgt_reg(dst: int, src: int, off: int) -> I:
    return I(0x2D, dst, src, off)


def jeq_imm(dst: int, imm: int, off: int) -> I:
    return I(0x15, dst, 0, off, imm)


def atomic_add64(dst: int, src: int, off: int) -> I:
    return I(0xDB, dst, src, off, 0)


def call(helper: str) -> I:
    return I(0x85, 0, 0, 0, HELPER_IDS[helper])


def exit_() -> I:
    return I(0x95)


def counter(map_fd: int, ret: int = 0) -> list[I]:
    """Increment u64 slot 0 of an array map, return ``ret``."""
    return [
        st_w(10, -4, 0),
        mov_reg(2, 10),
        add_imm(2, -4),
        ld_map_fd(1, map_fd),
        call("map_lookup_elem"),
        jeq_imm(0, 0, 2),
        mov_imm(1, 1),
        atomic_add64(0, 1, 0),
        mov_imm(0, ret),
        exit_(),
    ]


def return_imm(value: int) -> list[I]:
    return [mov_imm(0, value), exit_()]
