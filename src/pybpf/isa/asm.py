"""Assembler: text -> instructions, in either of the two syntaxes eBPF tools print.

``conformance``: the bpf_conformance / uBPF syntax (``mov %r0, 1``).
``c``: the C-like syntax of llvm-objdump, ``bpftool prog dump xlated`` and the
kernel verifier log (``r0 = 1``, ``if r1 > 0x3 goto +2``); bpftool's ``0: (b7)``
prefix and llvm-objdump's address/byte columns are accepted and ignored.
``auto`` decides per text: the conformance syntax marks registers with ``%``;
text with no such mark (``loop:\nja loop``) that fails in the guessed syntax is
tried in the other one, and when both fail the error that got further is raised.
"""

from __future__ import annotations

import re
from typing import Literal

from ..errors import AsmError
from . import asm_c, asm_conformance
from .instruction import Instruction

Syntax = Literal["auto", "conformance", "c"]

_CONFORMANCE_HINT = re.compile(r"%r\d|^\s*(?:lddw|ldx|stx?[bhw]|exit\s*$|mov|lock\s)", re.M)


def detect_syntax(text: str) -> Literal["conformance", "c"]:
    """Which syntax ``text`` is written in (``%rN`` registers mean conformance)."""
    body = "\n".join(asm_conformance.strip_comment(line) for line in text.splitlines())
    if re.search(r"%r\d", body):
        return "conformance"
    if re.search(r"\b[rw]\d+\s*[-+*/%&|^<>s]*=|\bgoto\b|\*\(\s*[us]\d+\s*\*\)", body):
        return "c"
    if _CONFORMANCE_HINT.search(body):
        return "conformance"
    return "c"


def assemble(text: str, syntax: Syntax = "auto") -> list[Instruction]:
    """Assemble ``text``; raise :class:`AsmError` (line, column, what was expected)."""
    if not isinstance(text, str):
        raise AsmError(0, 0, f"assembler input must be text, not {type(text).__name__}")
    if syntax == "auto":
        return _assemble_auto(text)
    if syntax == "conformance":
        return asm_conformance.parse(text)
    if syntax == "c":
        return asm_c.parse(text)
    raise AsmError(0, 0, f"unknown syntax {syntax!r} (expected auto, conformance or c)")


def _assemble_auto(text: str) -> list[Instruction]:
    guess = detect_syntax(text)
    other: Literal["conformance", "c"] = "c" if guess == "conformance" else "conformance"
    try:
        return assemble(text, guess)
    except AsmError as first:
        try:
            return assemble(text, other)
        except AsmError as second:
            if (second.line, second.column) > (first.line, first.column):
                raise second from None
            raise first from None
