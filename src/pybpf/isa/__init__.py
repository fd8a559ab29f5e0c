"""The eBPF instruction set: opcodes, the Instruction model, encode/decode, asm, disasm."""

from __future__ import annotations

from .codec import decode, encode, slot_offsets
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
    "decode",
    "encode",
    "invalid_reason",
    "slot_offsets",
]
