"""The C-like assembler syntax printed by llvm-objdump, bpftool and the verifier log.

One grammar reads all three printers: ``r0 = 1``, ``w1 += w2``,
``if r1 > 0x3 goto +2`` / ``goto pc+2``, ``*(u32 *)(r10 -4) = r1``,
``r0 = *(s8 *)(r1 + 0x0)``, ``lock *(u64 *)(r1 +0) += r2``,
``r0 = atomic_fetch_add((u64 *)(r1 +0), r0)`` / ``atomic64_fetch_add``,
``xchg_64(r1 + 0x0, r2)`` / ``atomic64_xchg(...)``, ``cmpxchg``, ``load_acquire``,
``store_release``, ``r1 = 0x1122334455667788 ll``, ``r1 = map[id:5][0]+16``,
``call bpf_map_lookup_elem#1``, ``call pc+3``, ``call kernel-function#N``,
``callx r2``, ``gotol +70000``, ``r0 = bswap16 r0``, ``r0 = (s8)r1``,
``r0 = -r0``, ``exit`` and ``name:`` labels.

Whole lines copied from the tools are accepted: bpftool's ``  12: (b7) `` prefix
(the opcode in parentheses then also decides whether ``r1 = 0x5`` is a ``lddw``,
and must agree with the text), llvm-objdump's address and byte columns, its
``<sym+0x10>`` annotations, ``0000000000000000 <func>:`` headers (a label) and
relocation lines (attached to the previous instruction as ``meta.reference``),
``;`` and ``//`` comments (line info, verifier state).
"""

from __future__ import annotations

import dataclasses
import re

