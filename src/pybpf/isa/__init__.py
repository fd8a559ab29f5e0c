"""The eBPF instruction set: opcodes, the Instruction model, encode/decode, asm, disasm."""

from __future__ import annotations

from .asm import assemble, detect_syntax
from .codec import decode, encode, slot_offsets
from .disasm import STYLES, disassemble, format_insn
from .instruction import InsnMeta, Instruction, LineInfo, invalid_reason
from .opcodes import (
    AluOp,
    AtomicOp,
    CallSrc,
    InsnClass,
    JmpOp,
    Mode,
    PseudoSrc,
    Size,
    Source,
)

__all__ = [
    "STYLES",
    "AluOp",
    "AtomicOp",
    "CallSrc",
    "InsnClass",
    "InsnMeta",
    "Instruction",
    "JmpOp",
    "LineInfo",
    "Mode",
    "PseudoSrc",
    "Size",
    "Source",
    "assemble",
    "decode",
    "detect_syntax",
    "disassemble",
    "encode",
    "format_insn",
    "invalid_reason",
    "slot_offsets",
]
