"""Disassembler: instructions -> text, in the spellings eBPF tools print.

Styles:

``kernel``
    What the kernel's instruction printer (kernel/bpf/disasm.c) prints, as seen in
    ``bpftool prog dump xlated`` and the verifier log: ``(b7) r0 = 2``,
    ``(61) r0 = *(u32 *)(r1 +4)``, ``(55) if r0 != 0x0 goto pc+4``,
    ``(85) call bpf_map_lookup_elem#1``, ``(18) r1 = map[id:5]``.  Immediates of
    ALU and stores are signed decimal, comparison immediates unsigned hex.
    Spellings the kernel lacks (it never shows them for a loaded program) are
    pybpf's: ``callx r2`` (the kernel prints callx as a helper call),
    ``btf_id[N]``, ``map[idx:N]`` and ``map[idx:N][0]+M`` for the other lddw
    pseudo sources, ``call kernel-function#ID`` for a kfunc (bpftool resolves the
    name from kallsyms when it can).
``llvm``
    What ``llvm-objdump-19 -d`` prints for BPF: ``r2 += -0x4``,
    ``r0 = *(u32 *)(r1 + 0x0)``, ``if r0 != 0x0 goto +0x4``, ``call 0x1``,
    ``r1 = 0x0 ll``.  Where llvm-objdump-19 prints ``<unknown>`` (32-bit fetch
    atomics without ``--mcpu=v3``, load-acquire/store-release) the spelling of a
    newer llvm-objdump is used.  The ``<symbol+0x..>`` jump annotations are not
    produced.  Lossy forms (the style cannot tell them apart): pseudo calls and
    kfunc calls print like helper calls (``call -0x1``), ``ld_pseudo`` drops the
    high word, ``skb[rN]`` drops the immediate of LD_IND.
``conformance``
    The bpf_conformance suite's syntax (``mov %r0, 2``); every valid encoding
    has a spelling (see :mod:`pybpf.isa.asm_conformance` for the extensions).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Literal

from ..errors import BPFError
from ..uapi import HELPER_NAMES
from .asm_conformance import ALU_NAMES, JMP_NAMES
from .codec import decode, encode
from .instruction import Instruction
from .opcodes import (
    ATOMIC_FETCH,
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

Style = Literal["kernel", "llvm", "conformance"]
STYLES: tuple[Style, ...] = ("kernel", "llvm", "conformance")

ALU_OPERATORS: dict[int, str] = {
    AluOp.ADD: "+=",
    AluOp.SUB: "-=",
    AluOp.MUL: "*=",
    AluOp.DIV: "/=",
    AluOp.OR: "|=",
    AluOp.AND: "&=",
    AluOp.LSH: "<<=",
    AluOp.RSH: ">>=",
    AluOp.MOD: "%=",
    AluOp.XOR: "^=",
    AluOp.MOV: "=",
    AluOp.ARSH: "s>>=",
}
SIGNED_ALU_OPERATORS: dict[int, str] = {AluOp.DIV: "s/=", AluOp.MOD: "s%="}
JMP_OPERATORS: dict[int, str] = {
    JmpOp.JEQ: "==",
    JmpOp.JGT: ">",
    JmpOp.JGE: ">=",
    JmpOp.JSET: "&",
    JmpOp.JNE: "!=",
    JmpOp.JSGT: "s>",
    JmpOp.JSGE: "s>=",
    JmpOp.JLT: "<",
    JmpOp.JLE: "<=",
    JmpOp.JSLT: "s<",
    JmpOp.JSLE: "s<=",
}
SIZE_TYPES: dict[int, str] = {Size.W: "u32", Size.H: "u16", Size.B: "u8", Size.DW: "u64"}
SIZE_BITS: dict[int, int] = {Size.W: 32, Size.H: 16, Size.B: 8, Size.DW: 64}
SIZE_LETTERS: dict[int, str] = {Size.W: "w", Size.H: "h", Size.B: "b", Size.DW: "dw"}
ATOMIC_ALU: dict[int, str] = {
    AtomicOp.ADD: "add",
    AtomicOp.OR: "or",
    AtomicOp.AND: "and",
    AtomicOp.XOR: "xor",
}
_ALU_NAME_OF: dict[tuple[int, int], str] = {(op, off): name for name, (op, off) in ALU_NAMES.items()}
_JMP_NAME_OF: dict[int, str] = {op: name for name, op in JMP_NAMES.items()}
END_TO_BE = 0x08


def _hex(value: int) -> str:
    """llvm-objdump's signed hex: ``0x10``, ``-0x4``."""
    return f"-{-value:#x}" if value < 0 else f"{value:#x}"


