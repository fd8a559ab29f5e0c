"""Assembler tests: the conformance suite's syntax on all 313 files, and error reporting."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from pybpf.errors import AsmError
from pybpf.isa import Instruction, assemble, encode


def read_sections(path: Path) -> dict[str, str]:
    """Split a conformance .data file into its ``-- name`` sections."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in path.read_text().splitlines():
        if line.strip().startswith("--"):
            current = sections.setdefault(line.strip()[2:].strip(), [])
            continue
        if current is not None:
            current.append(line)
    return {name: "\n".join(lines) for name, lines in sections.items()}


def test_every_conformance_file_assembles(conformance_dir: Path) -> None:
    files = sorted(conformance_dir.glob("*.data"))
    assert len(files) == 313
    for path in files:
        sections = read_sections(path)
        insns = assemble(sections["asm"], "conformance")
        assert insns, path.name
        assert encode(insns)  # every instruction is a valid encoding
        assert assemble(sections["asm"]) == insns, f"auto detection differs on {path.name}"


def test_raw_sections_match_assembled_encoding(conformance_dir: Path) -> None:
    checked = 0
    for path in sorted(conformance_dir.glob("*.data")):
        sections = read_sections(path)
        if "raw" not in sections or "asm" not in sections:
            continue
        words = [int(tok, 16) for line in sections["raw"].splitlines() for tok in line.split("#")[0].split()]
        raw = b"".join(struct.pack("<Q", w) for w in words)
        assert encode(assemble(sections["asm"], "conformance")) == raw, path.name
        checked += 1
    assert checked >= 1


Ins = Instruction


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mov %r0, 1", Ins(0xB7, 0, 0, 0, 1)),
        ("mov32 %r1, 0xfffffffe", Ins(0xB4, 1, 0, 0, -2)),
        ("add %r0, %r1", Ins(0x0F, 0, 1)),
        ("sdiv32 %r1, %r2", Ins(0x3C, 1, 2, 1, 0)),
        ("smod %r1, 3", Ins(0x97, 1, 0, 1, 3)),
        ("movsx832 %r0, %r1", Ins(0xBC, 0, 1, 8)),
        ("movsx3264 %r0, %r1", Ins(0xBF, 0, 1, 32)),
        ("neg32 %r0", Ins(0x84, 0)),
        ("be16 %r0", Ins(0xDC, 0, 0, 0, 16)),
        ("le64 %r3", Ins(0xD4, 3, 0, 0, 64)),
        ("bswap32 %r2", Ins(0xD7, 2, 0, 0, 32)),
        ("swap64 %r2", Ins(0xD7, 2, 0, 0, 64)),
        ("jne32 %r1, 0xb, +4", Ins(0x56, 1, 0, 4, 11)),
        ("jsle %r1, %r2, -1", Ins(0xDD, 1, 2, -1, 0)),
        ("ja +3", Ins(0x05, 0, 0, 3)),
        ("ja32 -2", Ins(0x06, 0, 0, 0, -2)),
        ("call 5", Ins(0x85, 0, 0, 0, 5)),
        ("call %r2", Ins(0x8D, 2)),
        ("call runtime 7", Ins(0x85, 0, 2, 0, 7)),
        ("call local +4", Ins(0x85, 0, 1, 0, 4)),
        ("ldxw %r0, [%r1]", Ins(0x61, 0, 1)),
        ("ldxdw %r0, [%r1+0x2]", Ins(0x79, 0, 1, 2)),
        ("ldxsh %r0, [%r10-2]", Ins(0x89, 0, 10, -2)),
        ("stb [%r10-1], 0xff", Ins(0x72, 10, 0, -1, 255)),
        ("stxdw [%r10-8], %r0", Ins(0x7B, 10, 0, -8)),
        ("lock add [%r10-8], %r1", Ins(0xDB, 10, 1, -8, 0x00)),
        ("lock fetch xor32 [%r10-4], %r3", Ins(0xC3, 10, 3, -4, 0xA1)),
        ("lock xchg [%r10-8], %r1", Ins(0xDB, 10, 1, -8, 0xE1)),
        ("lock cmpxchg32 [%r10-8], %r1", Ins(0xC3, 10, 1, -8, 0xF1)),
        ("lddw %r0, 0x1122334455667788", Ins(0x18, 0, 0, 0, 0x1122334455667788)),
        ("lddw %r0, -1", Ins(0x18, 0, 0, 0, (1 << 64) - 1)),
        ("exit", Ins(0x95)),
        # extensions
        ("ldabsw 4", Ins(0x20, 0, 0, 0, 4)),
        ("ldindb %r3, 4", Ins(0x50, 0, 3, 0, 4)),
        ("ldacqw %r0, [%r1+4]", Ins(0xC3, 0, 1, 4, 0x100)),
        ("strelb [%r1-2], %r3", Ins(0xD3, 1, 3, -2, 0x110)),
        ("call kfunc 1234, 2", Ins(0x85, 0, 2, 2, 1234)),
        ("lddw %r1, 5, 1", Ins(0x18, 1, 1, 0, 5)),
        (".insn 0x95, 0, 0, 0, 0", Ins(0x95)),
    ],
)
def test_single_instructions(text: str, expected: Instruction) -> None:
    assert assemble(text, "conformance") == [expected]


