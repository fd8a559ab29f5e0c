"""Hypothesis strategies over the whole valid encoding space (shared by the isa tests).

Hypothesis does not draw uniformly: a ``sampled_from`` over 129 opcodes inside a
composite strategy reaches only about half of them in 500 examples.  So the space
is split into *forms* -- an opcode plus the field values that change what the
instruction means (the lddw pseudo source, the call source, the atomic
operation, the byte-swap width, the signed div/mod flag, the movsx width) -- and
:func:`every_form` draws one instruction of EVERY form per example.  The other
fields are drawn freely (special values over-represented) and, when the
combination is invalid, repaired towards a valid one by zeroing fields.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from hypothesis import strategies as st

from pybpf.isa import AtomicOp, Instruction, invalid_reason

LDDW = 0x18
CALL = 0x85


@dataclass(frozen=True)
class Form:
    """An opcode and the meaning-changing fields held fixed (None = drawn)."""

    opcode: int
    src: int | None = None
    off: int | None = None
    imm: int | None = None

    def build(self, dst: int, src: int, off: int, imm: int) -> Instruction:
        return Instruction(
            self.opcode,
            dst,
            src if self.src is None else self.src,
            off if self.off is None else self.off,
            imm if self.imm is None else self.imm,
        )

    def __str__(self) -> str:
        fields = (("src", self.src), ("off", self.off), ("imm", self.imm))
        fixed = [f"{k}={v:#x}" for k, v in fields if v is not None]
        return " ".join([f"{self.opcode:#04x}", *fixed])


def _candidate_forms(opcode: int) -> list[Form]:
    cls, code, mode = opcode & 0x07, opcode & 0xF0, opcode & 0xE0
    if opcode == LDDW:
        return [Form(opcode, src=s) for s in range(7)]
    if opcode == CALL:
        return [Form(opcode, src=s) for s in range(3)]
    if cls == 0x03 and mode == 0xC0:
        return [Form(opcode, imm=int(op)) for op in AtomicOp]
    if cls in (0x04, 0x07):
        if code == 0xD0:
            return [Form(opcode, imm=w) for w in (16, 32, 64)]
        if code in (0x30, 0x90):
            return [Form(opcode, off=o) for o in (0, 1)]
        if code == 0xB0 and opcode & 0x08:
            return [Form(opcode, off=o) for o in (0, 8, 16, 32)]
    return [Form(opcode)]


def _example(form: Form) -> Instruction | None:
    for src, off, imm in itertools.product((0, 1, 2), (0, 1, 8), (0, 1, 16)):
        insn = form.build(0, src, off, imm)
        if invalid_reason(insn) is None:
            return insn
    return None


EXAMPLES: dict[Form, Instruction] = {
    form: ex for op in range(256) for form in _candidate_forms(op) if (ex := _example(form)) is not None
}
FORMS: list[Form] = list(EXAMPLES)
VALID_OPCODES: list[int] = sorted({form.opcode for form in FORMS})

_OFFSETS = st.one_of(st.sampled_from([0, 0, 0, 1, 8, 16, 32, -1, -8]), st.integers(-0x8000, 0x7FFF))
_IMMS = st.one_of(
    st.sampled_from([0, 1, 16, 32, 64, 0x01, 0x40, 0x41, 0x50, 0x51, 0xA0, 0xA1, 0xE1, 0xF1, 0x100, 0x110]),
    st.integers(-(1 << 31), (1 << 31) - 1),
)
_IMM64 = st.one_of(
    st.integers(0, (1 << 64) - 1), st.integers(0, 0xFFFFFFFF), st.sampled_from([0, 1, 1 << 63])
)


def form_instructions(form: Form) -> st.SearchStrategy[Instruction]:
    """Valid instructions of one form, every free field drawn."""
    base = EXAMPLES[form]

    @st.composite
    def draw_one(draw: st.DrawFn) -> Instruction:
        dst = draw(st.integers(0, 10))
        src = draw(st.integers(0, 10))
        if form.opcode == LDDW:
            return form.build(dst, 0, 0, draw(_IMM64))
        off, imm = draw(_OFFSETS), draw(_IMMS)
        for candidate in (
            form.build(dst, src, off, imm),
            form.build(dst, 0, off, imm),
            form.build(dst, src, off, 0),
            form.build(dst, src, 0, imm),
            form.build(dst, 0, 0, imm),
            form.build(dst, src, 0, 0),
            form.build(dst, base.src, base.off, base.imm),
            form.build(dst, src, base.off, base.imm),
            form.build(0, src, off, imm),
            form.build(0, src, 0, imm),
            form.build(0, 0, off, 0),
        ):
            if invalid_reason(candidate) is None:
                return candidate
        return base

    return draw_one()


def every_form() -> st.SearchStrategy[tuple[Instruction, ...]]:
    """One freshly drawn instruction of every form, in FORMS order."""
    return st.tuples(*(form_instructions(form) for form in FORMS))


def valid_instructions() -> st.SearchStrategy[Instruction]:
    """Any valid instruction (a form first, then its fields)."""
    return st.sampled_from(FORMS).flatmap(form_instructions)