def _s64(value: int) -> int:
    return value - (1 << 64) if value >> 63 else value


def helper_name(helper_id: int) -> str:
    """``bpf_map_lookup_elem`` for 1; ``unknown`` outside the table (as the kernel prints)."""
    if 0 <= helper_id < len(HELPER_NAMES) and HELPER_NAMES[helper_id]:
        return f"bpf_{HELPER_NAMES[helper_id]}"
    return "unknown"


# -- kernel -----------------------------------------------------------------


def _kernel(insn: Instruction) -> str:
    op = insn.opcode
    cls = op & 0x07
    body = _kernel_body(insn, cls)
    return f"({op:02x}) {body}"


def _kernel_mem(reg: int, off: int) -> str:
    return f"(r{reg} {off:+d})"


def _kernel_body(insn: Instruction, cls: int) -> str:
    op = insn.opcode
    d, s, off, imm = insn.dst, insn.src, insn.off, insn.imm
    if cls in (InsnClass.ALU, InsnClass.ALU64):
        r = "w" if cls == InsnClass.ALU else "r"
        code = op & 0xF0
        if code == AluOp.END:
            if cls == InsnClass.ALU64:
                return f"r{d} = bswap{imm} r{d}"
            return f"r{d} = {'be' if op & END_TO_BE else 'le'}{imm} r{d}"
        if code == AluOp.NEG:
            return f"{r}{d} = -{r}{d}"
        sym = SIGNED_ALU_OPERATORS[code] if off == 1 and code in SIGNED_ALU_OPERATORS else ALU_OPERATORS[code]
        if op & Source.X:
            cast = f"(s{off})" if code == AluOp.MOV and off in (8, 16, 32) else ""
            return f"{r}{d} {sym} {cast}{r}{s}"
        return f"{r}{d} {sym} {imm}"
    if cls == InsnClass.LDX:
        t = SIZE_TYPES[op & 0x18]
        if op & 0xE0 == Mode.MEMSX:
            t = "s" + t[1:]
        return f"r{d} = *({t} *){_kernel_mem(s, off)}"
    if cls == InsnClass.ST:
        return f"*({SIZE_TYPES[op & 0x18]} *){_kernel_mem(d, off)} = {imm}"
    if cls == InsnClass.STX:
        t = SIZE_TYPES[op & 0x18]
        mem = _kernel_mem(d, off)
        if op & 0xE0 == Mode.MEM:
            return f"*({t} *){mem} = r{s}"
        bits = "64" if op & 0x18 == Size.DW else ""
        if imm in ATOMIC_ALU:
            return f"lock *({t} *){mem} {ALU_OPERATORS[imm & 0xF0]} r{s}"
        if imm & ~ATOMIC_FETCH in ATOMIC_ALU and imm & ATOMIC_FETCH and imm < 0x100:
            return f"r{s} = atomic{bits}_fetch_{ATOMIC_ALU[imm & 0xF0]}(({t} *){mem}, r{s})"
        if imm == AtomicOp.CMPXCHG:
            return f"r0 = atomic{bits}_cmpxchg(({t} *){mem}, r0, r{s})"
        if imm == AtomicOp.XCHG:
            return f"r{s} = atomic{bits}_xchg(({t} *){mem}, r{s})"
        if imm == AtomicOp.LOAD_ACQ:
            return f"r{d} = load_acquire(({t} *){_kernel_mem(s, off)})"
        return f"store_release(({t} *){mem}, r{s})"
    if cls == InsnClass.LD:
        t = SIZE_TYPES[op & 0x18]
        mode = op & 0xE0
        if mode == Mode.ABS:
            return f"r0 = *({t} *)skb[{imm}]"
        if mode == Mode.IND:
            return f"r0 = *({t} *)skb[r{s} + {imm}]"
        return f"r{d} = {_kernel_lddw_value(insn)}"
    # JMP / JMP32
    code = op & 0xF0
    if code == JmpOp.CALL:
        if op & Source.X:
            return f"callx r{d}"
        if s == CallSrc.PSEUDO_CALL:
            return f"call pc{imm:+d}"
        if s == CallSrc.KFUNC:
            return f"call kernel-function#{imm}" + (f"@{off}" if off else "")
        return f"call {helper_name(imm)}#{imm}"
    if code == JmpOp.JCOND:
        return f"may_goto pc{off:+d}"
    if code == JmpOp.JA:
        return f"gotol pc{imm:+d}" if cls == InsnClass.JMP32 else f"goto pc{off:+d}"
    if code == JmpOp.EXIT:
        return "exit"
    r = "w" if cls == InsnClass.JMP32 else "r"
    rhs = f"{r}{s}" if op & Source.X else f"{imm & 0xFFFFFFFF:#x}"
    return f"if {r}{d} {JMP_OPERATORS[code]} {rhs} goto pc{off:+d}"


