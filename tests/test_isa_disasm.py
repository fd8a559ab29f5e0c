"""Disassembler: exact spellings of the kernel (bpftool xlated), llvm and conformance styles."""

from __future__ import annotations

import pytest

from pybpf.errors import AsmError, BPFError
from pybpf.isa import Instruction, assemble, disassemble, encode, format_insn

Ins = Instruction

KERNEL = [
    (Ins(0xB7, 0, 0, 0, 2), "(b7) r0 = 2"),
    (Ins(0x07, 1, 0, 0, -4), "(07) r1 += -4"),
    (Ins(0xBC, 1, 2), "(bc) w1 = w2"),
    (Ins(0xBF, 0, 1, 8), "(bf) r0 = (s8)r1"),
    (Ins(0x3F, 1, 2, 1), "(3f) r1 s/= r2"),
    (Ins(0x94, 2, 0, 1, 7), "(94) w2 s%= 7"),
    (Ins(0x87, 3), "(87) r3 = -r3"),
    (Ins(0xDC, 0, 0, 0, 16), "(dc) r0 = be16 r0"),
    (Ins(0xD4, 0, 0, 0, 32), "(d4) r0 = le32 r0"),
    (Ins(0xD7, 0, 0, 0, 64), "(d7) r0 = bswap64 r0"),
    (Ins(0x61, 0, 1, 4), "(61) r0 = *(u32 *)(r1 +4)"),
    (Ins(0x91, 0, 1, 0), "(91) r0 = *(s8 *)(r1 +0)"),
    (Ins(0x63, 10, 1, -4), "(63) *(u32 *)(r10 -4) = r1"),
    (Ins(0x7A, 10, 0, -8, 5), "(7a) *(u64 *)(r10 -8) = 5"),
    (Ins(0xDB, 1, 2, 0, 0x00), "(db) lock *(u64 *)(r1 +0) += r2"),
    (Ins(0xDB, 1, 2, 0, 0x01), "(db) r2 = atomic64_fetch_add((u64 *)(r1 +0), r2)"),
    (Ins(0xC3, 1, 2, 0, 0xA1), "(c3) r2 = atomic_fetch_xor((u32 *)(r1 +0), r2)"),
    (Ins(0xDB, 1, 2, 0, 0xE1), "(db) r2 = atomic64_xchg((u64 *)(r1 +0), r2)"),
    (Ins(0xDB, 1, 2, 0, 0xF1), "(db) r0 = atomic64_cmpxchg((u64 *)(r1 +0), r0, r2)"),
    (Ins(0xD3, 0, 1, 2, 0x100), "(d3) r0 = load_acquire((u8 *)(r1 +2))"),
    (Ins(0xDB, 1, 2, -8, 0x110), "(db) store_release((u64 *)(r1 -8), r2)"),
    (Ins(0x18, 1, 0, 0, 0x1122334455667788), "(18) r1 = 0x1122334455667788"),
    (Ins(0x18, 1, 1, 0, 5), "(18) r1 = map[id:5]"),
    (Ins(0x18, 1, 2, 0, 5 | 16 << 32), "(18) r1 = map[id:5][0]+16"),
    (Ins(0x18, 1, 4, 0, 3), "(18) r1 = subprog[+3]"),
    (Ins(0x85, 0, 0, 0, 1), "(85) call bpf_map_lookup_elem#1"),
    (Ins(0x85, 0, 0, 0, 100000), "(85) call unknown#100000"),
    (Ins(0x85, 0, 1, 0, 3), "(85) call pc+3"),
    (Ins(0x85, 0, 2, 0, 1234), "(85) call kernel-function#1234"),
    (Ins(0x8D, 2), "(8d) callx r2"),
    (Ins(0x05, 0, 0, 3), "(05) goto pc+3"),
    (Ins(0x06, 0, 0, 0, 70000), "(06) gotol pc+70000"),
    (Ins(0x25, 1, 0, 2, 3), "(25) if r1 > 0x3 goto pc+2"),
    (Ins(0xCE, 1, 2, -4), "(ce) if w1 s< w2 goto pc-4"),
    (Ins(0x55, 1, 0, 1, -1), "(55) if r1 != 0xffffffff goto pc+1"),
    (Ins(0x20, 0, 0, 0, 4), "(20) r0 = *(u32 *)skb[4]"),
    (Ins(0x50, 0, 3, 0, -2), "(50) r0 = *(u8 *)skb[r3 + -2]"),
    (Ins(0x95), "(95) exit"),
]


@pytest.mark.parametrize(("insn", "text"), KERNEL, ids=[t for _, t in KERNEL])
def test_kernel_style_spellings(insn: Instruction, text: str) -> None:
    assert format_insn(insn) == text
    assert assemble(text, "c") == [insn]


