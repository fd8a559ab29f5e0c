"""Hypothesis strategies over the whole valid encoding space (shared by the isa tests).

Opcodes are drawn only among those with at least one valid encoding; the other
fields are drawn freely (with the special values over-represented) and, when the
combination is invalid, repaired towards a valid one by zeroing fields.
"""

from __future__ import annotations

import itertools

from hypothesis import strategies as st

from pybpf.isa import Instruction, invalid_reason

LDDW = 0x18


def _example(opcode: int) -> Instruction | None:
    for src, off, imm in itertools.product((0, 1, 2), (0, 1, 8), (0, 16, 0x01, 0x100, 0x110, 0xE1)):
        insn = Instruction(opcode, 0, src, off, imm)
        if invalid_reason(insn) is None:
            return insn
    return None


EXAMPLES = {op: ex for op in range(256) if (ex := _example(op)) is not None}
VALID_OPCODES = sorted(EXAMPLES)

_OFFSETS = st.one_of(st.sampled_from([0, 0, 0, 1, 8, 16, 32, -1, -8]), st.integers(-0x8000, 0x7FFF))
_IMMS = st.one_of(
    st.sampled_from([0, 1, 16, 32, 64, 0x01, 0x40, 0x41, 0x50, 0x51, 0xA0, 0xA1, 0xE1, 0xF1, 0x100, 0x110]),
    st.integers(-(1 << 31), (1 << 31) - 1),
)


@st.composite
def valid_instructions(draw: st.DrawFn) -> Instruction:
    opcode = draw(st.sampled_from(VALID_OPCODES))
    dst = draw(st.integers(0, 10))
    src = draw(st.integers(0, 10))
    if opcode == LDDW:
        imm = draw(st.integers(0, (1 << 64) - 1) | st.integers(0, 0xFFFFFFFF))
        return Instruction(opcode, dst, draw(st.integers(0, 6)), 0, imm)
    off, imm = draw(_OFFSETS), draw(_IMMS)
    base = EXAMPLES[opcode]
    for candidate in (
        Instruction(opcode, dst, src, off, imm),
        Instruction(opcode, dst, 0, off, imm),
        Instruction(opcode, dst, src, off, 0),
        Instruction(opcode, dst, src, 0, imm),
        Instruction(opcode, dst, 0, 0, imm),
        Instruction(opcode, dst, src, 0, 0),
        Instruction(opcode, dst, base.src, base.off, base.imm),
        Instruction(opcode, dst, src, base.off, base.imm),
        Instruction(opcode, 0, src, off, imm),
        Instruction(opcode, 0, src, 0, imm),
    ):
        if invalid_reason(candidate) is None:
            return candidate
    return base
