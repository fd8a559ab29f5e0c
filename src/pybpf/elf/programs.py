"""Split executable sections into functions, the units libbpf links.

Every STT_FUNC symbol in an executable section is a function: global ones in a
program section are entry points (programs); everything in ``.text`` and the
static functions elsewhere are subprograms that programs may call.  A function
keeps its instructions as decoded from the section plus, per slot, the
relocation that patches it.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from ..errors import InvalidInstructionError, ObjectParseError
from ..isa.codec import decode
from ..isa.instruction import Instruction
from .reader import ElfObject, Section, SymBind, SymType
from .relocations import InsnReloc

TEXT = ".text"


@dataclass(frozen=True, slots=True)
class Function:
    """One function of a section.

    ``start``/``end`` are slot indexes in the section; ``insns`` are its logical
    instructions and ``slots`` their slot offsets from ``start``.
    """

    name: str
    section: Section
    start: int
    end: int
    insns: tuple[Instruction, ...]
    slots: tuple[int, ...]
    is_global: bool
    weak: bool
    relocs: dict[int, InsnReloc] = field(default_factory=dict, compare=False)
    """Relocation per slot offset from ``start``."""

    @property
    def key(self) -> tuple[int, int]:
        return (self.section.index, self.start)

    @property
    def nslots(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class SectionCode:
    """A decoded executable section: instructions and where each starts."""

    section: Section
    insns: tuple[Instruction, ...]
    slots: tuple[int, ...]
    index_of_slot: dict[int, int]


def decode_section(sec: Section) -> SectionCode:
    if len(sec.data) % 8:
        raise ObjectParseError(
            f"code size {len(sec.data)} is not a multiple of 8", section=sec.name, offset=len(sec.data)
        )
    try:
        insns = decode(sec.data, validate=False)
    except InvalidInstructionError as exc:
        raise ObjectParseError(f"bad instruction: {exc}", section=sec.name, offset=exc.index * 8) from exc
    slots = []
    pc = 0
    for insn in insns:
        slots.append(pc)
        pc += insn.width
    return SectionCode(sec, tuple(insns), tuple(slots), {s: i for i, s in enumerate(slots)})


def split_functions(
    elf: ElfObject, code: SectionCode, relocs: dict[int, InsnReloc] | None = None
) -> list[Function]:
    """The functions of one section, by start offset; boundaries must not split a lddw.

    ``relocs`` (section slot -> relocation) are distributed to the functions;
    code outside every function may carry none.
    """
    relocs = relocs or {}
    sec = code.section
    syms = sorted(
        (s for s in elf.symbols if s.shndx == sec.index and s.type == SymType.FUNC),
        key=lambda s: (s.value, s.index),
    )
    out: list[Function] = []
    total = len(sec.data) // 8
    prev_end = 0
    for sym in syms:
        if sym.value % 8 or sym.size % 8:
            raise ObjectParseError(
                f"function {sym.name!r} is not 8-byte aligned", section=sec.name, offset=sym.value
            )
        start, nslots = sym.value // 8, sym.size // 8
        if nslots == 0:
            raise ObjectParseError(f"function {sym.name!r} is empty", section=sec.name, offset=sym.value)
        end = start + nslots
        if end > total:
            raise ObjectParseError(
                f"function {sym.name!r} extends past the end of its section",
                section=sec.name,
                offset=sym.value,
            )
        if start < prev_end:
            raise ObjectParseError(
                f"function {sym.name!r} overlaps the previous function", section=sec.name, offset=sym.value
            )
        first = code.index_of_slot.get(start)
        if first is None or (end < total and end not in code.index_of_slot):
            raise ObjectParseError(
                f"function {sym.name!r} boundary splits a 64-bit immediate load",
                section=sec.name,
                offset=sym.value,
            )
        last = code.index_of_slot[end] if end < total else len(code.insns)
        out.append(
            Function(
                name=sym.name,
                section=sec,
                start=start,
                end=end,
                insns=code.insns[first:last],
                slots=tuple(s - start for s in code.slots[first:last]),
                is_global=sym.bind in (SymBind.GLOBAL, SymBind.WEAK),
                weak=sym.bind == SymBind.WEAK,
                relocs={slot - start: r for slot, r in relocs.items() if start <= slot < end},
            )
        )
        prev_end = end
    covered = sum(f.nslots for f in out)
    if len(relocs) > sum(len(f.relocs) for f in out) and covered < total:
        stray = min(s for s in relocs if not any(f.start <= s < f.end for f in out))
        raise ObjectParseError(
            "relocation in code that belongs to no function", section=sec.name, offset=stray * 8
        )
    return out


class FunctionIndex:
    """Functions of all executable sections, searchable by (section, slot)."""

    def __init__(self, functions: list[Function]) -> None:
        self._by_section: dict[int, list[Function]] = {}
        for fn in functions:
            self._by_section.setdefault(fn.section.index, []).append(fn)
        self._starts = {k: [f.start for f in v] for k, v in self._by_section.items()}

    def containing(self, section_index: int, slot: int) -> Function | None:
        starts = self._starts.get(section_index)
        if not starts:
            return None
        i = bisect.bisect_right(starts, slot) - 1
        if i < 0:
            return None
        fn = self._by_section[section_index][i]
        return fn if fn.start <= slot < fn.end else None

    def at(self, section_index: int, slot: int) -> Function | None:
        fn = self.containing(section_index, slot)
        return fn if fn is not None and fn.start == slot else None