def _kernel_lddw_value(insn: Instruction) -> str:
    lo, hi = insn.imm_lo, insn.imm_hi
    src = insn.src
    if src == PseudoSrc.MAP_FD and not hi:
        return f"map[id:{lo}]"
    if src == PseudoSrc.MAP_VALUE:
        return f"map[id:{lo}][0]+{hi}"
    if src == PseudoSrc.FUNC and not hi:
        return f"subprog[{insn.imm_lo - ((lo >> 31) << 32):+d}]"
    if src == PseudoSrc.BTF_ID and not hi:
        return f"btf_id[{lo}]"
    if src == PseudoSrc.MAP_IDX and not hi:
        return f"map[idx:{lo}]"
    if src == PseudoSrc.MAP_IDX_VALUE:
        return f"map[idx:{lo}][0]+{hi}"
    if src:
        return f"ld_pseudo({src}, {insn.imm:#x})"
    return f"{insn.imm:#x}"


# -- llvm -------------------------------------------------------------------


def _llvm_mem(reg: int, off: int) -> str:
    return f"(r{reg} - {-off:#x})" if off < 0 else f"(r{reg} + {off:#x})"


def _llvm(insn: Instruction) -> str:
    op = insn.opcode
    cls = op & 0x07
    d, s, off, imm = insn.dst, insn.src, insn.off, insn.imm
    if cls in (InsnClass.ALU, InsnClass.ALU64):
        r = "w" if cls == InsnClass.ALU else "r"
        code = op & 0xF0
        if code == AluOp.END:
            if cls == InsnClass.ALU64:
                return f"r{d} = bswap{imm} r{d}"
            return f"r{d} = {'be' if op & END_TO_BE else 'le'}{imm} r{d}"
        if code == AluOp.NEG:
            return f"{r}{d} = -{r}{d}"
        sym = SIGNED_ALU_OPERATORS[code] if off == 1 and code in SIGNED_ALU_OPERATORS else ALU_OPERATORS[code]
        if op & Source.X:
            cast = f"(s{off})" if code == AluOp.MOV and off in (8, 16, 32) else ""
            return f"{r}{d} {sym} {cast}{r}{s}"
        return f"{r}{d} {sym} {_hex(imm)}"
    if cls == InsnClass.LDX:
        t = SIZE_TYPES[op & 0x18]
        if op & 0xE0 == Mode.MEMSX:
            t = "s" + t[1:]
        return f"r{d} = *({t} *){_llvm_mem(s, off)}"
    if cls == InsnClass.ST:
        return f"*({SIZE_TYPES[op & 0x18]} *){_llvm_mem(d, off)} = {_hex(imm)}"
    if cls == InsnClass.STX:
        size = op & 0x18
        t = SIZE_TYPES[size]
        mem = _llvm_mem(d, off)
        if op & 0xE0 == Mode.MEM:
            return f"*({t} *){mem} = r{s}"
        w = "w" if size == Size.W else "r"
        if imm in ATOMIC_ALU:
            # llvm-objdump-19 -d (no --mcpu) prints a 32-bit `lock +=` with rN and
            # the other 32-bit lock ops as <unknown>; these take the --mcpu=v4 wN.
            lock_reg = "r" if size == Size.DW or imm == AtomicOp.ADD else "w"
            return f"lock *({t} *){mem} {ALU_OPERATORS[imm & 0xF0]} {lock_reg}{s}"
        if imm & ATOMIC_FETCH and imm & 0xF0 in ATOMIC_ALU and imm < 0x100:
            return f"{w}{s} = atomic_fetch_{ATOMIC_ALU[imm & 0xF0]}(({t} *){mem}, {w}{s})"
        sfx = "32_32" if size == Size.W else "_64"
        if imm == AtomicOp.XCHG:
            return f"{w}{s} = xchg{sfx}({mem[1:-1]}, {w}{s})"
        if imm == AtomicOp.CMPXCHG:
            return f"{w}0 = cmpxchg{sfx}({mem[1:-1]}, {w}0, {w}{s})"
        if imm == AtomicOp.LOAD_ACQ:
            w = "r" if size == Size.DW else "w"
            return f"{w}{d} = load_acquire(({t} *){_llvm_mem(s, off)})"
        w = "r" if size == Size.DW else "w"
        return f"store_release(({t} *){mem}, {w}{s})"
    if cls == InsnClass.LD:
        t = SIZE_TYPES[op & 0x18]
        mode = op & 0xE0
        if mode == Mode.ABS:
            return f"r0 = *({t} *)skb[{_hex(imm)}]"
        if mode == Mode.IND:
            return f"r0 = *({t} *)skb[r{s}]"
        if s:
            return f"ld_pseudo r{d}, {s:#x}, {insn.imm_lo:#x}"
        return f"r{d} = {_hex(_s64(imm))} ll"
    code = op & 0xF0
    if code == JmpOp.CALL:
        return f"callx r{d}" if op & Source.X else f"call {_hex(imm)}"
    if code == JmpOp.JCOND:
        return f"may_goto {off:+#x}"
    if code == JmpOp.JA:
        return f"gotol {imm:+#x}" if cls == InsnClass.JMP32 else f"goto {off:+#x}"
    if code == JmpOp.EXIT:
        return "exit"
    r = "w" if cls == InsnClass.JMP32 else "r"
    rhs = f"{r}{s}" if op & Source.X else _hex(imm)
    return f"if {r}{d} {JMP_OPERATORS[code]} {rhs} goto {off:+#x}"