from ..uapi import HELPER_IDS
from .asm_scan import Program, Scanner, imm32, imm64, off16
from .instruction import InsnMeta, Instruction
from .opcodes import (
    LDDW_OPCODE,
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

_ALU_OPS: tuple[tuple[str, AluOp, int], ...] = (
    # longest spelling first so that "s>>=" is not read as "s>" ...
    ("s>>=", AluOp.ARSH, 0),
    ("<<=", AluOp.LSH, 0),
    (">>=", AluOp.RSH, 0),
    ("s/=", AluOp.DIV, 1),
    ("s%=", AluOp.MOD, 1),
    ("+=", AluOp.ADD, 0),
    ("-=", AluOp.SUB, 0),
    ("*=", AluOp.MUL, 0),
    ("/=", AluOp.DIV, 0),
    ("|=", AluOp.OR, 0),
    ("&=", AluOp.AND, 0),
    ("%=", AluOp.MOD, 0),
    ("^=", AluOp.XOR, 0),
)
_JMP_OPS: tuple[tuple[str, JmpOp], ...] = (
    ("s>=", JmpOp.JSGE),
    ("s<=", JmpOp.JSLE),
    ("s>", JmpOp.JSGT),
    ("s<", JmpOp.JSLT),
    ("==", JmpOp.JEQ),
    ("!=", JmpOp.JNE),
    (">=", JmpOp.JGE),
    ("<=", JmpOp.JLE),
    (">", JmpOp.JGT),
    ("<", JmpOp.JLT),
    ("&", JmpOp.JSET),
)
_LOCK_OPS: tuple[tuple[str, AtomicOp], ...] = (
    ("+=", AtomicOp.ADD),
    ("|=", AtomicOp.OR),
    ("&=", AtomicOp.AND),
    ("^=", AtomicOp.XOR),
)
_FETCH_OPS = {
    "add": AtomicOp.FETCH_ADD,
    "or": AtomicOp.FETCH_OR,
    "and": AtomicOp.FETCH_AND,
    "xor": AtomicOp.FETCH_XOR,
}
_TYPES: dict[str, tuple[Size, bool]] = {
    "u8": (Size.B, False),
    "u16": (Size.H, False),
    "u32": (Size.W, False),
    "u64": (Size.DW, False),
    "s8": (Size.B, True),
    "s16": (Size.H, True),
    "s32": (Size.W, True),
}

_PC_PREFIX = re.compile(r"\s*(\d+):[ \t]*")
_LLVM_BYTES = re.compile(r"(?:[0-9a-f]{2} ){7}[0-9a-f]{2}(?:(?: [0-9a-f]{2}){8})?(?=\s|$)\s*")
_KERNEL_OPCODE = re.compile(r"\(([0-9a-f]{2})\)[ \t]*")
_SYMBOL_NOTE = re.compile(r"\s+<[A-Za-z_.$][^<>]*>\s*$")
_FUNC_HEADER = re.compile(r"\s*[0-9a-f]+\s+<([A-Za-z_.$][\w.$]*)>:\s*$")
_RELOCATION = re.compile(r"\s*[0-9a-f]+:\s+(R_BPF_\w+)\s+(\S+)")
_SKIP = re.compile(r"\s*(?:\S+:\s+file format\s|Disassembly of section\s)")


class _Line:
    """State for one statement: the scanner plus bpftool's opcode, when the line had one."""

    def __init__(self, sc: Scanner, opcode: int | None) -> None:
        self.sc = sc
        self.opcode = opcode


def _reg(sc: Scanner, what: str = "a register") -> tuple[int, bool]:
    """``rN`` or ``wN`` -> (N, is_32bit)."""
    sc.skip_ws()
    if sc.peek("w"):
        return sc.register("w", what), True
    return sc.register("r", what), False


def _reg64(sc: Scanner, what: str = "a 64-bit register rN") -> int:
    return sc.register("r", what)


def _mem(sc: Scanner) -> tuple[int, int]:
    """``(rN +off)`` / ``(rN - 0x8)`` -> (N, off)."""
    sc.expect("(", "'(' opening a memory operand")
    reg, off = _base_off(sc)
    sc.expect(")", "')' closing the memory operand")
    return reg, off


def _base_off(sc: Scanner) -> tuple[int, int]:
    reg = _reg64(sc, "a base register rN")
    off = 0
    if sc.peek("+") or sc.peek("-"):
        off = off16(sc, "a memory offset")
    return reg, off


def _type(sc: Scanner, allow_signed: bool = False) -> Size:
    """``(u32 *)`` after its opening parenthesis was consumed ... returns the size."""
    pos = sc.pos
    name = sc.ident("a type u8, u16, u32 or u64")
    entry = _TYPES.get(name)
    if entry is None or (entry[1] and not allow_signed):
        raise sc.error(f"expected a type u8, u16, u32 or u64, found {name!r}", pos)
    sc.expect("*", "'*'")
    sc.expect(")", "')'")
    return entry[0]


def _typed_ptr(sc: Scanner, allow_signed: bool = False) -> tuple[Size, bool]:
    """``*(u32 *)`` -> (size, signed)."""
    sc.expect("*", "'*'")
    sc.expect("(", "'('")
    pos = sc.pos
    name = sc.ident("a type u8, u16, u32, u64, s8, s16 or s32")
    entry = _TYPES.get(name)
    if entry is None or (entry[1] and not allow_signed):
        wanted = "u8, u16, u32, u64, s8, s16 or s32" if allow_signed else "u8, u16, u32 or u64"
        raise sc.error(f"expected a type {wanted}, found {name!r}", pos)
    sc.expect("*", "'*'")
    sc.expect(")", "')'")
    return entry


def _target(sc: Scanner) -> tuple[int, str | None]:
    """``+2``, ``-0x4``, ``pc+2`` or a label."""
    sc.skip_ws()
    if sc.accept_word("pc") or sc.peek_number():
        return sc.number("a jump offset"), None
    return 0, sc.ident("a jump offset (+N, pc+N) or a label")


def _check16(sc: Scanner, value: int, pos: int) -> int:
    if not -0x8000 <= value <= 0x7FFF:
        raise sc.error(f"jump offset {value} out of range [-32768, 32767] (use gotol)", pos)
    return value


def parse_statement(prog: Program, line: _Line, start: int) -> None:
    sc = line.sc
    if sc.accept(".insn"):  # raw fields, as format_insn prints an invalid instruction
        fields = [sc.number("the opcode")]
        for what in ("dst", "src", "off", "imm"):
            sc.expect(",", f"',' and {what}")
            fields.append(sc.number(what))
        opcode, dst, src, off, imm = fields
        if not 0 <= dst <= 15 or not 0 <= src <= 15 or not 0 <= opcode <= 0xFF:
            raise sc.error("register field or opcode out of range")
        prog.add(sc, Instruction(opcode, dst, src, off, imm), start)
        return
    if sc.accept_word("exit"):
        prog.add(sc, Instruction(InsnClass.JMP | JmpOp.EXIT), start)
        return
    if sc.accept_word("gotol"):
        sc.skip_ws()
        pos = sc.pos
        off, label = _target(sc)
        if label is None and not -(1 << 31) <= off < (1 << 31):
            raise sc.error(f"jump offset {off} does not fit in 32 bits", pos)
        prog.add(sc, Instruction(InsnClass.JMP32 | JmpOp.JA, imm=off), start, label, "imm")
        return
    if sc.accept_word("goto"):
        sc.skip_ws()
        pos = sc.pos
        off, label = _target(sc)
        prog.add(sc, Instruction(InsnClass.JMP | JmpOp.JA, off=_check16(sc, off, pos)), start, label)
        return
    if sc.accept_word("may_goto"):
        sc.skip_ws()
        pos = sc.pos
        off, label = _target(sc)
        prog.add(sc, Instruction(InsnClass.JMP | JmpOp.JCOND, off=_check16(sc, off, pos)), start, label)
        return
    if sc.accept_word("if"):
        _cond_jump(prog, sc, start)
        return
    if sc.accept_word("callx"):
        prog.add(sc, Instruction(InsnClass.JMP | JmpOp.CALL | Source.X, _reg64(sc)), start)
        return
    if sc.accept_word("call"):
        _call(prog, sc, start)
        return
    if sc.accept_word("lock"):
        size, _ = _typed_ptr(sc)
        dst, off = _mem(sc)
        sc.skip_ws()
        pos = sc.pos
        aop = next((op for spelling, op in _LOCK_OPS if sc.accept(spelling)), None)
        if aop is None:
            raise sc.error("expected an atomic operator +=, |=, &= or ^=", pos)
        src, _w = _reg(sc)
        prog.add(sc, Instruction(InsnClass.STX | Mode.ATOMIC | size, dst, src, off, aop), start)
        return
    if sc.accept_word("store_release"):
        sc.expect("(", "'('")
        sc.expect("(", "'(' and a pointer type")
        size = _type(sc)
        dst, off = _mem(sc)
        sc.expect(",", "',' and a source register")
        src, _w = _reg(sc)
        sc.expect(")", "')'")
        insn = Instruction(InsnClass.STX | Mode.ATOMIC | size, dst, src, off, AtomicOp.STORE_REL)
        prog.add(sc, insn, start)
        return
    if sc.accept_word("ld_pseudo"):
        dst = _reg64(sc)
        sc.expect(",", "',' and the pseudo source")
        src = sc.number("the pseudo source")
        sc.expect(",", "',' and the immediate")
        value = imm32(sc) & 0xFFFFFFFF
        prog.add(sc, Instruction(LDDW_OPCODE, dst, src, 0, value), start)
        return
    if sc.peek("*"):
        size, _ = _typed_ptr(sc)
        dst, off = _mem(sc)
        sc.expect("=", "'='")
        if sc.peek("r") or sc.peek("w"):
            src, _w = _reg(sc)
            prog.add(sc, Instruction(InsnClass.STX | Mode.MEM | size, dst, src, off), start)
        else:
            imm = imm32(sc, "a register or an immediate")
            prog.add(sc, Instruction(InsnClass.ST | Mode.MEM | size, dst, 0, off, imm), start)
        return
    if sc.peek("r") or sc.peek("w"):
        _assignment(prog, line, start)
        return
    raise sc.error(f"expected an instruction, found {sc.rest().split()[0]!r}")


def _cond_jump(prog: Program, sc: Scanner, start: int) -> None:
    dst, is32 = _reg(sc)
    sc.skip_ws()
    pos = sc.pos
    jop = next((op for spelling, op in _JMP_OPS if sc.accept(spelling)), None)
    if jop is None:
        raise sc.error("expected a comparison (==, !=, >, >=, <, <=, s>, s>=, s<, s<=, &)", pos)
    cls = InsnClass.JMP32 if is32 else InsnClass.JMP
    sc.skip_ws()
    if sc.peek("r") or sc.peek("w"):
        rpos = sc.pos
        src, src32 = _reg(sc)
        if src32 != is32:
            raise sc.error("both registers of a comparison must be rN or both wN", rpos)
        source, imm = Source.X, 0
    else:
        src, source, imm = 0, Source.K, imm32(sc, "a register or an immediate")
    if not sc.accept_word("goto"):
        raise sc.error("expected 'goto' and a jump target")
    sc.skip_ws()
    tpos = sc.pos
    off, label = _target(sc)
    insn = Instruction(cls | source | jop, dst, src, _check16(sc, off, tpos), imm)
    prog.add(sc, insn, start, label)


def _call(prog: Program, sc: Scanner, start: int) -> None:
    call = InsnClass.JMP | JmpOp.CALL
    sc.skip_ws()
    if sc.accept_word("pc"):
        imm = imm32(sc, "a call offset")
        if sc.accept("#"):  # bpftool's `call pc+3#bpf_prog_<tag>_F`: the callee's JIT symbol
            symbol = re.compile(r"[\w.$]+").match(sc.line, sc.pos)
            if symbol is None:
                raise sc.error("expected the callee's symbol after '#'")
            sc.pos = symbol.end()
        prog.add(sc, Instruction(call, src=CallSrc.PSEUDO_CALL, imm=imm), start)
        return
    if sc.peek_number():
        prog.add(sc, Instruction(call, imm=imm32(sc, "a helper number")), start)
        return
    if re.match(r"[rw]\d+\b", sc.rest()):
        prog.add(sc, Instruction(call | Source.X, _reg64(sc)), start)
        return
    pos = sc.pos
    m = re.compile(r"[A-Za-z_.$][\w.$-]*").match(sc.line, sc.pos)
    if not m:
        raise sc.error("expected a helper name, helper number, pc+N or a label")
    name = m.group()
    sc.pos = m.end()
    if sc.accept("#"):
        imm = imm32(sc, "the id after '#'")
        off = 0
        if sc.accept("@"):
            off = off16(sc, "a kfunc module index")
        if name == "kernel-function" or (name != "unknown" and _helper_id(name) is None):
            prog.add(sc, Instruction(call, src=CallSrc.KFUNC, off=off, imm=imm), start)
            return
        if off:
            raise sc.error("a helper call takes no '@' module index", pos)
        known = _helper_id(name)
        if known is not None and known != imm:
            raise sc.error(f"helper {name} is #{known}, not #{imm}", pos)
        prog.add(sc, Instruction(call, imm=imm), start)
        return
    helper = _helper_id(name)
    if helper is not None:
        prog.add(sc, Instruction(call, imm=helper), start)
        return
    # a label: a bpf-to-bpf call resolved like a jump
    prog.add(sc, Instruction(call, src=CallSrc.PSEUDO_CALL), start, name, "imm")


def _helper_id(name: str) -> int | None:
    bare = name[4:] if name.startswith("bpf_") else None
    if bare is not None and bare in HELPER_IDS:
        return HELPER_IDS[bare]
    return None


def _assignment(prog: Program, line: _Line, start: int) -> None:
    sc = line.sc
    dpos = sc.pos
    dst, is32 = _reg(sc)
    alu = InsnClass.ALU if is32 else InsnClass.ALU64
    sc.skip_ws()
    pos = sc.pos
    for spelling, op, off in _ALU_OPS:
        if sc.accept(spelling):
            _alu_operand(prog, sc, start, alu | op, dst, is32, off)
            return
    if not sc.accept("="):
        raise sc.error("expected '=' or a compound assignment (+=, -=, ...)", pos)
    sc.skip_ws()
    rhs = sc.pos
    if sc.peek("*"):
        _load(prog, sc, start, dst)
        return
    if sc.accept("("):  # (s8)rS
        tpos = sc.pos
        name = sc.ident("a cast (s8), (s16) or (s32)")
        bits = {"s8": 8, "s16": 16, "s32": 32}.get(name)
        if bits is None or (bits == 32 and is32):
            raise sc.error(f"expected a cast (s8), (s16){'' if is32 else ' or (s32)'}", tpos)
        sc.expect(")", "')'")
        src = _same_kind_reg(sc, is32)
        prog.add(sc, Instruction(alu | Source.X | AluOp.MOV, dst, src, bits), start)
        return
    if sc.peek("-") and re.match(r"-\s*[rw]\d", sc.rest()):
        sc.accept("-")
        npos = sc.pos
        src = _same_kind_reg(sc, is32)
        if src != dst:
            raise sc.error("negation works in place: write rN = -rN", npos)
        prog.add(sc, Instruction(alu | AluOp.NEG, dst), start)
        return
    word = sc.peek_ident()
    if word is not None:
        m = re.fullmatch(r"(be|le|bswap)(16|32|64)", word)
        if m:
            sc.ident()
            npos = sc.pos
            src, _w = _reg(sc)
            if src != dst:
                raise sc.error("a byte swap works in place: write rN = be16 rN", npos)
            kind, width = m.group(1), int(m.group(2))
            if kind == "bswap":
                opcode = InsnClass.ALU64 | AluOp.END
            else:
                opcode = InsnClass.ALU | AluOp.END | (0x08 if kind == "be" else 0)
            prog.add(sc, Instruction(opcode, dst, 0, 0, width), start)
            return
        if word in ("map", "btf_id", "subprog", "ld_pseudo"):
            _pseudo_lddw(prog, sc, start, dst, word)
            return
        if word.startswith(("atomic", "xchg", "cmpxchg", "load_acquire")):
            _atomic_rhs(prog, sc, start, dst, word)
            return
        if re.fullmatch(r"[rw]\d+", word):
            src = _same_kind_reg(sc, is32)
            prog.add(sc, Instruction(alu | Source.X | AluOp.MOV, dst, src), start)
            return
    if not sc.peek_number():
        raise sc.error("expected a register, an immediate, a load or an operation", rhs)
    npos = sc.pos
    value = sc.number("an immediate")
    is_lddw = sc.accept_word("ll") or line.opcode == LDDW_OPCODE or value > 0xFFFFFFFF or value < -(1 << 31)
    if is_lddw:
        if is32:
            raise sc.error("a 64-bit immediate load needs a 64-bit register rN", dpos)
        if not -(1 << 63) <= value < (1 << 64):
            raise sc.error(f"immediate {value} does not fit in 64 bits", npos)
        prog.add(sc, Instruction(LDDW_OPCODE, dst, 0, 0, value & ((1 << 64) - 1)), start)
        return
    if value > 0x7FFFFFFF:
        value -= 1 << 32
    prog.add(sc, Instruction(alu | Source.K | AluOp.MOV, dst, 0, 0, value), start)


def _same_kind_reg(sc: Scanner, is32: bool) -> int:
    pos = sc.pos
    reg, reg32 = _reg(sc)
    if reg32 != is32:
        raise sc.error("both registers must be rN (64-bit) or both wN (32-bit)", pos)
    return reg


def _alu_operand(prog: Program, sc: Scanner, start: int, opcode: int, dst: int, is32: bool, off: int) -> None:
    sc.skip_ws()
    if sc.peek("r") or sc.peek("w"):
        src = _same_kind_reg(sc, is32)
        prog.add(sc, Instruction(opcode | Source.X, dst, src, off), start)
    else:
        prog.add(sc, Instruction(opcode | Source.K, dst, 0, off, imm32(sc)), start)


def _load(prog: Program, sc: Scanner, start: int, dst: int) -> None:
    size, signed = _typed_ptr(sc, allow_signed=True)
    if sc.accept_word("skb"):
        if signed:
            raise sc.error("legacy packet loads are unsigned")
        sc.expect("[", "'['")
        if sc.peek("r"):
            src = _reg64(sc)
            imm = 0
            if sc.accept("+") or sc.peek("-"):  # kernel prints "skb[r1 + -4]"
                imm = imm32(sc)
            sc.expect("]", "']'")
            prog.add(sc, Instruction(InsnClass.LD | Mode.IND | size, 0, src, 0, imm), start)
        else:
            imm = imm32(sc)
            sc.expect("]", "']'")
            prog.add(sc, Instruction(InsnClass.LD | Mode.ABS | size, 0, 0, 0, imm), start)
        if dst != 0:
            raise sc.error("legacy packet loads always write r0")
        return
    src, off = _mem(sc)
    mode = Mode.MEMSX if signed else Mode.MEM
    prog.add(sc, Instruction(InsnClass.LDX | mode | size, dst, src, off), start)


def _pseudo_lddw(prog: Program, sc: Scanner, start: int, dst: int, word: str) -> None:
    sc.ident()
    if word == "ld_pseudo":  # pybpf's kernel-style spelling for the rest: ld_pseudo(src, imm64)
        sc.expect("(", "'('")
        src = sc.number("the pseudo source")
        sc.expect(",", "','")
        value = imm64(sc)
        sc.expect(")", "')'")
        prog.add(sc, Instruction(LDDW_OPCODE, dst, src, 0, value), start)
        return
    sc.expect("[", "'['")
    if word == "subprog":
        value = imm32(sc, "a subprogram offset") & 0xFFFFFFFF
        sc.expect("]", "']'")
        prog.add(sc, Instruction(LDDW_OPCODE, dst, PseudoSrc.FUNC, 0, value), start)
        return
    if word == "btf_id":
        value = imm32(sc, "a BTF id") & 0xFFFFFFFF
        sc.expect("]", "']'")
        prog.add(sc, Instruction(LDDW_OPCODE, dst, PseudoSrc.BTF_ID, 0, value), start)
        return
    kpos = sc.pos
    key = sc.ident("id or idx")
    if key not in ("id", "idx", "fd"):
        raise sc.error("expected map[id:N], map[fd:N] or map[idx:N]", kpos)
    sc.expect(":", "':'")
    ident = imm32(sc, "a map id") & 0xFFFFFFFF
    sc.expect("]", "']'")
    high = 0
    value_form = False
    if sc.accept("["):
        sc.expect("0", "'0' (the element index)")
        sc.expect("]", "']'")
        value_form = True
    if sc.accept("+"):
        high = imm32(sc, "an offset into the map value") & 0xFFFFFFFF
        value_form = True
    if key == "idx":
        src = PseudoSrc.MAP_IDX_VALUE if value_form else PseudoSrc.MAP_IDX
    else:
        src = PseudoSrc.MAP_VALUE if value_form else PseudoSrc.MAP_FD
    prog.add(sc, Instruction(LDDW_OPCODE, dst, src, 0, ident | high << 32), start)


def _atomic_rhs(prog: Program, sc: Scanner, start: int, dst: int, word: str) -> None:
    sc.ident()
    m = re.fullmatch(r"atomic(?:64)?_(fetch_(add|and|or|xor)|xchg|cmpxchg)", word)
    sc.expect("(", "'('")
    if word == "load_acquire":
        sc.expect("(", "'(' and a pointer type")
        size = _type(sc)
        src, off = _mem(sc)
        sc.expect(")", "')'")
        insn = Instruction(InsnClass.STX | Mode.ATOMIC | size, dst, src, off, AtomicOp.LOAD_ACQ)
        prog.add(sc, insn, start)
        return
    if m:  # kernel and llvm fetch forms: NAME((T *)(rD +off), ...)
        sc.expect("(", "'(' and a pointer type")
        size = _type(sc)
        mem_dst, off = _mem(sc)
        kind = m.group(1)
    else:
        lm = re.fullmatch(r"(xchg|cmpxchg)(?:_64|32_32)", word)
        if not lm:
            raise sc.error(f"unknown atomic operation {word!r}", start)
        kind = lm.group(1)
        size = Size.W if word.endswith("32_32") else Size.DW
        mem_dst, off = _base_off(sc)
    sc.expect(",", "','")
    if kind == "cmpxchg":
        rpos = sc.pos
        r0, _w = _reg(sc)
        if r0 != 0 or dst != 0:
            raise sc.error("cmpxchg compares with and returns r0", rpos)
        sc.expect(",", "','")
        imm = AtomicOp.CMPXCHG
    else:
        imm = AtomicOp.XCHG if kind == "xchg" else _FETCH_OPS[kind[6:]]
    spos = sc.pos
    src, _w = _reg(sc)
    sc.expect(")", "')'")
    if kind != "cmpxchg" and src != dst:
        raise sc.error("the fetched value lands in the source register: write rS = op(..., rS)", spos)
    prog.add(sc, Instruction(InsnClass.STX | Mode.ATOMIC | size, mem_dst, src, off, imm), start)


def _strip_comment(line: str) -> str:
    for marker in (";", "//"):
        cut = line.find(marker)
        if cut >= 0:
            line = line[:cut]
    stripped = line.lstrip()
    if stripped.startswith("#"):
        return ""
    return line.rstrip()


def parse(text: str) -> list[Instruction]:
    prog = Program()
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw.replace("\t", " "))
        if not line.strip() or _SKIP.match(line):
            continue
        reloc = _RELOCATION.match(raw)
        if reloc:
            if prog.items:
                last = prog.items[-1]
                meta = InsnMeta(reference=reloc.group(2))
                prog.items[-1] = dataclasses.replace(last, insn=last.insn.with_meta(meta))
            continue
        header = _FUNC_HEADER.match(line)
        if header:
            prog.add_label(Scanner(line, lineno), header.group(1), line.find("<") + 1)
            continue
        _parse_line(prog, line, lineno)
    return prog.resolve(implicit_exit_label=False)


