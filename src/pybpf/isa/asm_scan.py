"""Shared pieces of both assembler syntaxes: a column-aware line scanner and label fix-up.

Both syntaxes are line oriented, so a small hand-written scanner that knows its
line and column gives errors of the form "line 3, column 9: expected a register"
without a parser generator.  Jump targets may be labels, resolved after the whole
text is read (a label may be used before it is defined); offsets always count
8-byte slots, so a ``lddw`` between a jump and its target counts two.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ..errors import AsmError
from .instruction import Instruction, invalid_reason

_GOTOL_HINT = " (use gotol)"
S16 = (-(1 << 15), (1 << 15) - 1)
S32 = (-(1 << 31), (1 << 31) - 1)
U32_MAX = (1 << 32) - 1
U64_MAX = (1 << 64) - 1

_NUMBER = re.compile(r"[+-]?\s*(?:0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|[0-9]+)")
_IDENT = re.compile(r"[A-Za-z_.$][A-Za-z0-9_.$]*")
_WS = re.compile(r"[ \t]*")


class Scanner:
    """Cursor over one line of text; every error names the line and the column."""

    __slots__ = ("line", "lineno", "pos")

    def __init__(self, line: str, lineno: int) -> None:
        self.line = line
        self.lineno = lineno
        self.pos = 0

    # -- position and errors ---------------------------------------------
    def error(self, reason: str, pos: int | None = None) -> AsmError:
        col = (self.pos if pos is None else pos) + 1
        return AsmError(self.lineno, col, reason, text=self.line)

    def skip_ws(self) -> None:
        m = _WS.match(self.line, self.pos)
        if m:
            self.pos = m.end()

    def at_end(self) -> bool:
        self.skip_ws()
        return self.pos >= len(self.line)

    def rest(self) -> str:
        return self.line[self.pos :]

    def expect_end(self) -> None:
        if not self.at_end():
            raise self.error(f"unexpected text {self.rest().strip()!r} at the end of the instruction")

    def peek(self, literal: str) -> bool:
        self.skip_ws()
        return self.line.startswith(literal, self.pos)

    def accept(self, literal: str) -> bool:
        """Consume ``literal`` (after blanks) if it is next."""
        if self.peek(literal):
            self.pos += len(literal)
            return True
        return False

    def accept_word(self, word: str) -> bool:
        """Consume ``word`` only when it is a whole identifier (``ll`` but not ``lla``)."""
        self.skip_ws()
        end = self.pos + len(word)
        if self.line.startswith(word, self.pos) and not (
            end < len(self.line) and (self.line[end].isalnum() or self.line[end] == "_")
        ):
            self.pos = end
            return True
        return False

    def expect(self, literal: str, what: str | None = None) -> None:
        if not self.accept(literal):
            raise self.error(f"expected {what or repr(literal)}{self._found()}")

    def _found(self) -> str:
        rest = self.rest().strip()
        return f", found {rest.split()[0]!r}" if rest else ", found end of line"

    # -- tokens ------------------------------------------------------------
    def ident(self, what: str = "a name") -> str:
        self.skip_ws()
        m = _IDENT.match(self.line, self.pos)
        if not m:
            raise self.error(f"expected {what}{self._found()}")
        self.pos = m.end()
        return m.group()

    def peek_ident(self) -> str | None:
        self.skip_ws()
        m = _IDENT.match(self.line, self.pos)
        return m.group() if m else None

    def peek_number(self) -> bool:
        self.skip_ws()
        return _NUMBER.match(self.line, self.pos) is not None

    def number(self, what: str = "a number") -> int:
        self.skip_ws()
        m = _NUMBER.match(self.line, self.pos)
        if not m:
            raise self.error(f"expected {what}{self._found()}")
        end = m.end()
        if end < len(self.line) and (self.line[end].isalnum() or self.line[end] == "_"):
            raise self.error(f"malformed number {self.line[self.pos : end + 1]!r}")
        self.pos = end
        return int(m.group().replace(" ", "").replace("\t", ""), 0)

    def register(self, prefix: str, what: str = "a register") -> int:
        """A register ``<prefix>0`` .. ``<prefix>10``."""
        self.skip_ws()
        start = self.pos
        m = re.compile(re.escape(prefix) + r"([0-9]+)\b").match(self.line, self.pos)
        if not m:
            raise self.error(f"expected {what} ({prefix}0..{prefix}10){self._found()}")
        n = int(m.group(1))
        if n > 10:
            raise self.error(f"bad register {m.group()!r}: only {prefix}0..{prefix}10 exist", start)
        self.pos = m.end()
        return n


def check_range(sc: Scanner, value: int, lo: int, hi: int, what: str, pos: int) -> int:
    if not lo <= value <= hi:
        raise sc.error(f"{what} {value} out of range [{lo}, {hi}]", pos)
    return value


def imm32(sc: Scanner, what: str = "an immediate") -> int:
    """A 32-bit immediate: signed, or unsigned up to 0xffffffff (stored two's complement)."""
    sc.skip_ws()
    pos = sc.pos
    value = sc.number(what)
    if not S32[0] <= value <= U32_MAX:
        raise sc.error(f"immediate {value} does not fit in 32 bits", pos)
    return value - (1 << 32) if value > S32[1] else value


def imm64(sc: Scanner, what: str = "a 64-bit immediate") -> int:
    sc.skip_ws()
    pos = sc.pos
    value = sc.number(what)
    if not -(1 << 63) <= value <= U64_MAX:
        raise sc.error(f"immediate {value} does not fit in 64 bits", pos)
    return value & U64_MAX


def off16(sc: Scanner, what: str = "an offset") -> int:
    sc.skip_ws()
    pos = sc.pos
    value = sc.number(what)
    return check_range(sc, value, S16[0], S16[1], "offset", pos)


TargetField = Literal["off", "imm"]


@dataclass(frozen=True, slots=True)
class Pending:
    """An instruction whose jump field may still name a label."""

    insn: Instruction
    lineno: int
    column: int
    line: str
    target: str | None = None
    field: TargetField = "off"


@dataclass
class Program:
    """What a syntax's line parser collects: instructions and label positions."""

    items: list[Pending]
    labels: dict[str, int]  # label -> index into items (the instruction it precedes)
    label_lines: dict[str, int]

    def __init__(self) -> None:
        self.items = []
        self.labels = {}
        self.label_lines = {}

    def add_label(self, sc: Scanner, name: str, pos: int) -> None:
        if name in self.labels:
            raise sc.error(f"label {name!r} already defined on line {self.label_lines[name]}", pos)
        self.labels[name] = len(self.items)
        self.label_lines[name] = sc.lineno

    def add(
        self,
        sc: Scanner,
        insn: Instruction,
        start: int,
        target: str | None = None,
        field: TargetField = "off",
    ) -> None:
        self.items.append(Pending(insn, sc.lineno, start + 1, sc.line, target, field))

    def resolve(self, *, implicit_exit_label: bool) -> list[Instruction]:
        """Turn label references into slot-relative offsets and validate every instruction."""
        slots: list[int] = []
        pc = 0
        for item in self.items:
            slots.append(pc)
            pc += item.insn.width
        slots.append(pc)
        label_slot = {name: slots[index] for name, index in self.labels.items()}
        if implicit_exit_label and "exit" not in label_slot:
            for item, slot in zip(self.items, slots, strict=False):
                if item.insn.is_exit:
                    label_slot["exit"] = slot
                    break
        out: list[Instruction] = []
        for item, slot in zip(self.items, slots, strict=False):
            insn = item.insn
            if item.target is not None:
                if item.target not in label_slot:
                    what = "helper or label" if item.insn.is_call else "label"
                    unknown = f"unknown {what} {item.target!r}"
                    raise AsmError(item.lineno, item.column, unknown, text=item.line)
                rel = label_slot[item.target] - (slot + 1)
                lo, hi = S16 if item.field == "off" else S32
                if not lo <= rel <= hi:
                    raise AsmError(
                        item.lineno,
                        item.column,
                        f"label {item.target!r} is {rel} slots away, out of the range "
                        f"[{lo}, {hi}] of the {item.field} field{_GOTOL_HINT if item.field == 'off' else ''}",
                        text=item.line,
                    )
                insn = insn.replace(**{item.field: rel})
            reason = invalid_reason(insn)
            if reason is not None:
                raise AsmError(item.lineno, item.column, f"invalid instruction: {reason}", text=item.line)
            out.append(insn)
        return out