def _s32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >> 31 else value


# -- conformance --------------------------------------------------------------


def _conf_mem(reg: int, off: int) -> str:
    return f"[%r{reg}{off:+d}]" if off else f"[%r{reg}]"


def _conformance(insn: Instruction) -> str:
    op = insn.opcode
    cls = op & 0x07
    d, s, off, imm = insn.dst, insn.src, insn.off, insn.imm
    if cls in (InsnClass.ALU, InsnClass.ALU64):
        sfx = "32" if cls == InsnClass.ALU else ""
        code = op & 0xF0
        if code == AluOp.END:
            if cls == InsnClass.ALU64:
                return f"bswap{imm} %r{d}"
            return f"{'be' if op & END_TO_BE else 'le'}{imm} %r{d}"
        if code == AluOp.NEG:
            return f"neg{sfx} %r{d}"
        if code == AluOp.MOV and off in (8, 16, 32):
            return f"movsx{off}{32 if cls == InsnClass.ALU else 64} %r{d}, %r{s}"
        name = _ALU_NAME_OF[(code, off)]
        rhs = f"%r{s}" if op & Source.X else str(imm)
        return f"{name}{sfx} %r{d}, {rhs}"
    size = op & 0x18
    letter = SIZE_LETTERS[size]
    if cls == InsnClass.LDX:
        sx = "s" if op & 0xE0 == Mode.MEMSX else ""
        return f"ldx{sx}{letter} %r{d}, {_conf_mem(s, off)}"
    if cls == InsnClass.ST:
        return f"st{letter} {_conf_mem(d, off)}, {imm}"
    if cls == InsnClass.STX:
        if op & 0xE0 == Mode.MEM:
            return f"stx{letter} {_conf_mem(d, off)}, %r{s}"
        if imm == AtomicOp.LOAD_ACQ:
            return f"ldacq{letter} %r{d}, {_conf_mem(s, off)}"
        if imm == AtomicOp.STORE_REL:
            return f"strel{letter} {_conf_mem(d, off)}, %r{s}"
        sfx = "32" if size == Size.W else ""
        if imm == AtomicOp.XCHG:
            name = "xchg"
        elif imm == AtomicOp.CMPXCHG:
            name = "cmpxchg"
        else:
            name = ("fetch " if imm & ATOMIC_FETCH else "") + ATOMIC_ALU[imm & 0xF0]
        return f"lock {name}{sfx} {_conf_mem(d, off)}, %r{s}"
    if cls == InsnClass.LD:
        mode = op & 0xE0
        if mode == Mode.ABS:
            return f"ldabs{letter} {imm}"
        if mode == Mode.IND:
            return f"ldind{letter} %r{s}, {imm}"
        return f"lddw %r{d}, {imm:#x}" + (f", {s}" if s else "")
    code = op & 0xF0
    if code == JmpOp.CALL:
        if op & Source.X:
            return f"call %r{d}"
        if s == CallSrc.PSEUDO_CALL:
            return f"call local {imm:+d}"
        if s == CallSrc.KFUNC:
            return f"call runtime {imm}" if not off else f"call kfunc {imm}, {off}"
        return f"call {imm}"
    if code == JmpOp.JCOND:
        return f"may_goto {off:+d}"
    if code == JmpOp.JA:
        return f"ja32 {imm:+d}" if cls == InsnClass.JMP32 else f"ja {off:+d}"
    if code == JmpOp.EXIT:
        return "exit"
    sfx = "32" if cls == InsnClass.JMP32 else ""
    rhs = f"%r{s}" if op & Source.X else str(imm)
    return f"{_JMP_NAME_OF[code]}{sfx} %r{d}, {rhs}, {off:+d}"