def test_labels_count_slots_and_exit_label() -> None:
    text = """
    # comment line
    jeq %r1, 0, target   # forward, over a lddw (2 slots)
    lddw %r0, 1
    target:
    ja exit
    call local func
    exit
    func: mov %r0, 2
    exit
    """
    insns = assemble(text)
    assert insns[0].off == 2
    assert insns[2].off == 1  # ja -> first exit (slot 5) from slot 3
    assert insns[3].imm == 1  # call local: func at slot 6, next slot 5
    assert [i.opcode for i in insns] == [0x15, 0x18, 0x05, 0x85, 0x95, 0xB7, 0x95]


def test_ja32_label_uses_imm() -> None:
    insns = assemble("ja32 L\nmov %r0, 0\nL: exit")
    assert insns[0] == Instruction(0x06, imm=1)


@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"),
    [
        ("mov %r0, 1\nfrob %r1", 2, 1, "unknown mnemonic 'frob'"),
        ("mov %r11, 1", 1, 5, "bad register"),
        ("mov %r1 1", 1, 9, "expected ','"),
        ("mov %r1, 0x100000000", 1, 10, "does not fit in 32 bits"),
        ("ldxw %r1, [%r2+40000]", 1, 15, "out of range"),
        ("ja nowhere", 1, 1, "unknown label 'nowhere'"),
        ("L:\nL:\nexit", 2, 1, "already defined"),
        ("exit %r0", 1, 6, "unexpected text"),
        ("ldxsdw %r0, [%r1]", 1, 1, "no sign-extending 64-bit load"),
        ("lock nand [%r1], %r2", 1, 6, "unknown atomic operation"),
        ("stxw [%r1+0], 5", 1, 15, "expected a register"),
        ("lddw %r0, 0x10000000000000000", 1, 11, "does not fit in 64 bits"),
    ],
)
def test_errors_name_line_column_and_reason(text: str, line: int, column: int, fragment: str) -> None:
    with pytest.raises(AsmError) as info:
        assemble(text, "conformance")
    err = info.value
    assert (err.line, err.column) == (line, column), str(err)
    assert fragment in err.reason


def test_jump_out_of_range_is_an_error() -> None:
    text = "ja far\n" + "mov %r0, 0\n" * 40000 + "far: exit\n"
    with pytest.raises(AsmError, match=r"out of the range \[-32768, 32767\] of the off field \(use gotol\)"):
        assemble(text)
    assert assemble(text.replace("ja far", "ja32 far"))[0].imm == 40000


def test_non_text_is_an_asm_error() -> None:
    with pytest.raises(AsmError):
        assemble(b"mov %r0, 1")  # type: ignore[arg-type]