def _parse_line(prog: Program, text: str, lineno: int) -> None:
    sc = Scanner(text, lineno)
    opcode: int | None = None
    m = _PC_PREFIX.match(text)
    if m:
        sc.pos = m.end()
        b = _LLVM_BYTES.match(text, sc.pos)
        if b:
            sc.pos = b.end()
        if sc.at_end():
            return
    sc.skip_ws()
    k = _KERNEL_OPCODE.match(text, sc.pos)
    if k:
        opcode = int(k.group(1), 16)
        sc.pos = k.end()
    note = _SYMBOL_NOTE.search(text, sc.pos)
    if note:
        sc.line = text[: note.start()]
    # labels, possibly several, possibly followed by a statement
    while True:
        sc.skip_ws()
        start = sc.pos
        lm = re.compile(r"([A-Za-z_.$][\w.$]*)\s*:(?!\s*\()").match(sc.line, sc.pos)
        if lm and not re.fullmatch(r"map|btf_id", lm.group(1)):
            if "(" in sc.line[lm.end() :] and sc.line.rstrip().endswith(":"):
                return  # bpftool's "int prog(struct xdp_md * ctx):" signature line
            prog.add_label(sc, lm.group(1), start)
            sc.pos = lm.end()
            if sc.at_end():
                return
            continue
        if sc.line.rstrip().endswith(":") and "(" in sc.line:
            return  # a function signature bpftool prints above its first instruction
        break
    count = len(prog.items)
    parse_statement(prog, _Line(sc, opcode), start)
    sc.expect_end()
    if opcode is not None and len(prog.items) > count and prog.items[-1].insn.opcode != opcode:
        got = prog.items[-1].insn.opcode
        raise sc.error(f"the text encodes opcode ({got:02x}) but the line says ({opcode:02x})", 0)
