"""Bytes <-> instructions.

Each slot is 8 bytes: opcode, a register byte (dst in the low nibble and src in
the high nibble on little-endian; swapped on big-endian), a signed 16-bit offset
and a signed 32-bit immediate.  ``lddw`` takes two slots and decodes to one
:class:`Instruction`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Literal

from ..errors import InvalidInstructionError
from .instruction import Instruction, invalid_reason
from .opcodes import LDDW_OPCODE

Endian = Literal["little", "big"]

_SLOT = {"little": struct.Struct("<BBhi"), "big": struct.Struct(">BBhi")}


def _split_regs(regs: int, endian: Endian) -> tuple[int, int]:
    if endian == "little":
        return regs & 0x0F, regs >> 4
    return regs >> 4, regs & 0x0F


def _join_regs(dst: int, src: int, endian: Endian) -> int:
    return (src << 4 | dst) if endian == "little" else (dst << 4 | src)


def decode(data: bytes, *, endian: Endian = "little", validate: bool = True) -> list[Instruction]:
    """Decode a program; raise InvalidInstructionError naming the slot index and why.

    ``validate=False`` skips the validity rules (for tools that show whatever is
    there), but a truncated program is always an error.
    """
    if len(data) % 8:
        raise InvalidInstructionError(
            len(data) // 8, f"program length {len(data)} is not a multiple of 8 bytes"
        )
    slot = _SLOT[endian]
    nslots = len(data) // 8
    out: list[Instruction] = []
    append = out.append
    i = 0
    unpack_from = slot.unpack_from
    while i < nslots:
        opcode, regs, off, imm = unpack_from(data, i * 8)
        dst, src = _split_regs(regs, endian)
        if opcode == LDDW_OPCODE:
            if i + 1 >= nslots:
                raise InvalidInstructionError(i, "lddw is truncated: its second slot is missing")
            op2, regs2, off2, imm2 = unpack_from(data, i * 8 + 8)
            if validate and (op2 or regs2 or off2):
                raise InvalidInstructionError(
                    i + 1, "second slot of lddw must have zero opcode, registers and offset"
                )
            insn = Instruction(opcode, dst, src, off, (imm & 0xFFFFFFFF) | ((imm2 & 0xFFFFFFFF) << 32))
            width = 2
        else:
            insn = Instruction(opcode, dst, src, off, imm)
            width = 1
        if validate:
            reason = invalid_reason(insn)
            if reason is not None:
                raise InvalidInstructionError(i, reason)
        append(insn)
        i += width
    return out


def encode(insns: Iterable[Instruction], *, endian: Endian = "little", validate: bool = True) -> bytes:
    """Encode instructions; an invalid one raises InvalidInstructionError (slot index).

    ``validate=False`` writes whatever fields an instruction holds (they must still
    fit their slot), so a dump can show the bytes of an object clang or a corrupted
    file produced, the way ``decode(..., validate=False)`` read them.
    """
    slot = _SLOT[endian]
    parts: list[bytes] = []
    index = 0
    for insn in insns:
        reason = invalid_reason(insn) if validate else None
        if reason is not None:
            raise InvalidInstructionError(index, reason)
        regs = _join_regs(insn.dst, insn.src, endian)
        if insn.opcode == LDDW_OPCODE:
            lo = insn.imm & 0xFFFFFFFF
            hi = (insn.imm >> 32) & 0xFFFFFFFF
            parts.append(slot.pack(insn.opcode, regs, insn.off, lo - (1 << 32) if lo >> 31 else lo))
            parts.append(slot.pack(0, 0, 0, hi - (1 << 32) if hi >> 31 else hi))
            index += 2
        else:
            parts.append(slot.pack(insn.opcode, regs, insn.off, insn.imm))
            index += 1
    return b"".join(parts)


def slot_offsets(insns: Iterable[Instruction]) -> list[int]:
    """The slot index of each logical instruction (lddw counts two slots)."""
    out = []
    pc = 0
    for insn in insns:
        out.append(pc)
        pc += insn.width
    return out
