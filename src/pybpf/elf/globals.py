"""Global data (.data, .rodata, .bss and their custom ``.name.*`` variants) and externs.

libbpf turns each non-empty global-data section into a single-entry ARRAY map
(key 4 bytes, value = the section) named ``<object prefix><section>``
(``globals.bss``) or, for custom sections with a second dot, the section name
itself (``.data.custom``), truncated to the kernel's 15 characters.  .rodata is
read-only for programs and frozen after load; a map is mmap-able when its
DATASEC exposes at least one non-static variable.

Externs are undefined global symbols the object declares with ``__kconfig``
(in the ``.kconfig`` DATASEC) or ``__ksym`` (``.ksyms``): values the loader
fills in from the running kernel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import ObjectParseError
from ..object.spec import (
    BPF_F_MMAPABLE,
    BPF_F_RDONLY_PROG,
    ExternKind,
    ExternSpec,
    MapKind,
    MapSpec,
    VariableSpec,
)
from ..uapi import MapType
from .reader import SHT_NOBITS, SHT_PROGBITS, ElfObject, Section, SymBind, SymType

if TYPE_CHECKING:
    from ..btf import BTF

BPF_OBJ_NAME_LEN = 16
MAX_GLOBAL_DATA = 64 << 20
"""Largest global-data section accepted: the kernel caps an array value at KMALLOC_MAX_SIZE
(4 MiB on x86-64), so anything far beyond is a corrupt header, not a program."""
KCONFIG_SEC = ".kconfig"
KSYMS_SEC = ".ksyms"


def global_data_kind(sec: Section) -> MapKind | None:
    """Which kind of global-data map a section becomes (None: not global data)."""
    name = sec.name
    if sec.type == SHT_PROGBITS:
        if name == ".data" or name.startswith(".data."):
            return MapKind.DATA
        if name == ".rodata" or name.startswith(".rodata."):
            return MapKind.RODATA
    if sec.type == SHT_NOBITS and (name == ".bss" or name.startswith(".bss.")):
        return MapKind.BSS
    return None


def internal_map_name(obj_name: str, real_name: str) -> str:
    """libbpf's name for a global-data map (at most 15 characters)."""
    sfx_len = min(max(7, len(real_name)), BPF_OBJ_NAME_LEN - 1)
    custom = "." in real_name[1:]
    pfx_len = 0 if custom else min(BPF_OBJ_NAME_LEN - sfx_len - 1, len(obj_name))
    name = (obj_name[:pfx_len] + real_name[:sfx_len])[: BPF_OBJ_NAME_LEN - 1]
    return "".join(c if (c.isascii() and c.isalnum()) or c in "_." else "_" for c in name)


@dataclass(frozen=True, slots=True)
class GlobalData:
    map: MapSpec
    section: Section
    variables: tuple[VariableSpec, ...]


def _datasec(btf: BTF | None, name: str) -> object | None:
    if btf is None:
        return None
    from ..btf import Kind

    found = btf.find_all(name, Kind.DATASEC)
    return found[0] if found else None


def parse_global_data(elf: ElfObject, btf: BTF | None, obj_name: str) -> list[GlobalData]:
    """Global-data maps in section order, with their variables."""
    from ..btf import Datasec, Var, VarLinkage

    out = []
    for sec in elf.sections:
        kind = global_data_kind(sec)
        if kind is None or sec.size == 0:
            continue
        if sec.size > MAX_GLOBAL_DATA:
            raise ObjectParseError(
                f"global data section of {sec.size} bytes is larger than any map value", section=sec.name
            )
        map_name = internal_map_name(obj_name, sec.name)
        datasec = _datasec(btf, sec.name)
        syms = {
            s.name: s
            for s in elf.symbols
            if s.shndx == sec.index and s.type in (SymType.OBJECT, SymType.NOTYPE) and s.name
        }
        variables: list[VariableSpec] = []
        mmapable = False
        if isinstance(datasec, Datasec) and btf is not None:
            for vs in datasec.vars:
                var = btf[vs.type_id]
                if not isinstance(var, Var):
                    continue
                is_global = var.linkage != VarLinkage.STATIC
                mmapable = mmapable or is_global
                sym = syms.get(var.name)
                offset = sym.value if sym is not None else vs.offset
                size = vs.size or (sym.size if sym is not None else 0)
                variables.append(
                    VariableSpec(var.name, sec.name, map_name, offset, size, var.type_id, is_global)
                )
        else:
            for sym in sorted(syms.values(), key=lambda s: (s.value, s.index)):
                variables.append(
                    VariableSpec(
                        sym.name, sec.name, map_name, sym.value, sym.size, None, sym.bind != SymBind.LOCAL
                    )
                )
        for v in variables:
            if v.offset + v.size > sec.size:
                raise ObjectParseError(
                    f"variable {v.name!r} extends past its section", section=sec.name, offset=v.offset
                )
        flags = BPF_F_RDONLY_PROG if kind is MapKind.RODATA else 0
        if mmapable:
            flags |= BPF_F_MMAPABLE
        data = bytes(sec.size) if kind is MapKind.BSS else sec.data
        spec = MapSpec(
            name=map_name,
            type=MapType.ARRAY,
            key_size=4,
            value_size=sec.size,
            max_entries=1,
            flags=flags,
            kind=kind,
            section=sec.name,
            value_type_id=datasec.id if isinstance(datasec, Datasec) else None,
            data=data,
        )
        out.append(GlobalData(spec, sec, tuple(sorted(variables, key=lambda v: (v.offset, v.name)))))
    return out


def parse_externs(elf: ElfObject, btf: BTF | None) -> dict[str, ExternSpec]:
    """Undefined global symbols, classified by the DATASEC (.kconfig / .ksyms) that lists them."""
    from ..btf import Datasec, Func, Kind, Var

    undefined = [
        s
        for s in elf.symbols
        if s.is_undefined and s.bind in (SymBind.GLOBAL, SymBind.WEAK) and s.type == SymType.NOTYPE and s.name
    ]
    if not undefined:
        return {}
    if btf is None:
        raise ObjectParseError(
            f"extern {undefined[0].name!r} needs BTF to tell .kconfig from .ksyms, and .BTF is missing"
        )
    where: dict[str, tuple[ExternKind, int, bool]] = {}
    for sec_name, kind in ((KCONFIG_SEC, ExternKind.KCONFIG), (KSYMS_SEC, ExternKind.KSYM)):
        ds = _datasec(btf, sec_name)
        if not isinstance(ds, Datasec):
            continue
        for vs in ds.vars:
            t = btf[vs.type_id]
            if isinstance(t, Var | Func):
                where[t.name] = (kind, t.id, isinstance(t, Func))
    out: dict[str, ExternSpec] = {}
    for sym in undefined:
        found = where.get(sym.name)
        if found is None:
            # kfuncs are not always listed in .ksyms: an extern FUNC of that name is one
            funcs = [t for t in btf.find_all(sym.name, Kind.FUNC) if isinstance(t, Func)]
            if not funcs:
                raise ObjectParseError(
                    f"extern {sym.name!r} is in neither the .kconfig nor the .ksyms DATASEC"
                )
            found = (ExternKind.KSYM, funcs[0].id, True)
        kind, type_id, is_func = found
        out[sym.name] = ExternSpec(sym.name, kind, type_id, weak=sym.bind == SymBind.WEAK, is_func=is_func)
    return out
