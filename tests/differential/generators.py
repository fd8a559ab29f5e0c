"""Hypothesis strategies for random programs the kernel verifier accepts.

A program is built from *groups*: short instruction sequences that stay
together when hypothesis shrinks (e.g. "mask the shift amount, then shift",
"load the slot into r0, then cmpxchg it").  Jumps are forward only and name
their target in groups (:class:`Fwd`), resolved to 8-byte slots when the
program is assembled, so a shrunk program never has a dangling offset.

What keeps the kernel verifier happy (a rejection is a generator bug):

* every register r0-r9 is set by ``lddw`` before the body, every stack byte the
  body may read (``STACK_BYTES`` below r10) is stored before it; r10 is used
  only as the base of stack accesses, never as an ALU or jump operand;
* immediate shifts stay below the operand width, immediate div/mod is non-zero
  (a register divisor may be zero: the kernel then gives RFC 9669's results);
* stack accesses are aligned to their size (the verifier is strict on the stack);
* no back edges, and no unreachable instruction: an unconditional ``ja`` only
  appears as the ``else`` of ``if cond goto +1; ja +N`` so the first skipped
  instruction is the conditional's target;
* the epilogue folds r0-r9 and the whole stack area into r0 with multiply/xor
  and finally xors the high word into the low one, so the 32-bit value the
  kernel returns depends on every bit of every register and stack byte.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from pybpf.isa import AluOp, AtomicOp, InsnClass, Instruction, JmpOp, Mode, Size, Source, disassemble

U64 = (1 << 64) - 1
REGS = tuple(range(10))  # r0-r9; r10 (frame pointer) is never an operand
STACK_BYTES = 64  # the stack area the body uses: [r10 - 64, r10)
STACK_SLOTS = STACK_BYTES // 8
FOLD_MULTIPLIER = 0x2545F491  # odd, positive as a sign-extended imm32
LDDW = 0x18
EXIT = Instruction(InsnClass.JMP | JmpOp.EXIT)

INTERESTING_64 = (
    0,
    1,
    2,
    31,
    32,
    63,
    64,
    0x7F,
    0x80,
    0xFF,
    0x7FFF,
    0x8000,
    0xFFFF,
    0x7FFFFFFF,
    0x80000000,
    0xFFFFFFFF,
    0x1_0000_0000,
    0x1_0000_0001,
    0xFFFFFFFF_00000000,
    0xFFFFFFFF_80000000,
    0xFFFFFFFF_FFFFFF80,
    0x80000000_00000000,
    0x80000000_80000000,
    0x7FFFFFFF_FFFFFFFF,
    0x7FFFFFFF_7FFFFFFF,
    U64,
    U64 - 1,
)
INTERESTING_32 = (0, 1, -1, 2, -2, 31, 32, 63, 64, 0x7F, -0x80, 0x7FFF, -0x8000, 0x7FFFFFFF, -(1 << 31))

value64 = st.one_of(
    st.integers(0, U64),
    st.sampled_from(INTERESTING_64),
    st.builds(
        lambda hi, lo: (hi << 32) | lo, st.sampled_from(INTERESTING_64[:15]), st.integers(0, 0xFFFFFFFF)
    ),
    st.integers(-64, 64).map(lambda v: v & U64),
)
imm32 = st.one_of(
    st.integers(-(1 << 31), (1 << 31) - 1), st.sampled_from(INTERESTING_32), st.integers(-64, 64)
)
nonzero_imm32 = imm32.filter(lambda v: v != 0)
reg = st.sampled_from(REGS)
alu_class = st.sampled_from((InsnClass.ALU64, InsnClass.ALU))


@dataclass(frozen=True, slots=True)
class Fwd:
    """A forward jump over the next ``groups`` groups (0 = to the next group).

    ``insn`` carries everything but the offset; JMP32 ``ja`` (gotol) keeps its
    offset in ``imm``, every other jump in ``off``.
    """

    insn: Instruction
    groups: int


Item = Instruction | Fwd
Group = tuple[Item, ...]


def bits(cls: int) -> int:
    return 64 if cls == InsnClass.ALU64 else 32


def lddw(dst: int, value: int) -> Instruction:
    return Instruction(LDDW, dst, 0, 0, value & U64)


# -- ALU ---------------------------------------------------------------------

BINARY_OPS = (
    AluOp.ADD,
    AluOp.SUB,
    AluOp.MUL,
    AluOp.DIV,
    AluOp.OR,
    AluOp.AND,
    AluOp.LSH,
    AluOp.RSH,
    AluOp.MOD,
    AluOp.XOR,
    AluOp.MOV,
    AluOp.ARSH,
)
SHIFTS = (AluOp.LSH, AluOp.RSH, AluOp.ARSH)
DIVS = (AluOp.DIV, AluOp.MOD)


@st.composite
def alu_imm(draw: st.DrawFn) -> Group:
    """``dst op= imm`` for every binary op, 32 and 64 bit, signed div/mod included."""
    cls = draw(alu_class)
    op = draw(st.sampled_from(BINARY_OPS))
    off = 0
    if op in SHIFTS:
        imm = draw(st.integers(0, bits(cls) - 1))
    elif op in DIVS:
        off = draw(st.sampled_from((0, 1)))  # 1 = sdiv/smod
        imm = draw(st.one_of(st.sampled_from((-1, 1, 2, -2, -(1 << 31), 0x7FFFFFFF)), nonzero_imm32))
    else:
        imm = draw(imm32)
    return (Instruction(cls | op | Source.K, draw(reg), 0, off, imm),)


@st.composite
def alu_reg(draw: st.DrawFn) -> Group:
    """``dst op= src``; a register shift amount is masked to the width half the time."""
    cls = draw(alu_class)
    op = draw(st.sampled_from(BINARY_OPS))
    dst, src = draw(reg), draw(reg)
    off = draw(st.sampled_from((0, 1))) if op in DIVS else 0
    insn = Instruction(cls | op | Source.X, dst, src, off)
    if op in SHIFTS and draw(st.booleans()):
        mask = Instruction(cls | AluOp.AND | Source.K, src, 0, 0, bits(cls) - 1)
        return (mask, insn)
    return (insn,)


@st.composite
def div_by_zero(draw: st.DrawFn) -> Group:
    """A register divisor whose operand-width value is 0 (for ALU32 the high word may be set)."""
    cls = draw(alu_class)
    dst, src = draw(reg), draw(reg)
    zero = 0 if cls == InsnClass.ALU64 else draw(st.sampled_from((0, 0x1_0000_0000, 0xFFFFFFFF_00000000)))
    op = draw(st.sampled_from(DIVS))
    return (lddw(src, zero), Instruction(cls | op | Source.X, dst, src, draw(st.sampled_from((0, 1)))))


@st.composite
def alu_unary(draw: st.DrawFn) -> Group:
    """neg, le/be (ALU), bswap (ALU64) and movsx of every width."""
    kind = draw(st.sampled_from(("neg", "end", "bswap", "movsx")))
    dst = draw(reg)
    if kind == "neg":
        return (Instruction(draw(alu_class) | AluOp.NEG, dst),)
    width = draw(st.sampled_from((16, 32, 64)))
    if kind == "end":
        source = draw(st.sampled_from((Source.K, Source.X)))  # K = to little endian, X = to big endian
        return (Instruction(InsnClass.ALU | AluOp.END | source, dst, 0, 0, width),)
    if kind == "bswap":
        return (Instruction(InsnClass.ALU64 | AluOp.END, dst, 0, 0, width),)
    cls = draw(alu_class)
    off = draw(st.sampled_from((8, 16, 32) if cls == InsnClass.ALU64 else (8, 16)))
    return (Instruction(cls | AluOp.MOV | Source.X, dst, draw(reg), off),)


@st.composite
def set_reg(draw: st.DrawFn) -> Group:
    """Give a register a fresh (often edge-case) value mid-program."""
    dst = draw(reg)
    kind = draw(st.sampled_from(("lddw", "mov64", "mov32")))
    if kind == "lddw":
        return (lddw(dst, draw(value64)),)
    cls = InsnClass.ALU64 if kind == "mov64" else InsnClass.ALU
    return (Instruction(cls | AluOp.MOV | Source.K, dst, 0, 0, draw(imm32)),)


# -- stack memory and atomics ---------------------------------------------------

SIZES = (Size.B, Size.H, Size.W, Size.DW)
ALL_ATOMICS = (
    AtomicOp.ADD,
    AtomicOp.OR,
    AtomicOp.AND,
    AtomicOp.XOR,
    AtomicOp.FETCH_ADD,
    AtomicOp.FETCH_OR,
    AtomicOp.FETCH_AND,
    AtomicOp.FETCH_XOR,
    AtomicOp.XCHG,
    AtomicOp.CMPXCHG,
)


def stack_off(size: Size) -> st.SearchStrategy[int]:
    """An aligned offset from r10 inside the initialised stack area."""
    n = size.nbytes
    return st.integers(1, STACK_BYTES // n).map(lambda k: -k * n)


@st.composite
def stack_access(draw: st.DrawFn) -> Group:
    """st (imm), stx, ldx and sign-extending ldsx of every size on the stack."""
    kind = draw(st.sampled_from(("st", "stx", "ldx", "ldsx")))
    size = draw(st.sampled_from((Size.B, Size.H, Size.W) if kind == "ldsx" else SIZES))
    off = draw(stack_off(size))
    if kind == "st":
        return (Instruction(InsnClass.ST | Mode.MEM | size, 10, 0, off, draw(imm32)),)
    if kind == "stx":
        return (Instruction(InsnClass.STX | Mode.MEM | size, 10, draw(reg), off),)
    mode = Mode.MEM if kind == "ldx" else Mode.MEMSX
    return (Instruction(InsnClass.LDX | mode | size, draw(reg), 10, off),)


@st.composite
def atomic(draw: st.DrawFn) -> Group:
    """Every atomic op, 32 and 64 bit, on a stack slot.

    Half of the cmpxchg groups first load the slot into r0 so the exchange
    succeeds (random r0 almost never matches memory).
    """
    size = draw(st.sampled_from((Size.W, Size.DW)))
    op = draw(st.sampled_from(ALL_ATOMICS))
    off = draw(stack_off(size))
    insn = Instruction(InsnClass.STX | Mode.ATOMIC | size, 10, draw(reg), off, op)
    if op == AtomicOp.CMPXCHG and draw(st.booleans()):
        return (Instruction(InsnClass.LDX | Mode.MEM | size, 0, 10, off), insn)
    return (insn,)


@st.composite
def acquire_release(draw: st.DrawFn) -> Group:
    """load-acquire / store-release (BPF_ATOMIC imm 0x100 / 0x110) of every size on the stack."""
    size = draw(st.sampled_from(SIZES))
    off = draw(stack_off(size))
    if draw(st.booleans()):
        return (Instruction(InsnClass.STX | Mode.ATOMIC | size, draw(reg), 10, off, AtomicOp.LOAD_ACQ),)
    return (Instruction(InsnClass.STX | Mode.ATOMIC | size, 10, draw(reg), off, AtomicOp.STORE_REL),)


# -- jumps ------------------------------------------------------------------------

COND_OPS = (
    JmpOp.JEQ,
    JmpOp.JGT,
    JmpOp.JGE,
    JmpOp.JSET,
    JmpOp.JNE,
    JmpOp.JSGT,
    JmpOp.JSGE,
    JmpOp.JLT,
    JmpOp.JLE,
    JmpOp.JSLT,
    JmpOp.JSLE,
)
jmp_class = st.sampled_from((InsnClass.JMP, InsnClass.JMP32))


@st.composite
def condition(draw: st.DrawFn) -> Instruction:
    """A JMP/JMP32 conditional with offset 0 (the caller sets it)."""
    cls = draw(jmp_class)
    op = draw(st.sampled_from(COND_OPS))
    dst = draw(reg)
    if draw(st.booleans()):
        src = draw(st.one_of(reg, st.just(dst)))  # equal operands make both outcomes likely
        return Instruction(cls | op | Source.X, dst, src)
    return Instruction(cls | op | Source.K, dst, 0, 0, draw(imm32))


SKIP = st.integers(0, 4)


@st.composite
def branch(draw: st.DrawFn) -> Group:
    """``if cond goto`` a later group."""
    return (Fwd(draw(condition()), draw(SKIP)),)


@st.composite
def if_else(draw: st.DrawFn) -> Group:
    """``if cond goto +1; ja <later group>`` with either ja form (JMP off16 / JMP32 gotol imm32)."""
    cond = draw(condition()).replace(off=1)
    ja = Instruction(draw(jmp_class) | JmpOp.JA)
    return (cond, Fwd(ja, draw(SKIP)))


# -- programs ------------------------------------------------------------------------

ALU_GROUPS = st.one_of(alu_imm(), alu_reg(), alu_unary(), set_reg(), div_by_zero())
JUMP_GROUPS = st.one_of(branch(), if_else())
MEMORY_GROUPS = st.one_of(stack_access(), atomic(), acquire_release())


def prologue(reg_values: Sequence[int], stack_values: Sequence[int]) -> list[Instruction]:
    """Fill the stack area (through r0), then set r0-r9."""
    out: list[Instruction] = []
    for k, value in enumerate(stack_values):
        out += [lddw(0, value), Instruction(InsnClass.STX | Mode.MEM | Size.DW, 10, 0, -8 * (k + 1))]
    out += [lddw(r, v) for r, v in zip(REGS, reg_values, strict=True)]
    return out


def epilogue() -> list[Instruction]:
    """Fold r1-r9 and every stack slot into r0, then the high word into the low word; exit."""
    mul = Instruction(InsnClass.ALU64 | AluOp.MUL | Source.K, 0, 0, 0, FOLD_MULTIPLIER)
    out: list[Instruction] = []
    for r in REGS[1:]:
        out += [mul, Instruction(InsnClass.ALU64 | AluOp.XOR | Source.X, 0, r)]
    for k in range(STACK_SLOTS):
        out += [
            Instruction(InsnClass.LDX | Mode.MEM | Size.DW, 1, 10, -8 * (k + 1)),
            mul,
            Instruction(InsnClass.ALU64 | AluOp.XOR | Source.X, 0, 1),
        ]
    out += [
        Instruction(InsnClass.ALU64 | AluOp.MOV | Source.X, 1, 0),
        Instruction(InsnClass.ALU64 | AluOp.RSH | Source.K, 1, 0, 0, 32),
        Instruction(InsnClass.ALU64 | AluOp.XOR | Source.X, 0, 1),
        EXIT,
    ]
    return out


def resolve(groups: Sequence[Group]) -> list[Instruction]:
    """The body with every :class:`Fwd` turned into a slot offset (clipped to the epilogue)."""
    starts = [0]
    for group in groups:
        starts.append(starts[-1] + sum(1 if isinstance(i, Fwd) else i.width for i in group))
    body: list[Instruction] = []
    for g, group in enumerate(groups):
        slot = starts[g]
        for item in group:
            if isinstance(item, Fwd):
                target = starts[min(g + 1 + item.groups, len(groups))]
                rel = target - slot - 1
                gotol = item.insn.cls == InsnClass.JMP32 and item.insn.jmp_op == JmpOp.JA
                body.append(item.insn.replace(imm=rel) if gotol else item.insn.replace(off=rel))
                slot += 1
            else:
                body.append(item)
                slot += item.width
    return body


@dataclass(frozen=True, slots=True)
class Program:
    """A generated program: initial registers and stack slots, and the body between them.

    The repr (what hypothesis prints for a falsifying example) shows the body
    disassembled, without the long fixed prologue and epilogue.
    """

    regs: tuple[int, ...]
    stack: tuple[int, ...]
    body: tuple[Instruction, ...]

    @property
    def insns(self) -> list[Instruction]:
        return prologue(self.regs, self.stack) + list(self.body) + epilogue()

    def __repr__(self) -> str:
        regs = ", ".join(f"r{r}={v:#x}" for r, v in zip(REGS, self.regs, strict=True))
        stack = ", ".join(f"[r10{-8 * (k + 1)}]={v:#x}" for k, v in enumerate(self.stack))
        body = disassemble(self.body, numbered=True).rstrip("\n").replace("\n", "\n    ")
        return f"Program(\n  {regs}\n  {stack}\n  body:\n    {body}\n)"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """Hypothesis pretty-prints dataclasses field by field unless this hook exists."""
        printer.text(repr(self))


def build(reg_values: Sequence[int], stack_values: Sequence[int], groups: Sequence[Group]) -> Program:
    return Program(tuple(reg_values), tuple(stack_values), tuple(resolve(groups)))


@st.composite
def programs(draw: st.DrawFn, group: st.SearchStrategy[Group], *, max_groups: int = 40) -> Program:
    """A whole program: prologue, 1..max_groups groups drawn from ``group``, epilogue."""
    reg_values = draw(st.lists(value64, min_size=len(REGS), max_size=len(REGS)))
    stack_values = draw(st.lists(value64, min_size=STACK_SLOTS, max_size=STACK_SLOTS))
    # An explicit length: hypothesis' own list sizes average a handful of elements.
    count = draw(st.integers(1, max_groups))
    groups = draw(st.lists(group, min_size=count, max_size=count))
    return build(reg_values, stack_values, groups)
