"""Read a BPF ELF relocatable object into plain frozen data.

pyelftools does the ELF decoding; this module is the only place that touches it.
Everything is read eagerly inside one guarded region so that whatever a corrupt
file makes pyelftools raise becomes an :class:`ObjectParseError` naming the
section and offset, and the layers above work on plain, validated data.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from enum import IntEnum

from ..errors import NotSupportedError, ObjectParseError

EM_BPF = 247
ET_REL = 1

SHT_PROGBITS = 1
SHT_SYMTAB = 2
SHT_REL = 9
SHT_NOBITS = 8
SHF_WRITE = 0x1
SHF_ALLOC = 0x2
SHF_EXECINSTR = 0x4

SHN_UNDEF = 0
SHN_ABS = 0xFFF1
SHN_COMMON = 0xFFF2


class SymType(IntEnum):
    NOTYPE = 0
    OBJECT = 1
    FUNC = 2
    SECTION = 3
    FILE = 4
    COMMON = 5
    TLS = 6


class SymBind(IntEnum):
    LOCAL = 0
    GLOBAL = 1
    WEAK = 2


class Visibility(IntEnum):
    DEFAULT = 0
    INTERNAL = 1
    HIDDEN = 2
    PROTECTED = 3


class RelocType(IntEnum):
    """R_BPF_* relocation types."""

    NONE = 0
    BPF_64_64 = 1
    BPF_64_ABS64 = 2
    BPF_64_ABS32 = 3
    BPF_64_NODYLD32 = 4
    BPF_64_32 = 10


@dataclass(frozen=True, slots=True)
class Section:
    index: int
    name: str
    type: int
    flags: int
    size: int
    data: bytes
    """Contents; empty for SHT_NOBITS (``.bss``), whose ``size`` is still set."""
    link: int
    info: int
    addralign: int

    @property
    def is_exec(self) -> bool:
        return self.type == SHT_PROGBITS and bool(self.flags & SHF_EXECINSTR)

    @property
    def is_nobits(self) -> bool:
        return self.type == SHT_NOBITS


@dataclass(frozen=True, slots=True)
class Symbol:
    index: int
    name: str
    """Section symbols (which have no name) get the name of their section."""
    value: int
    size: int
    type: int
    bind: int
    visibility: int
    shndx: int

    @property
    def is_global(self) -> bool:
        return self.bind in (SymBind.GLOBAL, SymBind.WEAK)

    @property
    def is_undefined(self) -> bool:
        return self.shndx == SHN_UNDEF


@dataclass(frozen=True, slots=True)
class Relocation:
    offset: int
    type: int
    symbol: Symbol


@dataclass(frozen=True, slots=True)
class ElfObject:
    """The parts of a BPF object file that libbpf reads."""

    sections: tuple[Section, ...]
    symbols: tuple[Symbol, ...]
    relocations: dict[int, tuple[Relocation, ...]]
    """Relocations by the index of the section they patch."""

    def section(self, name: str) -> Section | None:
        for sec in self.sections:
            if sec.name == name:
                return sec
        return None


def _pyelftools_errors() -> tuple[type[BaseException], ...]:
    from elftools.common.exceptions import ELFError

    errors: list[type[BaseException]] = [
        ELFError,
        struct.error,
        ValueError,
        KeyError,
        IndexError,
        TypeError,
        AttributeError,
        OverflowError,
        EOFError,
        UnicodeDecodeError,
        RecursionError,
        MemoryError,
        OSError,
    ]
    try:
        from elftools.construct.core import ConstructError

        errors.append(ConstructError)
    except ImportError:  # pragma: no cover - older pyelftools layouts
        pass
    try:
        from elftools.common.exceptions import ELFParseError

        errors.append(ELFParseError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors)


def _check_header(data: bytes) -> None:
    """Reject what is not a 64-bit BPF relocatable before pyelftools sees it."""
    if len(data) < 64:
        raise ObjectParseError(f"file too short for an ELF header ({len(data)} bytes)", offset=0)
    if data[:4] != b"\x7fELF":
        raise ObjectParseError("not an ELF file (bad magic)", offset=0)
    if data[4] != 2:
        raise ObjectParseError(f"ELF class {data[4]} is not ELFCLASS64", offset=4)
    if data[5] not in (1, 2):
        raise ObjectParseError(f"bad ELF data encoding {data[5]}", offset=5)
    endian = "<" if data[5] == 1 else ">"
    e_type, e_machine = struct.unpack_from(endian + "HH", data, 16)
    if e_machine != EM_BPF:
        raise ObjectParseError(f"e_machine {e_machine} is not EM_BPF ({EM_BPF})", offset=18)
    if data[5] == 2:
        raise NotSupportedError("big-endian BPF objects are not supported (built with -target bpfeb)")
    if e_type != ET_REL:
        raise ObjectParseError(f"ELF type {e_type} is not a relocatable object (ET_REL)", offset=16)


def read_elf(data: bytes) -> ElfObject:
    """Parse ``data``; raise ObjectParseError/NotSupportedError, never anything else."""
    _check_header(data)
    from elftools.elf.elffile import ELFFile

    errors = _pyelftools_errors()
    where: str | None = None
    try:
        elf = ELFFile(io.BytesIO(data))
        sections = []
        nsec = elf.num_sections()
        if nsec > 0xFF00:
            raise ObjectParseError(f"implausible section count {nsec}", offset=0x3C)
        for index in range(nsec):
            sec = elf.get_section(index)
            hdr = sec.header
            name = sec.name
            where = name or f"#{index}"
            sh_type = _enum_int(hdr["sh_type"], _SHT)
            size = int(hdr["sh_size"])
            if sh_type == SHT_NOBITS or index == 0:
                body = b""
            else:
                start = int(hdr["sh_offset"])
                if start + size > len(data):
                    raise ObjectParseError(
                        f"section data [{start:#x}, {start + size:#x}) extends past end of file "
                        f"({len(data):#x})",
                        section=where,
                        offset=start,
                    )
                body = data[start : start + size]
            sections.append(
                Section(
                    index=index,
                    name=name,
                    type=sh_type,
                    flags=int(hdr["sh_flags"]),
                    size=size,
                    data=body,
                    link=int(hdr["sh_link"]),
                    info=int(hdr["sh_info"]),
                    addralign=int(hdr["sh_addralign"]),
                )
            )
        where = None
        symtabs = [s for s in sections if s.type == SHT_SYMTAB]
        if not symtabs:
            raise ObjectParseError("object has no symbol table (.symtab)")
        symbols = _read_symbols(elf, symtabs[0], sections)
        relocations = _read_relocations(elf, sections, symbols, symtabs[0].index)
    except ObjectParseError:
        raise
    except errors as exc:
        raise ObjectParseError(f"corrupt ELF: {type(exc).__name__}: {exc}", section=where) from exc
    return ElfObject(tuple(sections), symbols, relocations)


_SHT = {
    "SHT_NULL": 0,
    "SHT_PROGBITS": 1,
    "SHT_SYMTAB": 2,
    "SHT_STRTAB": 3,
    "SHT_RELA": 4,
    "SHT_HASH": 5,
    "SHT_DYNAMIC": 6,
    "SHT_NOTE": 7,
    "SHT_NOBITS": 8,
    "SHT_REL": 9,
    "SHT_SHLIB": 10,
    "SHT_DYNSYM": 11,
}
_STT = {f"STT_{t.name}": int(t) for t in SymType}
_STB = {f"STB_{b.name}": int(b) for b in SymBind}
_STV = {f"STV_{v.name}": int(v) for v in Visibility}
_SHN = {"SHN_UNDEF": SHN_UNDEF, "SHN_ABS": SHN_ABS, "SHN_COMMON": SHN_COMMON}


def _enum_int(value: object, table: dict[str, int]) -> int:
    """pyelftools spells known enum values as strings and unknown ones as ints."""
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        if value in table:
            return table[value]
        # e.g. "SHT_LLVM_ADDRSIG": a name we do not care about; keep it distinct
        return -1 - (sum(value.encode()) & 0xFFFF)
    raise ObjectParseError(f"unexpected ELF field value {value!r}")


def _read_symbols(elf: object, symtab: Section, sections: list[Section]) -> tuple[Symbol, ...]:
    sec = elf.get_section(symtab.index)  # type: ignore[attr-defined]
    out = []
    for index in range(sec.num_symbols()):
        sym = sec.get_symbol(index)
        info = sym["st_info"]
        shndx = _enum_int(sym["st_shndx"], _SHN)
        stype = _enum_int(info["type"], _STT)
        name = sym.name
        if stype == SymType.SECTION and not name and 0 < shndx < len(sections):
            name = sections[shndx].name
        out.append(
            Symbol(
                index=index,
                name=name,
                value=int(sym["st_value"]),
                size=int(sym["st_size"]),
                type=stype,
                bind=_enum_int(info["bind"], _STB),
                visibility=_enum_int(sym["st_other"]["visibility"], _STV),
                shndx=shndx,
            )
        )
    return tuple(out)


def _read_relocations(
    elf: object, sections: list[Section], symbols: tuple[Symbol, ...], symtab_index: int
) -> dict[int, tuple[Relocation, ...]]:
    """REL sections that patch allocated sections (programs, .maps); debug ones are skipped."""
    out: dict[int, tuple[Relocation, ...]] = {}
    for rel in sections:
        if rel.type != SHT_REL:
            continue
        target = rel.info
        if not 0 < target < len(sections):
            raise ObjectParseError(f"relocation section targets bad section index {target}", section=rel.name)
        if not sections[target].flags & SHF_ALLOC:
            continue  # .rel.BTF, .rel.BTF.ext, .rel.debug_*: not needed to load
        if rel.link != symtab_index:
            raise ObjectParseError("relocation section does not use .symtab", section=rel.name)
        if len(rel.data) % 16:
            raise ObjectParseError("relocation section size is not a multiple of 16", section=rel.name)
        entries = []
        for off in range(0, len(rel.data), 16):
            r_offset, r_info = struct.unpack_from("<QQ", rel.data, off)
            sym_index = r_info >> 32
            if sym_index >= len(symbols):
                raise ObjectParseError(
                    f"relocation refers to symbol #{sym_index} of {len(symbols)}",
                    section=rel.name,
                    offset=off,
                )
            entries.append(Relocation(r_offset, r_info & 0xFFFFFFFF, symbols[sym_index]))
        if target in out:
            raise ObjectParseError("two relocation sections for one section", section=rel.name)
        out[target] = tuple(entries)
    return out
