"""The bpf_conformance suite's assembler syntax (inherited from uBPF).

``mov %r0, 1``, ``add32 %r1, %r2``, ``jne %r1, 0xb, label``, ``ldxw %r0, [%r1+4]``,
``lock fetch add [%r10-8], %r1``, ``call local func``, ``lddw %r0, 0x1122...``.
Immediates are 32-bit: ``0x80000000``..``0xffffffff`` are accepted and stored in
two's complement, as the suite's own assembler does.  Jump targets are labels or
``+N``/``-N`` slots; the first ``exit`` also answers to the label ``exit``.

Extensions (not in the suite, so that every valid encoding has a spelling):
``ldabs{b,h,w} imm``, ``ldind{b,h,w} %rS, imm`` (legacy packet loads),
``ldacq{b,h,w,dw} %rD, [%rS+off]`` and ``strel{b,h,w,dw} [%rD+off], %rS``
(load-acquire / store-release), ``call kfunc ID[, OFF]``, ``lddw %rD, IMM, SRC``
(a pseudo source such as map fd = 1) and ``.insn OPCODE, DST, SRC, OFF, IMM``.
"""

from __future__ import annotations

from ..errors import AsmError
from .asm_scan import Program, Scanner, imm32, imm64, off16
from .instruction import Instruction
from .opcodes import (
    LDDW_OPCODE,
    AluOp,
    AtomicOp,
    CallSrc,
    InsnClass,
    JmpOp,
    Mode,
    Size,
    Source,
)

ALU_NAMES: dict[str, tuple[AluOp, int]] = {
    "add": (AluOp.ADD, 0),
    "sub": (AluOp.SUB, 0),
    "mul": (AluOp.MUL, 0),
    "div": (AluOp.DIV, 0),
    "sdiv": (AluOp.DIV, 1),
    "or": (AluOp.OR, 0),
    "and": (AluOp.AND, 0),
    "lsh": (AluOp.LSH, 0),
    "rsh": (AluOp.RSH, 0),
    "mod": (AluOp.MOD, 0),
    "smod": (AluOp.MOD, 1),
    "xor": (AluOp.XOR, 0),
    "mov": (AluOp.MOV, 0),
    "arsh": (AluOp.ARSH, 0),
}

# movsx<from-bits><to-bits>: MOV with the source width in ``off``.
MOVSX_NAMES: dict[str, tuple[InsnClass, int]] = {
    "movsx832": (InsnClass.ALU, 8),
    "movsx1632": (InsnClass.ALU, 16),
    "movsx864": (InsnClass.ALU64, 8),
    "movsx1664": (InsnClass.ALU64, 16),
    "movsx3264": (InsnClass.ALU64, 32),
}

JMP_NAMES: dict[str, JmpOp] = {
    "jeq": JmpOp.JEQ,
    "jgt": JmpOp.JGT,
    "jge": JmpOp.JGE,
    "jset": JmpOp.JSET,
    "jne": JmpOp.JNE,
    "jsgt": JmpOp.JSGT,
    "jsge": JmpOp.JSGE,
    "jlt": JmpOp.JLT,
    "jle": JmpOp.JLE,
    "jslt": JmpOp.JSLT,
    "jsle": JmpOp.JSLE,
}

SIZE_SUFFIX: dict[str, Size] = {"b": Size.B, "h": Size.H, "w": Size.W, "dw": Size.DW}

ATOMIC_NAMES: dict[str, AtomicOp] = {
    "add": AtomicOp.ADD,
    "or": AtomicOp.OR,
    "and": AtomicOp.AND,
    "xor": AtomicOp.XOR,
}

END_TO_BE = 0x08  # the "source" bit of BPF_END selects big-endian conversion


def _split_32(name: str) -> tuple[str, bool]:
    if name.endswith("32") and not name.startswith("movsx"):
        return name[:-2], True
    return name, False


def _mem(sc: Scanner) -> tuple[int, int]:
    """``[%rN]``, ``[%rN+off]`` or ``[%rN-off]`` -> (register, offset)."""
    sc.expect("[", "'[' opening a memory operand")
    reg = sc.register("%r")
    off = 0
    if sc.peek("+") or sc.peek("-"):
        off = off16(sc, "a memory offset")
    sc.expect("]", "']' closing the memory operand")
    return reg, off


def _target(sc: Scanner) -> tuple[int, str | None]:
    """A jump target: a label, or a signed slot count."""
    if sc.peek_number():
        return off16(sc, "a jump offset"), None
    return 0, sc.ident("a label or +offset")