# -- the C-like syntax ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("r0 = 1", Ins(0xB7, 0, 0, 0, 1)),
        ("w1 += w2", Ins(0x0C, 1, 2)),
        ("if r1 > 0x3 goto +2", Ins(0x25, 1, 0, 2, 3)),
        ("if w1 s< w2 goto -4", Ins(0xCE, 1, 2, -4)),
        ("*(u32 *)(r10 -4) = r1", Ins(0x63, 10, 1, -4)),
        ("r0 = *(u16 *)(r1 +2)", Ins(0x69, 0, 1, 2)),
        ("r0 = *(s8 *)(r1 +0)", Ins(0x91, 0, 1, 0)),
        ("lock *(u64 *)(r1 +0) += r2", Ins(0xDB, 1, 2, 0, 0)),
        ("r0 = atomic_fetch_add((u64 *)(r1 +0), r0)", Ins(0xDB, 1, 0, 0, 0x01)),
        ("r1 = 0x1122334455667788 ll", Ins(0x18, 1, 0, 0, 0x1122334455667788)),
        ("call bpf_map_lookup_elem#1", Ins(0x85, 0, 0, 0, 1)),
        ("call bpf_map_lookup_elem", Ins(0x85, 0, 0, 0, 1)),
        ("call pc+3", Ins(0x85, 0, 1, 0, 3)),
        ("  112: (85) call pc+3#bpf_prog_b11459a0e11ca14c_F", Ins(0x85, 0, 1, 0, 3)),  # bpftool xlated
        ("callx r2", Ins(0x8D, 2)),
        ("goto pc+3", Ins(0x05, 0, 0, 3)),
        ("gotol +70000", Ins(0x06, 0, 0, 0, 70000)),
        ("r0 = bswap16 r0", Ins(0xD7, 0, 0, 0, 16)),
        ("r0 = (s8)r1", Ins(0xBF, 0, 1, 8)),
        ("r0 = be16 r0", Ins(0xDC, 0, 0, 0, 16)),
        ("r0 = le16 r0", Ins(0xD4, 0, 0, 0, 16)),
        ("r0 = -r0", Ins(0x87, 0)),
        ("exit", Ins(0x95)),
        ("r1 = map[id:5]", Ins(0x18, 1, 1, 0, 5)),
        ("r1 = map[id:5][0]+16", Ins(0x18, 1, 2, 0, 5 | 16 << 32)),
        ("ld_pseudo r1, 0x2, 0x5", Ins(0x18, 1, 2, 0, 5)),
        ("call kernel-function#77", Ins(0x85, 0, 2, 0, 77)),
        ("call bpf_obj_new_impl#70000", Ins(0x85, 0, 2, 0, 70000)),
        ("w1 = load_acquire((u32 *)(r2 +4))", Ins(0xC3, 1, 2, 4, 0x100)),
        ("   7: (b7) r0 = 2", Ins(0xB7, 0, 0, 0, 2)),
        ("   7: (18) r0 = 0x2", Ins(0x18, 0, 0, 0, 2)),
        ("0: (b7) r0 = 0                        ; R0_w=0", Ins(0xB7, 0, 0, 0, 0)),
        ("       9:\t55 00 04 00 00 00 00 00\tif r0 != 0x0 goto +0x4 <prog+0x70>", Ins(0x55, 0, 0, 4)),
    ],
)
def test_c_syntax(text: str, expected: Instruction) -> None:
    assert assemble(text, "c") == [expected]
    assert assemble(text) == [expected]  # auto-detected


def test_c_labels_and_objdump_listing() -> None:
    text = """
    start:
        r0 = 0
        if r1 == 0 goto out
        call sub
        goto out
    sub:
        r0 = 1 ll
        exit
    out:
        exit
    """
    insns = assemble(text)
    assert insns[1].off == 5  # slots: 0 mov, 1 if, 2 call, 3 goto, 4-5 lddw, 6 exit, 7 out
    assert insns[2] == Ins(0x85, 0, 1, 0, 1)
    assert insns[3].off == 3

    listing = """
a.o:\tfile format elf64-bpf

Disassembly of section xdp:

0000000000000000 <prog>:
       0:\t18 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00\tr1 = 0x0 ll
\t\t0000000000000000:  R_BPF_64_64\tcounts
       2:\t85 00 00 00 01 00 00 00\tcall 0x1
       3:\t95 00 00 00 00 00 00 00\texit
"""
    insns = assemble(listing)
    assert [i.opcode for i in insns] == [0x18, 0x85, 0x95]
    assert insns[0].meta is not None and insns[0].meta.reference == "counts"


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        ("r11 = 1", 1, "bad register"),
        ("r1 = 0x10000000000000000 ll", 6, "does not fit in 64 bits"),
        ("w1 += r2", 7, "both registers"),
        ("r1 += 0x100000000", 7, "does not fit in 32 bits"),
        ("if r1 >< r2 goto +1", 8, "expected a register or an immediate"),
        ("goto +40000", 6, "out of range"),
        ("goto nowhere", 1, "unknown label"),
        ("r0 = *(u128 *)(r1 +0)", 8, "expected a type u8, u16, u32, u64, s8, s16 or s32, found 'u128'"),
        ("*(s8 *)(r1 +0) = r2", 3, "expected a type u8, u16, u32 or u64, found 's8'"),
        ("call bpf_no_such_helper", 1, "unknown helper or label 'bpf_no_such_helper'"),
        ("if r1 ! r2 goto +1", 7, "expected a comparison"),
        ("*(u32 *)(r1 +70000) = r2", 13, "out of range"),
        ("r1 = -r2", 7, "in place"),
        ("frobnicate r1", 1, "expected an instruction"),
        ("   3: (b7) r1 = r2", 1, "opcode (bf)"),
        ("call bpf_map_lookup_elem#2", 6, "is #1"),
        ("r0 = 1 2", 8, "unexpected text"),
        ("call pc+3#", 11, "expected the callee's symbol"),
        ("call pc+3#f x", 13, "unexpected text"),
    ],
)
def test_c_syntax_errors(text: str, column: int, fragment: str) -> None:
    with pytest.raises(AsmError) as info:
        assemble(text, "c")
    assert info.value.column == column, str(info.value)
    assert fragment in info.value.reason
