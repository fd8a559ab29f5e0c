"""Link a program with the subprograms it reaches, in libbpf's order.

libbpf appends to each entry program every subprogram it calls or takes the
address of, the first time it meets the reference while walking the code (and
walks the appended code at once, depth first), then rewrites each call and
callback offset relative to the new layout.  Each program thus carries its own
copy of the subprograms, possibly in a different order than another program.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import ObjectParseError
from ..isa.instruction import Instruction
from ..isa.opcodes import CallSrc, PseudoSrc
from .programs import Function, FunctionIndex
from .relocations import InsnReloc, RelocKind


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a function landed in a linked program (slot index)."""

    function: Function
    start: int


@dataclass(frozen=True, slots=True)
class LinkedCode:
    insns: tuple[Instruction, ...]
    references: tuple[str | None, ...]
    """Per instruction: the name a relocation points it at (map, extern, function)."""
    layout: tuple[Placement, ...]


@dataclass(slots=True)
class _Frame:
    fn: Function
    base: int
    next: int = 0


RewriteData = Callable[[Instruction, InsnReloc], Instruction]


def _s32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def _call_target(
    fn: Function, insn: Instruction, local: int, rel: InsnReloc | None, index: FunctionIndex
) -> Function:
    if rel is None:
        section, slot = fn.section.index, fn.start + local + insn.imm + 1
    elif rel.kind is RelocKind.CALL:
        section, slot = rel.section_index, rel.offset // 8 + insn.imm + 1
    else:  # SUBPROG_ADDR: byte offset in the section
        section, slot = rel.section_index, (rel.offset + _s32(insn.imm_lo)) // 8
    target = index.at(section, slot)
    if target is None:
        raise ObjectParseError(
            f"{fn.name}: call or function address to slot {slot}, where no function starts",
            section=fn.section.name,
            offset=(fn.start + local) * 8,
        )
    return target


def link_program(main: Function, index: FunctionIndex, rewrite_data: RewriteData) -> LinkedCode:
    """``main`` followed by its reachable subprograms, offsets fixed, data relocations applied."""
    insns: list[Instruction] = []
    refs: list[str | None] = []
    layout: list[Placement] = []
    placed: dict[tuple[int, int], int] = {}
    slots_used = 0

    def append(fn: Function) -> int:
        nonlocal slots_used
        placed[fn.key] = slots_used
        layout.append(Placement(fn, slots_used))
        base = len(insns)
        insns.extend(fn.insns)
        refs.extend([None] * len(fn.insns))
        slots_used += fn.nslots
        return base

    # explicit stack instead of recursion: deep call chains must not hit Python's limit
    stack = [_Frame(main, append(main))]
    while stack:
        frame = stack[-1]
        fn, base, i = frame.fn, frame.base, frame.next
        if i >= len(fn.insns):
            stack.pop()
            continue
        frame.next = i + 1
        insn = fn.insns[i]
        local = fn.slots[i]
        rel = fn.relocs.get(local)
        is_code_ref = (rel is not None and rel.kind in (RelocKind.CALL, RelocKind.SUBPROG_ADDR)) or (
            rel is None and insn.is_pseudo_call
        )
        if not is_code_ref:
            if rel is not None:
                insns[base + i] = rewrite_data(insn, rel)
                refs[base + i] = rel.target
            continue
        target = _call_target(fn, insn, local, rel, index)
        pushed = target.key not in placed
        if pushed:
            target_base = append(target)
        offset = placed[target.key] - (placed[fn.key] + local) - 1
        if insn.is_lddw:
            insns[base + i] = Instruction(
                insn.opcode, insn.dst, PseudoSrc.FUNC, insn.off, offset & 0xFFFFFFFF
            )
        else:
            insns[base + i] = Instruction(insn.opcode, insn.dst, CallSrc.PSEUDO_CALL, insn.off, offset)
        refs[base + i] = target.name
        if pushed:
            stack.append(_Frame(target, target_base))
    return LinkedCode(tuple(insns), tuple(refs), tuple(layout))
