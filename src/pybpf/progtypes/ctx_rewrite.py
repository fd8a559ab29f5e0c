"""Load-time checking and rewriting of context accesses, as the kernel does.

The kernel verifier knows which registers hold the context pointer; for every
load or store through one it asks the program type whether the access is valid
(``is_valid_access``) and then rewrites it (``convert_ctx_access``): a 32-bit load
of ``xdp_md.data`` becomes a 64-bit load of ``xdp_buff->data``.

pybpf does the same with a small forward data-flow analysis that tracks only
what matters here: which registers and 8-byte stack slots hold the unmodified
context pointer.  An access through the context must be valid for the program
type, or the program is rejected with a :class:`~pybpf.errors.VerifierError`
naming the instruction.  Loads of pointer members are rewritten into 64-bit
loads of the member's pointer slot (see :class:`~pybpf.progtypes.base.CtxLayout`).
Rewriting keeps the instruction count, so no jump needs fixing.

The same pass rejects what the kernel rejects per type before running anything:
helpers outside the type's set and legacy LD_ABS/LD_IND where the type has no skb.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from ..errors import VerifierError
from ..isa.disasm import format_insn
from ..isa.instruction import Instruction
from ..isa.opcodes import (
    LDDW_OPCODE,
    AluOp,
    CallSrc,
    InsnClass,
    JmpOp,
    Mode,
    PseudoSrc,
    Size,
    Source,
)
from ..uapi import HELPER_NAMES
from .base import CtxField, CtxLayout, ProgTypeSpec

FP = 10


class Ptr(Enum):
    """Abstract value of a register or stack slot (only what concerns the context)."""

    CTX = "ctx"  # the context pointer, unmodified
    MODIFIED = "modified ctx"  # ctx plus some offset: may not be dereferenced
    MIXED = "ctx or not"  # ctx on some paths only: may not be dereferenced


Value = Ptr | None  # None: anything that is not the context

_SIZE_BYTES = {Size.B: 1, Size.H: 2, Size.W: 4, Size.DW: 8}


def _join(a: Value, b: Value) -> Value:
    if a is b:
        return a
    if {a, b} == {Ptr.CTX, Ptr.MODIFIED}:
        return Ptr.MODIFIED
    return Ptr.MIXED


@dataclass(frozen=True, slots=True)
class _State:
    regs: tuple[Value, ...]
    stack: frozenset[tuple[int, Ptr]]  # (fp offset, value) of spilled context pointers

    def join(self, other: _State) -> _State:
        regs = tuple(_join(a, b) for a, b in zip(self.regs, other.regs, strict=True))
        mine = dict(self.stack)
        theirs = dict(other.stack)
        stack: dict[int, Ptr] = {}
        for off in mine.keys() | theirs.keys():
            joined = _join(mine.get(off), theirs.get(off))
            if joined is not None:
                stack[off] = joined
        return _State(regs, frozenset(stack.items()))

    def set(self, reg: int, value: Value) -> _State:
        regs = list(self.regs)
        regs[reg] = value
        return _State(tuple(regs), self.stack)

    def clobber_calls(self) -> _State:
        regs = (None,) * 6 + self.regs[6:]
        return _State(regs, self.stack)


_EMPTY = _State((None,) * 11, frozenset())


def ctx_error(index: int, insn: Instruction, reason: str) -> VerifierError:
    """A VerifierError naming the offending instruction the way the kernel log does."""
    text = format_insn(insn, "kernel")
    return VerifierError(f"insn {index} ({text}): {reason}", f"{index}: {text}\n{reason}\n")


def check_ctx_access(
    layout: CtxLayout, off: int, size: int, *, write: bool, signed: bool = False
) -> str | None:
    """Why a ``size``-byte access at ``off`` of the context is invalid, or None when it is valid."""
    base = f"invalid bpf_context access off={off} size={size}"
    if off < layout.min_offset or off + size > layout.size or off < 0:
        return f"{base} (outside {layout.name})"
    if off % size:
        return f"{base} (misaligned)"
    member = layout.field_at(off)
    if member is None:
        return f"{base} (padding of {layout.name})"
    if off + size > member.end:
        return f"{base} (crosses the end of {member.name})"
    where = f"{layout.name}.{member.name}"
    if write:
        if not member.writable:
            return f"{base} ({where} is read-only for this program type)"
        if not member.any_size and size != member.elem_size:
            return f"{base} ({where} must be written with a {member.elem_size}-byte store)"
        return None
    if not member.readable:
        return f"{base} ({where} is not accessible to this program type)"
    if member.kind.is_pointer:
        if size != member.elem_size or signed:
            return f"{base} ({where} is a pointer: load it with a {member.elem_size}-byte load)"
        return None
    if member.any_size:
        return None
    within = (off - member.offset) % member.elem_size
    if member.narrow_read:
        if within + size > member.elem_size:
            return f"{base} (crosses an element of {where})"
        return None
    if size != member.elem_size:
        return f"{base} ({where} must be read with a {member.elem_size}-byte load)"
    return None


def _mem_operands(insn: Instruction) -> tuple[int, int, bool] | None:
    """(base register, size, is_write) of a memory access instruction, else None."""
    cls = insn.opcode & 0x07
    mode = insn.opcode & 0xE0
    size = _SIZE_BYTES[Size(insn.opcode & 0x18)]
    if cls == InsnClass.LDX and mode in (Mode.MEM, Mode.MEMSX):
        return insn.src, size, False
    if cls == InsnClass.ST and mode == Mode.MEM:
        return insn.dst, size, True
    if cls == InsnClass.STX and mode in (Mode.MEM, Mode.ATOMIC):
        return insn.dst, size, True
    return None


class _Analysis:
    def __init__(self, insns: Sequence[Instruction], spec: ProgTypeSpec, check_helpers: bool) -> None:
        self.insns = insns
        self.spec = spec
        self.check_helpers = check_helpers
        self.slot_of: list[int] = []
        pc = 0
        for insn in insns:
            self.slot_of.append(pc)
            pc += insn.width
        self.index_of = {slot: i for i, slot in enumerate(self.slot_of)}
        self.states: list[_State | None] = [None] * len(insns)
        self.rewritten: dict[int, Instruction] = {}
        #: The end of the furthest context access (the kernel's ``aux->max_ctx_offset``).
        self.ctx_end = 0

    def target(self, i: int, rel: int) -> int:
        slot = self.slot_of[i] + 1 + rel
        index = self.index_of.get(slot)
        if index is None:
            raise ctx_error(i, self.insns[i], f"jump out of range or into the middle of lddw (slot {slot})")
        return index

    def run(self) -> list[Instruction]:
        if not self.insns:
            return []
        entry = _EMPTY.set(1, Ptr.CTX)
        work: list[int] = []
        self._merge(0, entry, work)
        for i, insn in enumerate(self.insns):  # callbacks (bpf_loop etc.): r1 is not the context
            if insn.opcode == LDDW_OPCODE and insn.src == PseudoSrc.FUNC:
                rel = insn.imm_lo - (1 << 32) if insn.imm_lo & 0x80000000 else insn.imm_lo
                self._merge(self.target(i, rel), _EMPTY, work)
        while work:
            i = work.pop()
            state = self.states[i]
            if state is None:
                continue
            for succ, out in self._step(i, state):
                self._merge(succ, out, work)
        result = list(self.insns)
        for i, insn in self.rewritten.items():
            result[i] = insn
        return result

    def _merge(self, i: int, state: _State, work: list[int]) -> None:
        if i >= len(self.insns):
            return
        old = self.states[i]
        new = state if old is None else old.join(state)
        if new != old:
            self.states[i] = new
            work.append(i)

    def _step(self, i: int, s: _State) -> list[tuple[int, _State]]:
        insn = self.insns[i]
        op = insn.opcode
        cls = op & 0x07
        nxt = i + 1
        if op == LDDW_OPCODE:
            return [(nxt, s.set(insn.dst, None))]
        if cls in (InsnClass.ALU, InsnClass.ALU64):
            return [(nxt, s.set(insn.dst, self._alu(insn, s, cls == InsnClass.ALU64)))]
        if cls in (InsnClass.JMP, InsnClass.JMP32):
            return self._jump(i, insn, s)
        if cls == InsnClass.LD:  # legacy LD_ABS / LD_IND
            if not self.spec.ld_abs:
                raise ctx_error(i, insn, "BPF_LD_[ABS|IND] instructions not allowed for this program type")
            return [(nxt, s.clobber_calls())]
        operands = _mem_operands(insn)
        if operands is None:
            return [(nxt, s)]
        base, size, write = operands
        self._check_access(i, insn, s.regs[base], size, write)
        if base == FP:
            return [(nxt, self._stack(insn, s, size, write))]
        if cls == InsnClass.LDX:
            return [(nxt, s.set(insn.dst, None))]
        if cls == InsnClass.STX and (op & 0xE0) == Mode.ATOMIC and insn.imm & 0x01:  # fetch forms write src
            return [(nxt, s.set(0 if insn.imm == 0xF1 else insn.src, None))]
        return [(nxt, s)]

    def _alu(self, insn: Instruction, s: _State, is64: bool) -> Value:
        if not is64:
            return None
        code = insn.opcode & 0xF0
        by_reg = (insn.opcode & 0x08) == Source.X
        if code == AluOp.MOV:
            return s.regs[insn.src] if by_reg and insn.off == 0 else None
        current = s.regs[insn.dst]
        if current is None or code not in (AluOp.ADD, AluOp.SUB):
            return None
        if not by_reg and insn.imm == 0:
            return current
        return Ptr.MIXED if current is Ptr.MIXED else Ptr.MODIFIED

    def _jump(self, i: int, insn: Instruction, s: _State) -> list[tuple[int, _State]]:
        code = insn.opcode & 0xF0
        cls = insn.opcode & 0x07
        if code == JmpOp.EXIT:
            return []
        if code == JmpOp.CALL:
            if insn.src == CallSrc.PSEUDO_CALL and (insn.opcode & 0x08) == Source.K:
                callee = self.target(i, insn.imm)
                entry = _State(s.regs[:6] + (None,) * 4 + (None,), frozenset())
                return [(callee, entry), (i + 1, s.clobber_calls())]
            if insn.src == CallSrc.HELPER and (insn.opcode & 0x08) == Source.K and self.check_helpers:
                self._check_helper(i, insn)
            return [(i + 1, s.clobber_calls())]
        if code == JmpOp.JA:
            rel = insn.imm if cls == InsnClass.JMP32 else insn.off
            return [(self.target(i, rel), s)]
        return [(i + 1, s), (self.target(i, insn.off), s)]

    def _check_helper(self, i: int, insn: Instruction) -> None:
        if self.spec.allows_helper(insn.imm):
            return
        name = HELPER_NAMES[insn.imm] if 0 < insn.imm < len(HELPER_NAMES) else "unknown"
        raise ctx_error(
            i,
            insn,
            f"program of type {self.spec.prog_type.uapi_name} cannot call helper bpf_{name}#{insn.imm}",
        )

    def _stack(self, insn: Instruction, s: _State, size: int, write: bool) -> _State:
        cls = insn.opcode & 0x07
        if not write:
            value = dict(s.stack).get(insn.off) if size == 8 else None
            return s.set(insn.dst, value)
        stored: Value = None
        if cls == InsnClass.STX and size == 8 and (insn.opcode & 0xE0) == Mode.MEM:
            stored = s.regs[insn.src]
        lo, hi = insn.off, insn.off + size
        kept = {(off, v) for off, v in s.stack if off + 8 <= lo or off >= hi}
        if stored is not None:
            kept.add((insn.off, stored))
        new = _State(s.regs, frozenset(kept))
        if cls == InsnClass.STX and (insn.opcode & 0xE0) == Mode.ATOMIC and insn.imm & 0x01:
            new = new.set(0 if insn.imm == 0xF1 else insn.src, None)
        return new

    def _check_access(self, i: int, insn: Instruction, base: Value, size: int, write: bool) -> None:
        if base is None:
            return
        reg = insn.src if (insn.opcode & 0x07) == InsnClass.LDX else insn.dst
        if base is Ptr.MODIFIED:
            raise ctx_error(i, insn, f"dereference of modified ctx ptr R{reg} off={insn.off} disallowed")
        if base is Ptr.MIXED:
            raise ctx_error(
                i,
                insn,
                f"R{reg} is the context on some paths only: same insn cannot be used with different pointers",
            )
        cls = insn.opcode & 0x07
        mode = insn.opcode & 0xE0
        if cls == InsnClass.STX and mode == Mode.ATOMIC:
            raise ctx_error(i, insn, f"BPF_ATOMIC stores into R{reg} ctx is not allowed")
        layout = self.spec.ctx
        reason = check_ctx_access(layout, insn.off, size, write=write, signed=mode == Mode.MEMSX)
        if reason is not None:
            raise ctx_error(i, insn, reason)
        self.ctx_end = max(self.ctx_end, insn.off + size)
        member = layout.field_at(insn.off)
        if member is not None and member.kind.is_pointer and not write:
            self.rewritten[i] = _pointer_load(insn, layout, member)


def _pointer_load(insn: Instruction, layout: CtxLayout, member: CtxField) -> Instruction:
    return Instruction(
        InsnClass.LDX | Mode.MEM | Size.DW, insn.dst, insn.src, layout.shadow_offset(member), 0, insn.meta
    )


@dataclass(frozen=True, slots=True)
class CtxCheck:
    """A checked program: its rewritten instructions and how far into the context it reads.

    ``ctx_end`` is the kernel's ``max_ctx_offset``: a raw_tracepoint test run refuses
    a ``ctx_in`` shorter than that.
    """

    insns: list[Instruction]
    ctx_end: int


def check_ctx_access_all(
    insns: Sequence[Instruction], spec: ProgTypeSpec, *, check_helpers: bool = True
) -> CtxCheck:
    """Check every context access of a linked program and rewrite pointer loads.

    The result has the rewritten instruction list (same length and slot layout).
    Raises VerifierError for an access the program type forbids, a dereference of
    a modified context pointer, LD_ABS where the type has no skb, and (with
    ``check_helpers``) a call to a helper outside the type's set.
    """
    analysis = _Analysis(insns, spec, check_helpers)
    return CtxCheck(analysis.run(), analysis.ctx_end)


def rewrite_ctx_access(
    insns: Sequence[Instruction], spec: ProgTypeSpec, *, check_helpers: bool = True
) -> list[Instruction]:
    """:func:`check_ctx_access_all`, keeping only the rewritten instructions."""
    return check_ctx_access_all(insns, spec, check_helpers=check_helpers).insns
