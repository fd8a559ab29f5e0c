"""Targeted corner cases, each checked three ways: VM == kernel == the RFC 9669 value.

The random differential test finds disagreements; these pin down the cases
where implementations classically go wrong (INT_MIN / -1, 32-bit zero
extension, sign extension, byte order, 32-bit signed compares, cmpxchg's two
paths) with the expected value written out, so a failure says which rule broke.
Full 64-bit results are read as two runs (low word, then ``r0 >>= 32``) since
BPF_PROG_TEST_RUN reports a u32.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pybpf.isa import AluOp, AtomicOp, InsnClass, Instruction, JmpOp, Mode, Size, Source, disassemble

from .generators import EXIT, U64, lddw
from .harness import assert_same

pytestmark = pytest.mark.kernel

A64, A32 = InsnClass.ALU64, InsnClass.ALU
J64, J32 = InsnClass.JMP, InsnClass.JMP32
S64_MIN = 1 << 63
V = 0x0123456789ABCDEF


def k(cls: int, op: int, dst: int, imm: int, off: int = 0) -> Instruction:
    return Instruction(cls | op | Source.K, dst, 0, off, imm)


def x(cls: int, op: int, dst: int, src: int, off: int = 0) -> Instruction:
    return Instruction(cls | op | Source.X, dst, src, off)


def u64(value: int) -> int:
    return value & U64


def stxdw(off: int, src: int) -> Instruction:
    return Instruction(InsnClass.STX | Mode.MEM | Size.DW, 10, src, off)


def ldxdw(dst: int, off: int) -> Instruction:
    return Instruction(InsnClass.LDX | Mode.MEM | Size.DW, dst, 10, off)


def atomic(size: Size, op: AtomicOp, src: int, off: int = -8) -> Instruction:
    return Instruction(InsnClass.STX | Mode.ATOMIC | size, 10, src, off, op)


def r0_of(body: Sequence[Instruction]) -> int:
    """The full 64-bit r0 after ``body``, asserting VM == kernel on both halves."""
    lo = assert_same([*body, EXIT])
    hi = assert_same([*body, k(A64, AluOp.RSH, 0, 32), EXIT])
    return hi << 32 | lo


def check(body: Sequence[Instruction], expected: int) -> None:
    got = r0_of(body)
    assert got == u64(expected), (
        f"VM and kernel agree on {got:#018x}, RFC 9669 says {u64(expected):#018x}\n{disassemble(body)}"
    )


def binop(cls: int, op: int, a: int, b: int, off: int = 0) -> list[Instruction]:
    """r0 = a; r1 = b; r0 op= r1."""
    return [lddw(0, u64(a)), lddw(1, u64(b)), x(cls, op, 0, 1, off)]


def binop_k(cls: int, op: int, a: int, imm: int, off: int = 0) -> list[Instruction]:
    return [lddw(0, u64(a)), k(cls, op, 0, imm, off)]


SDIV, SMOD = 1, 1  # the off value that makes DIV/MOD signed
DIV, MOD = AluOp.DIV, AluOp.MOD

DIVISION = [
    pytest.param(binop(A64, DIV, S64_MIN, -1, SDIV), S64_MIN, id="sdiv64-intmin-by-reg-minus1"),
    pytest.param(binop_k(A64, DIV, S64_MIN, -1, SDIV), S64_MIN, id="sdiv64-intmin-by-imm-minus1"),
    pytest.param(binop(A64, MOD, S64_MIN, -1, SMOD), 0, id="smod64-intmin-by-reg-minus1"),
    pytest.param(binop_k(A64, MOD, S64_MIN, -1, SMOD), 0, id="smod64-intmin-by-imm-minus1"),
    pytest.param(
        binop(A32, DIV, 0xDEADBEEF_80000000, -1, SDIV), 0x80000000, id="sdiv32-intmin-by-reg-minus1"
    ),
    pytest.param(binop_k(A32, DIV, 0x80000000, -1, SDIV), 0x80000000, id="sdiv32-intmin-by-imm-minus1"),
    pytest.param(binop(A32, MOD, 0x80000000, 0xFFFFFFFF, SMOD), 0, id="smod32-intmin-by-reg-minus1"),
    pytest.param(binop_k(A32, MOD, 0x80000000, -1, SMOD), 0, id="smod32-intmin-by-imm-minus1"),
    pytest.param(binop(A64, MOD, -7, -1, SMOD), 0, id="smod64-neg-by-minus1"),
    pytest.param(binop_k(A64, MOD, 7, -1, SMOD), 0, id="smod64-pos-by-imm-minus1"),
    pytest.param(binop(A64, DIV, -7, 2, SDIV), -3, id="sdiv64-truncates-toward-zero"),
    pytest.param(binop_k(A64, DIV, 7, -2, SDIV), -3, id="sdiv64-by-negative-imm"),
    pytest.param(binop(A64, MOD, -7, 2, SMOD), -1, id="smod64-sign-of-dividend"),
    pytest.param(binop(A64, MOD, 7, -2, SMOD), 1, id="smod64-positive-dividend"),
    pytest.param(binop_k(A32, MOD, -7, 2, SMOD), 0xFFFFFFFF, id="smod32-negative-zero-extended"),
    pytest.param(binop_k(A64, DIV, -1, -1), 1, id="udiv64-imm-sign-extended"),
    pytest.param(binop_k(A32, DIV, 0xFFFFFFFF, -1), 1, id="udiv32-imm-is-u32"),
    pytest.param(binop(A64, DIV, 12345, 0), 0, id="div64-by-zero-reg"),
    pytest.param(binop(A64, MOD, -12345, 0), -12345, id="mod64-by-zero-keeps-dst"),
    pytest.param(binop(A64, DIV, -12345, 0, SDIV), 0, id="sdiv64-by-zero-reg"),
    pytest.param(binop(A64, MOD, -12345, 0, SMOD), -12345, id="smod64-by-zero-keeps-dst"),
    pytest.param(binop(A32, DIV, 12345, 1 << 32), 0, id="div32-by-low-word-zero"),
    pytest.param(binop(A32, MOD, 0xAAAAAAAA_12345678, 1 << 32), 0x12345678, id="mod32-by-zero-zero-extends"),
    pytest.param(binop(A32, DIV, -12345, 0, SDIV), 0, id="sdiv32-by-zero-reg"),
    pytest.param(
        binop(A32, MOD, -12345, 0, SMOD), u64(-12345) & 0xFFFFFFFF, id="smod32-by-zero-zero-extends"
    ),
]

ZERO_EXTENSION = [
    pytest.param(binop_k(A32, AluOp.ADD, -1, 1), 0, id="add32-wraps-and-clears-high"),
    pytest.param([lddw(0, U64), k(A32, AluOp.MOV, 0, -1)], 0xFFFFFFFF, id="mov32-imm-minus1"),
    pytest.param(
        [lddw(1, 0xFFFFFFFF_12345678), lddw(0, U64), x(A32, AluOp.MOV, 0, 1)], 0x12345678, id="mov32-reg"
    ),
    pytest.param([lddw(0, 1), Instruction(A32 | AluOp.NEG, 0)], 0xFFFFFFFF, id="neg32"),
    pytest.param([lddw(0, 1), Instruction(A64 | AluOp.NEG, 0)], -1, id="neg64"),
    pytest.param(binop_k(A32, AluOp.LSH, -1, 4), 0xFFFFFFF0, id="lsh32"),
    pytest.param(binop(A32, AluOp.MUL, 0x1_00000003, 0x1_00000005), 15, id="mul32-ignores-high-words"),
    pytest.param(binop_k(A32, AluOp.XOR, 0xFFFFFFFF_00000000, 0), 0, id="xor32-imm0-clears-high"),
    pytest.param(binop(A32, AluOp.RSH, 0xFFFFFFFF_80000000, 0x1F), 1, id="rsh32-reg"),
    pytest.param(binop(A32, AluOp.LSH, 1, 33), 2, id="lsh32-reg-amount-masked-to-31"),
    pytest.param(binop(A64, AluOp.LSH, 1, 65), 2, id="lsh64-reg-amount-masked-to-63"),
]

ARSH = [
    pytest.param(binop_k(A64, AluOp.ARSH, S64_MIN, 63), -1, id="arsh64-intmin-63"),
    pytest.param(binop_k(A64, AluOp.ARSH, S64_MIN, 1), 0xC0000000_00000000, id="arsh64-intmin-1"),
    pytest.param(binop_k(A64, AluOp.ARSH, -256, 4), -16, id="arsh64-negative"),
    pytest.param(binop_k(A64, AluOp.RSH, -256, 4), u64(-256) >> 4, id="rsh64-negative-is-logical"),
    pytest.param(binop_k(A32, AluOp.ARSH, 0x12345678_80000000, 31), 0xFFFFFFFF, id="arsh32-intmin-31"),
    pytest.param(binop_k(A32, AluOp.ARSH, 0x80000000, 4), 0xF8000000, id="arsh32-negative"),
    pytest.param(binop_k(A32, AluOp.ARSH, 0xFFFFFFFF_7FFFFFFF, 4), 0x07FFFFFF, id="arsh32-uses-bit31-only"),
    pytest.param(binop(A64, AluOp.ARSH, -16, 65), -8, id="arsh64-reg-amount-masked"),
    pytest.param(binop(A32, AluOp.ARSH, 0x80000000, 0x1_00000024), 0xF8000000, id="arsh32-reg-amount-masked"),
]

MOVSX = [
    pytest.param(
        [lddw(1, 0xFFFF_0000_0000_0080), x(A64, AluOp.MOV, 0, 1, 8)], -0x80, id="movsx64-s8-negative"
    ),
    pytest.param(
        [lddw(1, 0xFFFF_0000_0000_FF7F), x(A64, AluOp.MOV, 0, 1, 8)], 0x7F, id="movsx64-s8-positive"
    ),
    pytest.param([lddw(1, 0x1234_8000), x(A64, AluOp.MOV, 0, 1, 16)], -0x8000, id="movsx64-s16"),
    pytest.param([lddw(1, 0x1_8000_0000), x(A64, AluOp.MOV, 0, 1, 32)], -(1 << 31), id="movsx64-s32"),
    pytest.param([lddw(1, 0x7FFF_FFFF), x(A64, AluOp.MOV, 0, 1, 32)], 0x7FFFFFFF, id="movsx64-s32-positive"),
    pytest.param(
        [lddw(1, 0xAB_0000_0080), x(A32, AluOp.MOV, 0, 1, 8)], 0xFFFFFF80, id="movsx32-s8-zero-extends"
    ),
    pytest.param(
        [lddw(1, 0xAB_0000_8000), x(A32, AluOp.MOV, 0, 1, 16)], 0xFFFF8000, id="movsx32-s16-zero-extends"
    ),
    pytest.param(
        [lddw(1, 0x80), stxdw(-8, 1), Instruction(InsnClass.LDX | Mode.MEMSX | Size.B, 0, 10, -8)],
        -0x80,
        id="ldsx-b",
    ),
    pytest.param(
        [lddw(1, 0x8000), stxdw(-8, 1), Instruction(InsnClass.LDX | Mode.MEMSX | Size.H, 0, 10, -8)],
        -0x8000,
        id="ldsx-h",
    ),
    pytest.param(
        [lddw(1, 0x80000000), stxdw(-8, 1), Instruction(InsnClass.LDX | Mode.MEMSX | Size.W, 0, 10, -8)],
        -(1 << 31),
        id="ldsx-w",
    ),
]


def end(cls: int, source: int, width: int) -> list[Instruction]:
    return [lddw(0, V), Instruction(cls | AluOp.END | source, 0, 0, 0, width)]


BYTE_ORDER = [
    pytest.param(end(A32, Source.K, 16), 0xCDEF, id="le16-truncates"),
    pytest.param(end(A32, Source.K, 32), 0x89ABCDEF, id="le32-truncates"),
    pytest.param(end(A32, Source.K, 64), V, id="le64-noop"),
    pytest.param(end(A32, Source.X, 16), 0xEFCD, id="be16"),
    pytest.param(end(A32, Source.X, 32), 0xEFCDAB89, id="be32"),
    pytest.param(end(A32, Source.X, 64), 0xEFCDAB8967452301, id="be64"),
    pytest.param(end(A64, Source.K, 16), 0xEFCD, id="bswap16"),
    pytest.param(end(A64, Source.K, 32), 0xEFCDAB89, id="bswap32"),
    pytest.param(end(A64, Source.K, 64), 0xEFCDAB8967452301, id="bswap64"),
]


def taken(cond: Instruction, r1: int, r2: int = 0) -> list[Instruction]:
    """r0 = 1 when ``cond`` (comparing r1 with r2 or an imm) jumps, else 0."""
    return [
        lddw(1, u64(r1)),
        lddw(2, u64(r2)),
        k(A64, AluOp.MOV, 0, 1),
        cond.replace(off=1),
        k(A64, AluOp.MOV, 0, 0),
    ]


def jk(cls: int, op: int, imm: int) -> Instruction:
    return Instruction(cls | op | Source.K, 1, 0, 0, imm)


def jx(cls: int, op: int) -> Instruction:
    return Instruction(cls | op | Source.X, 1, 2)


COMPARES = [
    pytest.param(taken(jk(J32, JmpOp.JSLT, 0), 0x80000000), 1, id="jslt32-bit31-is-negative"),
    pytest.param(taken(jk(J64, JmpOp.JSLT, 0), 0x80000000), 0, id="jslt64-bit31-is-positive"),
    pytest.param(taken(jk(J32, JmpOp.JSGT, 0), 0xFFFFFFFF_00000001), 1, id="jsgt32-ignores-high-word"),
    pytest.param(taken(jk(J64, JmpOp.JSGT, 0), 0xFFFFFFFF_00000001), 0, id="jsgt64-negative"),
    pytest.param(taken(jk(J32, JmpOp.JSGE, -1), 0x7FFFFFFF), 1, id="jsge32-max-vs-minus1"),
    pytest.param(taken(jk(J32, JmpOp.JSLE, -(1 << 31)), 0x5_80000000), 1, id="jsle32-intmin-equal"),
    pytest.param(taken(jk(J32, JmpOp.JSLT, -(1 << 31)), 0x80000000), 0, id="jslt32-intmin-not-below-itself"),
    pytest.param(taken(jx(J32, JmpOp.JSGT), 0x1_FFFFFFFF, 1), 0, id="jsgt32-reg-minus1-vs-1"),
    pytest.param(taken(jx(J64, JmpOp.JSGT), 0x1_FFFFFFFF, 1), 1, id="jsgt64-reg"),
    pytest.param(taken(jx(J32, JmpOp.JSLE), 0x80000000, 0x7FFFFFFF), 1, id="jsle32-reg"),
    pytest.param(
        taken(jx(J32, JmpOp.JSGE), 0x12345678_00000000, 0xFFFFFFFF), 1, id="jsge32-reg-zero-vs-minus1"
    ),
    pytest.param(taken(jk(J32, JmpOp.JGT, 0), 1 << 32), 0, id="jgt32-low-word-zero"),
    pytest.param(taken(jk(J64, JmpOp.JGT, 0), 1 << 32), 1, id="jgt64"),
    pytest.param(taken(jk(J64, JmpOp.JEQ, -1), 0xFFFFFFFF), 0, id="jeq64-imm-sign-extends"),
    pytest.param(taken(jk(J32, JmpOp.JEQ, -1), 0xFFFFFFFF), 1, id="jeq32-imm"),
    pytest.param(taken(jk(J32, JmpOp.JLT, -1), 0xFFFFFFFE), 1, id="jlt32-imm-unsigned"),
    pytest.param(taken(jk(J32, JmpOp.JSET, 1 << 31), 0x1_00000000), 0, id="jset32-low-word-only"),
]


def cmpxchg(size: Size, slot: int, r0: int, new: int, result: str) -> list[Instruction]:
    """slot = ``slot``; r0 = ``r0``; cmpxchg(slot, r0, ``new``); r0 = old value or the slot."""
    body = [
        lddw(9, u64(slot)),
        stxdw(-8, 9),
        lddw(1, u64(new)),
        lddw(0, u64(r0)),
        atomic(size, AtomicOp.CMPXCHG, 1),
    ]
    if result == "slot":
        body.append(ldxdw(0, -8))
    return body


A, B = 0xAAAAAAAA_11111111, 0x55555555_22222222
CMPXCHG = [
    pytest.param(cmpxchg(Size.DW, A, A, B, "r0"), A, id="cmpxchg64-success-r0-old"),
    pytest.param(cmpxchg(Size.DW, A, A, B, "slot"), B, id="cmpxchg64-success-stores"),
    pytest.param(cmpxchg(Size.DW, A, A ^ (1 << 63), B, "r0"), A, id="cmpxchg64-failure-r0-old"),
    pytest.param(cmpxchg(Size.DW, A, A ^ (1 << 63), B, "slot"), A, id="cmpxchg64-failure-keeps"),
    pytest.param(
        cmpxchg(Size.W, A, 0xFFFFFFFF_11111111, B, "r0"), 0x11111111, id="cmpxchg32-success-r0-zext"
    ),
    pytest.param(
        cmpxchg(Size.W, A, 0xFFFFFFFF_11111111, B, "slot"), 0xAAAAAAAA_22222222, id="cmpxchg32-success"
    ),
    pytest.param(cmpxchg(Size.W, A, 0x11111112, B, "r0"), 0x11111111, id="cmpxchg32-failure-r0-zext"),
    pytest.param(cmpxchg(Size.W, A, 0x11111112, B, "slot"), A, id="cmpxchg32-failure-keeps"),
    pytest.param(
        [lddw(9, A), stxdw(-8, 9), lddw(0, 0xFFFFFFFF_00000001), atomic(Size.W, AtomicOp.FETCH_ADD, 0)],
        0x11111111,
        id="fetch-add32-zero-extends",
    ),
    pytest.param(
        [
            lddw(9, A),
            stxdw(-8, 9),
            lddw(1, 0xFFFFFFFF_00000001),
            atomic(Size.W, AtomicOp.FETCH_ADD, 1),
            ldxdw(0, -8),
        ],
        0xAAAAAAAA_11111112,
        id="fetch-add32-leaves-high-word",
    ),
    pytest.param(
        [lddw(9, A), stxdw(-8, 9), lddw(0, B), atomic(Size.W, AtomicOp.XCHG, 0)],
        0x11111111,
        id="xchg32-zero-extends",
    ),
]


@pytest.mark.parametrize(
    ("body", "expected"), DIVISION + ZERO_EXTENSION + ARSH + MOVSX + BYTE_ORDER + COMPARES + CMPXCHG
)
def test_semantics(body: list[Instruction], expected: int) -> None:
    check(body, expected)