def parse_line(prog: Program, sc: Scanner) -> None:
    """Parse one (comment-free) line into ``prog``."""
    while True:  # labels, possibly several, possibly followed by an instruction
        sc.skip_ws()
        start = sc.pos
        name = sc.peek_ident()
        if name is None:
            if sc.at_end():
                return
            raise sc.error(f"expected an instruction or label, found {sc.rest().split()[0]!r}")
        save = sc.pos
        sc.ident()
        if sc.accept(":"):
            prog.add_label(sc, name, start)
            if sc.at_end():
                return
            continue
        sc.pos = save
        break
    mnemonic = sc.ident("a mnemonic").lower()
    _instruction(prog, sc, mnemonic, start)
    sc.expect_end()


def _instruction(prog: Program, sc: Scanner, mnemonic: str, start: int) -> None:
    base, is32 = _split_32(mnemonic)
    alu_cls = InsnClass.ALU if is32 else InsnClass.ALU64
    jmp_cls = InsnClass.JMP32 if is32 else InsnClass.JMP

    if base in ALU_NAMES:
        op, off = ALU_NAMES[base]
        dst = sc.register("%r")
        sc.expect(",", "',' and a source operand")
        if sc.peek("%"):
            src = sc.register("%r")
            prog.add(sc, Instruction(alu_cls | Source.X | op, dst, src, off, 0), start)
        else:
            prog.add(sc, Instruction(alu_cls | Source.K | op, dst, 0, off, imm32(sc)), start)
        return
    if mnemonic in MOVSX_NAMES:
        cls, bits = MOVSX_NAMES[mnemonic]
        dst = sc.register("%r")
        sc.expect(",", "',' and a source register")
        src = sc.register("%r")
        prog.add(sc, Instruction(cls | Source.X | AluOp.MOV, dst, src, bits, 0), start)
        return
    if base == "neg":
        prog.add(sc, Instruction(alu_cls | AluOp.NEG, sc.register("%r")), start)
        return
    for prefix, opcode in (
        ("be", InsnClass.ALU | AluOp.END | END_TO_BE),
        ("le", InsnClass.ALU | AluOp.END),
        ("bswap", InsnClass.ALU64 | AluOp.END),
        ("swap", InsnClass.ALU64 | AluOp.END),
    ):
        if mnemonic.startswith(prefix) and mnemonic[len(prefix) :] in ("16", "32", "64"):
            width = int(mnemonic[len(prefix) :])
            prog.add(sc, Instruction(opcode, sc.register("%r"), 0, 0, width), start)
            return
    if base in JMP_NAMES:
        dst = sc.register("%r")
        sc.expect(",", "',' and a register or immediate")
        if sc.peek("%"):
            src, imm, source = sc.register("%r"), 0, Source.X
        else:
            src, imm, source = 0, imm32(sc), Source.K
        sc.expect(",", "',' and a jump target")
        off, label = _target(sc)
        insn = Instruction(jmp_cls | source | JMP_NAMES[base], dst, src, off, imm)
        prog.add(sc, insn, start, label)
        return
    if mnemonic == "ja":
        off, label = _target(sc)
        prog.add(sc, Instruction(InsnClass.JMP | JmpOp.JA, off=off), start, label)
        return
    if mnemonic == "may_goto":
        off, label = _target(sc)
        prog.add(sc, Instruction(InsnClass.JMP | JmpOp.JCOND, off=off), start, label)
        return
    if mnemonic == "ja32":
        sc.skip_ws()
        pos = sc.pos
        if sc.peek_number():
            imm = imm32(sc, "a jump offset")
            label = None
        else:
            imm, label = 0, sc.ident("a label or +offset")
        del pos
        prog.add(sc, Instruction(InsnClass.JMP32 | JmpOp.JA, imm=imm), start, label, "imm")
        return
    if mnemonic == "exit":
        prog.add(sc, Instruction(InsnClass.JMP | JmpOp.EXIT), start)
        return
    if mnemonic == "call":
        _call(prog, sc, start)
        return
    if mnemonic == "lddw":
        dst = sc.register("%r")
        sc.expect(",", "',' and a 64-bit immediate")
        value = imm64(sc)
        src = 0
        if sc.accept(","):
            src = sc.number("a pseudo source (0..6)")
        prog.add(sc, Instruction(LDDW_OPCODE, dst, src, 0, value), start)
        return
    if mnemonic == "lock":
        _atomic(prog, sc, start)
        return
    if mnemonic == ".insn":
        fields = [sc.number("the opcode")]
        for what in ("dst", "src", "off", "imm"):
            sc.expect(",", f"',' and {what}")
            fields.append(sc.number(what))
        opcode, dst, src, off, imm = fields
        if not 0 <= dst <= 15 or not 0 <= src <= 15 or not 0 <= opcode <= 0xFF:
            raise sc.error("register field or opcode out of range")
        prog.add(sc, Instruction(opcode, dst, src, off, imm), start)
        return
    if _load_store(prog, sc, mnemonic, start):
        return
    raise sc.error(f"unknown mnemonic {mnemonic!r}", start)