_FORMATTERS = {"kernel": _kernel, "llvm": _llvm, "conformance": _conformance}


CallText = Callable[[Instruction], "str | None"]


def format_insn(
    insn: Instruction, style: Style = "kernel", pc: int | None = None, *, call_text: CallText | None = None
) -> str:
    """One instruction as text; with ``pc``, prefixed the way the style's tool numbers lines.

    Meant for reuse by the VM trace, the verifier log and error messages: it
    never raises for a valid instruction, and an invalid one prints as
    ``.insn`` with its raw fields rather than failing.  ``call_text`` (kernel
    style) names call targets the instruction alone cannot: the kernel-rewritten
    calls of ``prog dump xlated`` (see :mod:`pybpf.kernel.kallsyms`); when it
    returns None the plain spelling is used.
    """
    formatter = _FORMATTERS.get(style)
    if formatter is None:
        raise BPFError(f"unknown disassembly style {style!r} (expected kernel, llvm or conformance)")
    named = call_text(insn) if call_text is not None and style == "kernel" and insn.is_call else None
    try:
        text = f"({insn.opcode:02x}) call {named}" if named is not None else formatter(insn)
    except (KeyError, ValueError):
        text = f".insn {insn.opcode:#04x}, {insn.dst}, {insn.src}, {insn.off}, {insn.imm}"
    if pc is None:
        return text
    if style == "kernel":
        return f"{pc:4d}: {text}"
    if style == "llvm":
        raw = " ".join(f"{b:02x}" for b in _raw_bytes(insn))
        return f"{pc:8d}:\t{raw}\t{text}"
    return f"{text}  # {pc}"


def _raw_bytes(insn: Instruction) -> bytes:
    """The slot bytes, also for an invalid instruction (a trace may show one)."""
    try:
        return encode([insn])
    except BPFError:
        regs = (insn.src & 0xF) << 4 | (insn.dst & 0xF)
        return (
            bytes([insn.opcode & 0xFF, regs])
            + (insn.off & 0xFFFF).to_bytes(2, "little")
            + (insn.imm & 0xFFFFFFFF).to_bytes(4, "little")
        )


def disassemble(
    insns: bytes | Iterable[Instruction],
    style: Style = "kernel",
    *,
    numbered: bool | None = None,
    call_text: CallText | None = None,
) -> str:
    """A whole program, one instruction per line (a lddw counts two slots in the numbering).

    ``numbered`` defaults to True for ``kernel`` and ``llvm`` (the tools number
    their lines) and False for ``conformance`` (so the text assembles again).
    """
    program: Sequence[Instruction] = decode(insns) if isinstance(insns, bytes | bytearray) else list(insns)
    if numbered is None:
        numbered = style != "conformance"
    lines = []
    pc = 0
    for insn in program:
        lines.append(format_insn(insn, style, pc if numbered else None, call_text=call_text))
        pc += insn.width
    return "\n".join(lines) + ("\n" if lines else "")