LLVM = [
    (Ins(0x07, 2, 0, 0, -4), "r2 += -0x4"),
    (Ins(0x24, 0, 0, 0, 3), "w0 *= 0x3"),
    (Ins(0x61, 2, 1, 0), "r2 = *(u32 *)(r1 + 0x0)"),
    (Ins(0x63, 10, 1, -4), "*(u32 *)(r10 - 0x4) = r1"),
    (Ins(0x55, 0, 0, 4), "if r0 != 0x0 goto +0x4"),
    (Ins(0x18, 1, 0, 0, 0), "r1 = 0x0 ll"),
    (Ins(0x18, 0, 0, 0, 0x8877665544332211), "r0 = -0x778899aabbccddef ll"),
    (Ins(0xDB, 0, 1, 0, 0x01), "r1 = atomic_fetch_add((u64 *)(r0 + 0x0), r1)"),
    (Ins(0xDB, 0, 2, 0, 0xE1), "r2 = xchg_64(r0 + 0x0, r2)"),
    (Ins(0xDB, 3, 2, 0, 0xF1), "r0 = cmpxchg_64(r3 + 0x0, r0, r2)"),
    (Ins(0xC3, 1, 2, 4, 0xF1), "w0 = cmpxchg32_32(r1 + 0x4, w0, w2)"),
    (Ins(0x06, 0, 0, 0, 70000), "gotol +0x11170"),
    (Ins(0x85, 0, 0, 0, 1), "call 0x1"),
    (Ins(0x8D, 2), "callx r2"),
    (Ins(0xD7, 3, 0, 0, 32), "r3 = bswap32 r3"),
]


@pytest.mark.parametrize(("insn", "text"), LLVM, ids=[t for _, t in LLVM])
def test_llvm_style_spellings(insn: Instruction, text: str) -> None:
    assert format_insn(insn, "llvm") == text
    assert assemble(text, "c") == [insn]


def test_numbered_listings() -> None:
    program = [Ins(0xB7, 0, 0, 0, 2), Ins(0x18, 1, 0, 0, 7), Ins(0x95)]
    assert disassemble(program) == "   0: (b7) r0 = 2\n   1: (18) r1 = 0x7\n   3: (95) exit\n"
    llvm = disassemble(program, "llvm").splitlines()
    assert llvm[1] == "       1:\t18 01 00 00 07 00 00 00 00 00 00 00 00 00 00 00\tr1 = 0x7 ll"
    assert disassemble(program, "conformance") == "mov %r0, 2\nlddw %r1, 0x7\nexit\n"
    assert format_insn(program[2], "kernel", pc=12) == "  12: (95) exit"
    # bytes in, same text out
    assert disassemble(encode(program)) == disassemble(program)
    for style in ("kernel", "llvm", "conformance"):
        assert assemble(disassemble(program, style)) == program


def test_format_insn_survives_invalid_instructions() -> None:
    bad = Ins(0xFF, 1, 2, 3, 4)
    for style in ("kernel", "llvm", "conformance"):
        assert format_insn(bad, style) == ".insn 0xff, 1, 2, 3, 4"
    with pytest.raises(AsmError, match="invalid instruction: unknown"):
        assemble(format_insn(bad), "c")
    valid = Ins(0xB7, 1, 0, 0, 5)
    assert assemble(".insn 0xb7, 1, 0, 0, 5", "c") == [valid]


def test_unknown_style_is_a_typed_error() -> None:
    with pytest.raises(BPFError):
        format_insn(Ins(0x95), "intel")  # type: ignore[arg-type]


def test_xlated_call_names_from_kernel_symbols() -> None:
    """How ``prog dump xlated`` names rewritten calls (the kernel test compares with bpftool)."""
    from pybpf.kernel.kallsyms import xlated_call_names

    base = 0xFFFFFFFF81000000
    symbols = {
        base: "__bpf_call_base",
        base + 0x4000: "bpf_ktime_get_ns",
        0xFFFFFFFFC0001000: "bpf_prog_ab_F",
    }
    names = xlated_call_names([0xFFFFFFFFC0000000, 0xFFFFFFFFC0001000], symbols)
    program = [
        Instruction(0x85, imm=0x4000),
        Instruction(0x85, src=1, off=3, imm=1),  # xlated: off = relative target, imm = JIT symbol index
        Instruction(0x85, imm=0x10),  # an address no symbol has: plain spelling
        Instruction(0x95),
    ]
    assert disassemble(program, "kernel", call_text=names).splitlines() == [
        "   0: (85) call bpf_ktime_get_ns#16384",
        "   1: (85) call pc+3#bpf_prog_ab_F",
        "   2: (85) call bpf_get_current_comm#16",
        "   3: (95) exit",
    ]
    assert xlated_call_names([], symbols)(program[1]) is None  # not JIT-ed: plain `call pc+1`
