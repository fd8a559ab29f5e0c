"""Opcode parts of the eBPF instruction set (RFC 9669) as enums.

An opcode byte is split three ways depending on its class: arithmetic and jump
instructions use ``code | source | class``; loads and stores use
``mode | size | class``.  Values are the RFC's and the kernel UAPI's.
"""

from __future__ import annotations

from enum import IntEnum


class InsnClass(IntEnum):
    """The low three bits of the opcode."""

    LD = 0x00
    LDX = 0x01
    ST = 0x02
    STX = 0x03
    ALU = 0x04
    JMP = 0x05
    JMP32 = 0x06
    ALU64 = 0x07


class Source(IntEnum):
    """Bit 3 of ALU and JMP opcodes: immediate (K) or register (X) operand."""

    K = 0x00
    X = 0x08


class AluOp(IntEnum):
    """The high four bits of ALU and ALU64 opcodes."""

    ADD = 0x00
    SUB = 0x10
    MUL = 0x20
    DIV = 0x30
    OR = 0x40
    AND = 0x50
    LSH = 0x60
    RSH = 0x70
    NEG = 0x80
    MOD = 0x90
    XOR = 0xA0
    MOV = 0xB0
    ARSH = 0xC0
    END = 0xD0


class JmpOp(IntEnum):
    """The high four bits of JMP and JMP32 opcodes."""

    JA = 0x00
    JEQ = 0x10
    JGT = 0x20
    JGE = 0x30
    JSET = 0x40
    JNE = 0x50
    JSGT = 0x60
    JSGE = 0x70
    CALL = 0x80
    EXIT = 0x90
    JLT = 0xA0
    JLE = 0xB0
    JSLT = 0xC0
    JSLE = 0xD0
    JCOND = 0xE0  # may_goto (src 0): a jump the kernel takes only when a loop budget runs out


class Size(IntEnum):
    """Bits 3-4 of load/store opcodes: access width."""

    W = 0x00
    H = 0x08
    B = 0x10
    DW = 0x18

    @property
    def nbytes(self) -> int:
        return _SIZE_BYTES[self]


_SIZE_BYTES = {Size.W: 4, Size.H: 2, Size.B: 1, Size.DW: 8}
SIZE_OF_BYTES = {4: Size.W, 2: Size.H, 1: Size.B, 8: Size.DW}


class Mode(IntEnum):
    """The high three bits of load/store opcodes."""

    IMM = 0x00
    ABS = 0x20
    IND = 0x40
    MEM = 0x60
    MEMSX = 0x80
    ATOMIC = 0xC0


class AtomicOp(IntEnum):
    """The ``imm`` field of BPF_ATOMIC instructions."""

    ADD = 0x00
    OR = 0x40
    AND = 0x50
    XOR = 0xA0
    FETCH_ADD = 0x01
    FETCH_OR = 0x41
    FETCH_AND = 0x51
    FETCH_XOR = 0xA1
    XCHG = 0xE1
    CMPXCHG = 0xF1
    LOAD_ACQ = 0x100
    STORE_REL = 0x110


ATOMIC_FETCH = 0x01


class PseudoSrc(IntEnum):
    """``src`` of a 64-bit immediate load: what the immediate refers to."""

    IMM64 = 0
    MAP_FD = 1
    MAP_VALUE = 2
    BTF_ID = 3
    FUNC = 4
    MAP_IDX = 5
    MAP_IDX_VALUE = 6


class CallSrc(IntEnum):
    """``src`` of a BPF_CALL: what ``imm`` names."""

    HELPER = 0
    PSEUDO_CALL = 1
    KFUNC = 2


LDDW_OPCODE = InsnClass.LD | Mode.IMM | Size.DW  # 0x18

CONDITIONAL_JUMPS = frozenset(
    {
        JmpOp.JEQ,
        JmpOp.JGT,
        JmpOp.JGE,
        JmpOp.JSET,
        JmpOp.JNE,
        JmpOp.JSGT,
        JmpOp.JSGE,
        JmpOp.JLT,
        JmpOp.JLE,
        JmpOp.JSLT,
        JmpOp.JSLE,
    }
)


def insn_class(opcode: int) -> InsnClass:
    return InsnClass(opcode & 0x07)


def is_alu(opcode: int) -> bool:
    return (opcode & 0x07) in (InsnClass.ALU, InsnClass.ALU64)


def is_jmp(opcode: int) -> bool:
    return (opcode & 0x07) in (InsnClass.JMP, InsnClass.JMP32)


def is_load_store(opcode: int) -> bool:
    return (opcode & 0x07) in (InsnClass.LD, InsnClass.LDX, InsnClass.ST, InsnClass.STX)
