"""The logical eBPF instruction and the rules that make an encoding valid.

A 64-bit immediate load (``lddw``) is ONE logical instruction of width 2: its
``imm`` holds the whole 64-bit value (unsigned), i.e. the low word of the first
slot and the high word of the second.  For ``src`` = MAP_VALUE / MAP_IDX_VALUE the
high word is the offset into the map value, as the kernel reads it.

Instructions carry optional metadata (symbol, relocation reference, source line)
that linking and error messages use; metadata never takes part in equality, so
``decode(encode(x)) == x`` holds for annotated programs too.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

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

MAX_REG = 10
U64_MASK = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class LineInfo:
    """A source position from BTF line_info."""

    file: str
    line: int
    column: int
    text: str = ""


@dataclass(frozen=True, slots=True)
class InsnMeta:
    """What the object file knew about an instruction.

    ``symbol``: name of the function that starts at this instruction.
    ``reference``: symbol a relocation points this instruction at (map, global
    variable section, subprogram).  ``line``: C source position.
    """

    symbol: str | None = None
    reference: str | None = None
    line: LineInfo | None = None


def _to_s32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def _to_s16(value: int) -> int:
    value &= 0xFFFF
    return value - (1 << 16) if value & 0x8000 else value


@dataclass(frozen=True, slots=True)
class Instruction:
    """One logical eBPF instruction.

    ``off`` is a signed 16-bit value and ``imm`` a signed 32-bit value (values in
    the unsigned range are normalised to their signed form); for ``lddw`` ``imm``
    is the unsigned 64-bit immediate.
    """

    opcode: int
    dst: int = 0
    src: int = 0
    off: int = 0
    imm: int = 0
    meta: InsnMeta | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.opcode == LDDW_OPCODE:
            if -(1 << 63) <= self.imm < 0:
                object.__setattr__(self, "imm", self.imm & U64_MASK)
        elif 0x80000000 <= self.imm <= 0xFFFFFFFF:
            object.__setattr__(self, "imm", _to_s32(self.imm))
        if 0x8000 <= self.off <= 0xFFFF:
            object.__setattr__(self, "off", _to_s16(self.off))

    # -- decoded views ---------------------------------------------------
    @property
    def width(self) -> int:
        """Number of 8-byte slots the instruction occupies (2 for lddw)."""
        return 2 if self.opcode == LDDW_OPCODE else 1

    @property
    def cls(self) -> InsnClass:
        return InsnClass(self.opcode & 0x07)

    @property
    def source(self) -> Source:
        return Source(self.opcode & 0x08)

    @property
    def alu_op(self) -> AluOp:
        return AluOp(self.opcode & 0xF0)

    @property
    def jmp_op(self) -> JmpOp:
        return JmpOp(self.opcode & 0xF0)

    @property
    def size(self) -> Size:
        return Size(self.opcode & 0x18)

    @property
    def mode(self) -> Mode:
        return Mode(self.opcode & 0xE0)

    @property
    def is_lddw(self) -> bool:
        return self.opcode == LDDW_OPCODE

    @property
    def imm_lo(self) -> int:
        """Low 32 bits of the immediate, unsigned."""
        return self.imm & 0xFFFFFFFF

    @property
    def imm_hi(self) -> int:
        """High 32 bits of a lddw immediate, unsigned (0 for other instructions)."""
        return (self.imm >> 32) & 0xFFFFFFFF if self.is_lddw else 0

    @property
    def is_call(self) -> bool:
        return self.opcode == (InsnClass.JMP | JmpOp.CALL)

    @property
    def is_pseudo_call(self) -> bool:
        return self.is_call and self.src == CallSrc.PSEUDO_CALL

    @property
    def is_exit(self) -> bool:
        return self.opcode == (InsnClass.JMP | JmpOp.EXIT)

    def with_meta(self, meta: InsnMeta | None) -> Instruction:
        return replace(self, meta=meta)

    def replace(self, **changes: int) -> Instruction:
        """A copy with some encoding fields changed, keeping the metadata."""
        return replace(self, **changes)  # type: ignore[arg-type]


# -- validity --------------------------------------------------------------

_ATOMIC_OPS = frozenset(int(op) for op in AtomicOp)
_ALU_OPS = frozenset(int(op) for op in AluOp)
_JMP_OPS = frozenset(int(op) for op in JmpOp)


def invalid_reason(insn: Instruction) -> str | None:
    """Why ``insn`` is not a valid encoding, or None when it is.

    The rules are RFC 9669's plus the forms the kernel accepts from clang-built
    objects (pseudo lddw sources, kfunc calls, load-acquire/store-release).
    """
    op = insn.opcode
    if not 0 <= op <= 0xFF:
        return f"opcode {op} out of range"
    if not 0 <= insn.dst <= 0xF or not 0 <= insn.src <= 0xF:
        return "register field out of range"
    if insn.dst > MAX_REG:
        return f"bad destination register r{insn.dst}"
    if not -0x8000 <= insn.off <= 0x7FFF:
        return f"offset {insn.off} out of 16-bit range"
    if op == LDDW_OPCODE:
        if not 0 <= insn.imm <= U64_MASK:
            return "64-bit immediate out of range"
        if insn.src not in PseudoSrc.__members__.values():
            return f"unknown lddw source {insn.src}"
        if insn.off != 0:
            return "lddw with non-zero offset"
        return None
    if not -0x80000000 <= insn.imm <= 0x7FFFFFFF:
        return f"immediate {insn.imm} out of 32-bit range"
    cls = op & 0x07
    if cls in (InsnClass.ALU, InsnClass.ALU64):
        return _alu_reason(insn, cls)
    if cls in (InsnClass.JMP, InsnClass.JMP32):
        return _jmp_reason(insn, cls)
    if insn.src > MAX_REG:
        return f"bad source register r{insn.src}"
    mode = op & 0xE0
    size = op & 0x18
    if cls == InsnClass.LD:
        if mode == Mode.ABS and size != Size.DW:
            if insn.src or insn.dst or insn.off:
                return "legacy LD_ABS uses no registers and no offset"
            return None
        if mode == Mode.IND and size != Size.DW:
            if insn.dst or insn.off:
                return "legacy LD_IND uses no destination and no offset"
            return None
        return f"unknown opcode {op:#04x}"
    if cls == InsnClass.LDX:
        if mode == Mode.MEM or (mode == Mode.MEMSX and size != Size.DW):
            return "load with non-zero immediate" if insn.imm else None
        return f"unknown opcode {op:#04x}"
    if cls == InsnClass.ST:
        if mode != Mode.MEM:
            return f"unknown opcode {op:#04x}"
        return "store-immediate with a source register" if insn.src else None
    # STX
    if mode == Mode.MEM:
        return "store with non-zero immediate" if insn.imm else None
    if mode == Mode.ATOMIC:
        if insn.imm not in _ATOMIC_OPS:
            return f"unknown atomic operation {insn.imm:#x}"
        if insn.imm in (AtomicOp.LOAD_ACQ, AtomicOp.STORE_REL):
            return None
        if size not in (Size.W, Size.DW):
            return "atomic operation on 8- or 16-bit memory"
        return None
    return f"unknown opcode {op:#04x}"


def _alu_reason(insn: Instruction, cls: int) -> str | None:
    op = insn.opcode
    code = op & 0xF0
    source = op & 0x08
    if code not in _ALU_OPS:
        return f"unknown ALU operation {op:#04x}"
    if insn.src > MAX_REG:
        return f"bad source register r{insn.src}"
    if code == AluOp.END:
        if cls == InsnClass.ALU64 and source == Source.X:
            return f"unknown opcode {op:#04x}"
        if insn.imm not in (16, 32, 64):
            return f"byte swap width {insn.imm} is not 16, 32 or 64"
        if insn.src or insn.off:
            return "byte swap with a source register or offset"
        return None
    if code == AluOp.NEG:
        if source == Source.X or insn.src or insn.imm or insn.off:
            return "neg takes no operand"
        return None
    if source == Source.K and insn.src:
        return "immediate operand with a non-zero source register"
    if source == Source.X and insn.imm:
        return "register operand with a non-zero immediate"
    if insn.off:
        if code in (AluOp.DIV, AluOp.MOD) and insn.off == 1:
            return None
        if code == AluOp.MOV and source == Source.X:
            allowed = (8, 16, 32) if cls == InsnClass.ALU64 else (8, 16)
            if insn.off in allowed:
                return None
        return f"non-zero offset {insn.off} on ALU operation"
    return None


def _jmp_reason(insn: Instruction, cls: int) -> str | None:
    op = insn.opcode
    code = op & 0xF0
    source = op & 0x08
    if code not in _JMP_OPS:
        return f"unknown jump operation {op:#04x}"
    if code == JmpOp.JA:
        if source or insn.src or insn.dst:
            return "ja with registers"
        if cls == InsnClass.JMP and insn.imm:
            return "ja with non-zero immediate (use the JMP32 form for 32-bit offsets)"
        if cls == InsnClass.JMP32 and insn.off:
            return "ja32 with non-zero offset"
        return None
    if code == JmpOp.JCOND:
        if cls != InsnClass.JMP or source or insn.src or insn.dst or insn.imm:
            return "may_goto takes only an offset"
        return None
    if code in (JmpOp.CALL, JmpOp.EXIT):
        if cls != InsnClass.JMP:
            return f"unknown opcode {op:#04x}"
        if code == JmpOp.EXIT:
            if source or insn.src or insn.dst or insn.off or insn.imm:
                return "exit with operands"
            return None
        if source == Source.X:  # callx: target register in dst
            if insn.src or insn.off or insn.imm:
                return "callx with operands other than its register"
            return None
        if insn.src not in (CallSrc.HELPER, CallSrc.PSEUDO_CALL, CallSrc.KFUNC):
            return f"unknown call source {insn.src}"
        if insn.dst:
            return "call with a destination register"
        if insn.off and insn.src != CallSrc.KFUNC:
            return "call with non-zero offset"
        return None
    if insn.src > MAX_REG:
        return f"bad source register r{insn.src}"
    if source == Source.K and insn.src:
        return "immediate comparison with a non-zero source register"
    if source == Source.X and insn.imm:
        return "register comparison with a non-zero immediate"
    return None
