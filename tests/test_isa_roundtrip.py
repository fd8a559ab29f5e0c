"""Property tests over the whole valid encoding space.

Every example is one freshly drawn instruction of EVERY form (see
``isa_strategies``: each opcode, each lddw pseudo source 0..6, each call source
-- helper, bpf-to-bpf, kfunc --, each atomic operation incl. load-acquire and
store-release, may_goto, gotol, callx, movsx, sdiv/smod, bswap).  For each:
decode(encode(x)) == x, and assemble(disassemble(x, style)) == x for the
``kernel`` and ``conformance`` styles.

The ``llvm`` style prints what llvm-objdump-19 prints, and llvm-objdump-19
itself cannot tell some encodings apart: a bpf-to-bpf or kfunc call prints like
a helper call (``call 0x3``), ``ld_pseudo`` omits the high word, ``skb[rN]``
omits LD_IND's immediate.  For those the round trip gives exactly
:func:`llvm_projection` of x (the encoding with the unprinted fields zeroed),
and that projection round-trips exactly; for every other form it is x itself.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from isa_strategies import FORMS, every_form
from pybpf.isa import AtomicOp, Instruction, assemble, decode, disassemble, encode, format_insn

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))


def llvm_projection(insn: Instruction) -> Instruction:
    """x with the fields llvm-objdump-19's spelling does not show set to zero."""
    if insn.is_call and insn.src != 0:
        return insn.replace(src=0, off=0)
    if insn.is_lddw and insn.src != 0:
        return insn.replace(imm=insn.imm_lo)
    if insn.opcode & 0xE7 == 0x40:  # LD_IND
        return insn.replace(imm=0)
    return insn


def test_forms_cover_the_whole_instruction_set() -> None:
    """The strategy's forms include every family the issue names."""
    opcodes = {f.opcode for f in FORMS}
    assert {op & 0x07 for op in opcodes} == set(range(8))  # every class
    assert {f.src for f in FORMS if f.opcode == 0x18} == set(range(7))  # lddw src 0..6
    assert {f.src for f in FORMS if f.opcode == 0x85} == {0, 1, 2}  # helper, bpf2bpf, kfunc
    for op in (0xC3, 0xDB):
        assert {f.imm for f in FORMS if f.opcode == op} == {int(a) for a in AtomicOp}
    for op in (0xCB, 0xD3):  # 8/16-bit load-acquire and store-release
        assert {f.imm for f in FORMS if f.opcode == op} == {AtomicOp.LOAD_ACQ, AtomicOp.STORE_REL}
    assert {0xE5, 0x06, 0x8D, 0x20, 0x28, 0x30, 0x40, 0x48, 0x50, 0x91, 0x89, 0x81} <= opcodes
    assert {f.off for f in FORMS if f.opcode == 0xBF} == {0, 8, 16, 32}  # movsx
    assert {f.off for f in FORMS if f.opcode == 0x3F} == {0, 1}  # sdiv
    assert {f.imm for f in FORMS if f.opcode == 0xD7} == {16, 32, 64}  # bswap
    assert len(opcodes) == 129


@SETTINGS
@given(every_form())
def test_every_form_roundtrips_through_bytes_and_every_style(insns: tuple[Instruction, ...]) -> None:
    assert decode(encode(insns)) == list(insns)
    for insn in insns:
        assert decode(encode([insn])) == [insn]
        assert decode(encode([insn], endian="big"), endian="big") == [insn]
        kernel = format_insn(insn, "kernel")
        assert assemble(kernel, "c") == [insn], kernel
        conformance = format_insn(insn, "conformance")
        assert assemble(conformance, "conformance") == [insn], conformance
        llvm = format_insn(insn, "llvm")
        projected = llvm_projection(insn)
        assert assemble(llvm, "c") == [projected], llvm
        assert format_insn(projected, "llvm") == llvm


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(every_form())
def test_program_listing_roundtrip(insns: tuple[Instruction, ...]) -> None:
    """Whole numbered listings (lddw taking two slots) read back, in every style."""
    program = [*insns, Instruction(0x95)]
    for style in ("kernel", "conformance"):
        assert assemble(disassemble(program, style)) == program, style
    assert assemble(disassemble(program, "kernel"), "c") == program
    listing = disassemble(program, "llvm")
    assert assemble(listing, "c") == [llvm_projection(i) for i in program]
