"""Classify the relocations of program sections, as libbpf's record_reloc does.

Each relocation patches one instruction.  What it means depends on the
instruction and the symbol:

* a call (``src`` = 1) against a function or a code section symbol: a call to
  a subprogram (target slot = symbol value / 8 + imm + 1);
* a lddw against a function or code section: the address of a subprogram, a
  callback for bpf_loop and friends (target slot = (symbol value + imm) / 8);
* a lddw against a symbol in ``.maps`` / ``maps``: a map;
* a lddw against a global-data section or a variable in it: a map value
  (offset = symbol value + imm);
* anything against an undefined symbol: an extern (``.kconfig`` / ``.ksyms``),
  a variable for a lddw, a kfunc for a call.

Applying them needs the final layout, which the linker decides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from ..errors import ObjectParseError
from ..isa.instruction import Instruction
from ..isa.opcodes import CallSrc
from .reader import ElfObject, RelocType, Symbol, SymType


class RelocKind(Enum):
    CALL = "call"
    SUBPROG_ADDR = "subprog_addr"
    MAP = "map"
    DATA = "data"
    EXTERN_LD64 = "extern_ld64"
    EXTERN_CALL = "extern_call"


@dataclass(frozen=True, slots=True)
class InsnReloc:
    """A classified relocation of one instruction.

    ``target``: map, extern or symbol name.  ``section_index``: for CALL and
    SUBPROG_ADDR, the section holding the callee.  ``offset``: the symbol value
    (bytes) for CALL/SUBPROG_ADDR, the variable offset for DATA.
    """

    kind: RelocKind
    target: str
    section_index: int = 0
    offset: int = 0


@dataclass(frozen=True, slots=True)
class MapLocator:
    """Where maps live, for resolving lddw relocations."""

    by_symbol: dict[tuple[int, int], str]
    """(section index, symbol value) of a BTF or legacy map definition -> map name."""
    map_sections: frozenset[int]
    data_maps: dict[int, str]
    """Global-data section index -> map name."""
    externs: frozenset[str]


_ACCEPTED_TYPES = frozenset({RelocType.BPF_64_64, RelocType.BPF_64_32, RelocType.BPF_64_ABS64})


def classify_relocations(
    elf: ElfObject,
    section_index: int,
    index_of_slot: dict[int, int],
    insns: tuple[Instruction, ...],
    maps: MapLocator,
) -> dict[int, InsnReloc]:
    """Relocations of one executable section: section slot -> InsnReloc."""
    sec = elf.sections[section_index]
    out: dict[int, InsnReloc] = {}
    for rel in elf.relocations.get(section_index, ()):
        sym = rel.symbol

        def fail(message: str, *, _off: int = rel.offset) -> ObjectParseError:
            return ObjectParseError(message, section=sec.name, offset=_off)

        if rel.offset % 8 or rel.offset >= len(sec.data):
            raise fail(f"relocation against {sym.name!r} is outside the code")
        if rel.type not in _ACCEPTED_TYPES:
            raise fail(f"unsupported relocation type {rel.type} against {sym.name!r}")
        slot = rel.offset // 8
        idx = index_of_slot.get(slot)
        if idx is None:
            raise fail(f"relocation against {sym.name!r} points into the middle of an instruction")
        if slot in out:
            raise fail("two relocations for one instruction")
        out[slot] = _classify_one(elf, sym, insns[idx], maps, fail)
    return out


def _classify_one(
    elf: ElfObject,
    sym: Symbol,
    insn: Instruction,
    maps: MapLocator,
    fail: Callable[[str], ObjectParseError],
) -> InsnReloc:
    if sym.is_undefined:
        if not sym.name or sym.name not in maps.externs:
            raise fail(f"relocation against undefined symbol {sym.name!r} that is no .kconfig/.ksyms extern")
        if insn.is_call:
            return InsnReloc(RelocKind.EXTERN_CALL, sym.name)
        if insn.is_lddw:
            return InsnReloc(RelocKind.EXTERN_LD64, sym.name)
        raise fail(f"extern {sym.name!r} referenced by instruction code {insn.opcode:#04x}")
    target_sec = elf.sections[sym.shndx] if 0 < sym.shndx < len(elf.sections) else None
    in_code = target_sec is not None and target_sec.is_exec
    if insn.is_call:
        if insn.src != CallSrc.PSEUDO_CALL:
            raise fail(f"relocation against {sym.name!r} on a call that is not a bpf-to-bpf call")
        if not in_code or sym.type not in (SymType.FUNC, SymType.SECTION) or sym.value % 8:
            raise fail(f"bad call relocation against {sym.name!r}")
        return InsnReloc(RelocKind.CALL, sym.name, sym.shndx, sym.value)
    if not insn.is_lddw:
        raise fail(
            f"relocation against {sym.name!r} on instruction code {insn.opcode:#04x} (not lddw or call)"
        )
    if in_code:
        if sym.type not in (SymType.FUNC, SymType.SECTION) or sym.value % 8 or insn.imm_lo % 8:
            raise fail(f"bad function address relocation against {sym.name!r}")
        return InsnReloc(RelocKind.SUBPROG_ADDR, sym.name, sym.shndx, sym.value)
    if sym.shndx in maps.map_sections:
        name = maps.by_symbol.get((sym.shndx, sym.value))
        if name is None:
            raise fail(f"relocation against {sym.name!r} finds no map at offset {sym.value}")
        return InsnReloc(RelocKind.MAP, name, sym.shndx, 0)
    data_map = maps.data_maps.get(sym.shndx)
    if data_map is not None:
        return InsnReloc(RelocKind.DATA, data_map, sym.shndx, sym.value)
    target_name = target_sec.name if target_sec is not None else f"#{sym.shndx}"
    raise fail(
        f"relocation against {sym.name!r} in section {target_name!r}, which holds no map or global data"
    )
