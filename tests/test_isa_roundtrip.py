"""Property tests over the whole valid encoding space.

decode(encode(x)) == x, and assemble(disassemble([x], style)) == [x] for every
style, except the forms a style cannot express (documented in pybpf.isa.disasm):
the ``llvm`` style prints pseudo and kfunc calls like helper calls, drops the
high word of ``ld_pseudo`` and the immediate of ``skb[rN]`` loads.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from isa_strategies import valid_instructions
from pybpf.isa import Instruction, assemble, decode, disassemble, encode, format_insn

SETTINGS = settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))


def llvm_expressible(insn: Instruction) -> bool:
    if insn.is_call and insn.src != 0:
        return False
    if insn.is_lddw and insn.src != 0 and insn.imm_hi:
        return False
    return not (insn.opcode & 0xE7 == 0x40 and insn.imm)  # LD_IND with an immediate


@SETTINGS
@given(valid_instructions())
def test_decode_encode_roundtrip(insn: Instruction) -> None:
    assert decode(encode([insn])) == [insn]


@SETTINGS
@given(valid_instructions())
def test_kernel_style_roundtrip(insn: Instruction) -> None:
    assert assemble(format_insn(insn, "kernel"), "c") == [insn]


@SETTINGS
@given(valid_instructions())
def test_conformance_style_roundtrip(insn: Instruction) -> None:
    assert assemble(format_insn(insn, "conformance"), "conformance") == [insn]


@SETTINGS
@given(valid_instructions())
def test_llvm_style_roundtrip(insn: Instruction) -> None:
    text = format_insn(insn, "llvm")
    if llvm_expressible(insn):
        assert assemble(text, "c") == [insn]
    else:
        assemble(text, "c")  # still parses, to a different encoding


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(valid_instructions().filter(lambda i: not i.is_lddw), valid_instructions())
def test_numbered_program_listing_roundtrip(a: Instruction, b: Instruction) -> None:
    program = [a, b, Instruction(0x95)]
    for style in ("kernel", "conformance"):
        assert assemble(disassemble(program, style)) == program, style
    assert assemble(disassemble(program, "kernel"), "c") == program