def _call(prog: Program, sc: Scanner, start: int) -> None:
    call = InsnClass.JMP | JmpOp.CALL
    if sc.peek("%"):
        prog.add(sc, Instruction(call | Source.X, sc.register("%r")), start)
        return
    if sc.accept_word("local"):
        off, label = _call_target(sc)
        prog.add(sc, Instruction(call, src=CallSrc.PSEUDO_CALL, imm=off), start, label, "imm")
        return
    if sc.accept_word("runtime") or sc.accept_word("kfunc"):
        imm = imm32(sc, "a kfunc id")
        off = 0
        if sc.accept(","):
            off = off16(sc, "a kfunc module offset")
        prog.add(sc, Instruction(call, src=CallSrc.KFUNC, off=off, imm=imm), start)
        return
    prog.add(sc, Instruction(call, imm=imm32(sc, "a helper number, %rN, 'local' or 'runtime'")), start)


def _call_target(sc: Scanner) -> tuple[int, str | None]:
    if sc.peek_number():
        return imm32(sc, "a call offset"), None
    return 0, sc.ident("a function label")


def _atomic(prog: Program, sc: Scanner, start: int) -> None:
    fetch = sc.accept_word("fetch")
    pos = sc.pos
    name = sc.ident("an atomic operation (add, and, or, xor, xchg, cmpxchg)").lower()
    base, is32 = _split_32(name)
    if base in ATOMIC_NAMES:
        op = int(ATOMIC_NAMES[base]) | (0x01 if fetch else 0)
    elif base == "xchg":
        op = AtomicOp.XCHG
    elif base == "cmpxchg":
        op = AtomicOp.CMPXCHG
    else:
        raise sc.error(f"unknown atomic operation {name!r}", pos)
    dst, off = _mem(sc)
    sc.expect(",", "',' and a source register")
    src = sc.register("%r")
    size = Size.W if is32 else Size.DW
    prog.add(sc, Instruction(InsnClass.STX | Mode.ATOMIC | size, dst, src, off, op), start)


def _load_store(prog: Program, sc: Scanner, mnemonic: str, start: int) -> bool:
    for prefix, kind in (
        ("ldxs", "ldxs"),
        ("ldx", "ldx"),
        ("stx", "stx"),
        ("st", "st"),
        ("ldabs", "ldabs"),
        ("ldind", "ldind"),
        ("ldacq", "ldacq"),
        ("strel", "strel"),
    ):
        if not mnemonic.startswith(prefix):
            continue
        size = SIZE_SUFFIX.get(mnemonic[len(prefix) :])
        if size is None:
            continue
        if kind in ("ldx", "ldxs", "ldacq"):
            if kind == "ldxs" and size == Size.DW:
                raise sc.error("there is no sign-extending 64-bit load (use ldxdw)", start)
            dst = sc.register("%r")
            sc.expect(",", "',' and a memory operand")
            src, off = _mem(sc)
            if kind == "ldacq":
                opcode, imm = InsnClass.STX | Mode.ATOMIC | size, int(AtomicOp.LOAD_ACQ)
                prog.add(sc, Instruction(opcode, dst, src, off, imm), start)
            else:
                mode = Mode.MEMSX if kind == "ldxs" else Mode.MEM
                prog.add(sc, Instruction(InsnClass.LDX | mode | size, dst, src, off), start)
        elif kind in ("stx", "strel"):
            dst, off = _mem(sc)
            sc.expect(",", "',' and a source register")
            src = sc.register("%r")
            if kind == "strel":
                opcode, imm = InsnClass.STX | Mode.ATOMIC | size, int(AtomicOp.STORE_REL)
            else:
                opcode, imm = InsnClass.STX | Mode.MEM | size, 0
            prog.add(sc, Instruction(opcode, dst, src, off, imm), start)
        elif kind == "st":
            dst, off = _mem(sc)
            sc.expect(",", "',' and an immediate")
            prog.add(sc, Instruction(InsnClass.ST | Mode.MEM | size, dst, 0, off, imm32(sc)), start)
        elif kind == "ldabs":
            prog.add(sc, Instruction(InsnClass.LD | Mode.ABS | size, imm=imm32(sc)), start)
        else:  # ldind
            src = sc.register("%r")
            sc.expect(",", "',' and an immediate")
            prog.add(sc, Instruction(InsnClass.LD | Mode.IND | size, 0, src, 0, imm32(sc)), start)
        return True
    return False


def strip_comment(line: str) -> str:
    """Drop a ``#`` comment (the suite allows one anywhere on a line)."""
    cut = line.find("#")
    return line if cut < 0 else line[:cut]


def parse(text: str) -> list[Instruction]:
    prog = Program()
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = strip_comment(raw).rstrip()
        if not line.strip():
            continue
        parse_line(prog, Scanner(line, lineno))
    return prog.resolve(implicit_exit_label=True)


__all__ = ["AsmError", "parse"]
