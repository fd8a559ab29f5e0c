"""Bytes -> ObjectSpec, the way libbpf opens an object (bpf_object__open).

Order of work: ELF, BTF and BTF.ext; maps (legacy, BTF-defined, global data)
and externs; code sections split into functions with their relocations
classified; then each entry program is linked with its subprograms, and gets
its func_info, line_info and CO-RE relocations remapped to the linked layout.
"""

from __future__ import annotations

import struct
from dataclasses import replace
from typing import TYPE_CHECKING

from ..elf.globals import parse_externs, parse_global_data
from ..elf.linker import LinkedCode, link_program
from ..elf.maps import MapDefinition, attach_initial_values, parse_btf_maps, parse_legacy_maps
from ..elf.programs import TEXT, Function, FunctionIndex, decode_section, split_functions
from ..elf.reader import ElfObject, read_elf
from ..elf.relocations import InsnReloc, MapLocator, RelocKind, classify_relocations
from ..elf.sections import lookup_section, parse_attach_target
from ..elf.struct_ops import parse_struct_ops
from ..errors import ObjectParseError
from ..isa.instruction import InsnMeta, Instruction, LineInfo
from ..isa.opcodes import CallSrc, PseudoSrc
from .btfext import load_btf, load_btf_ext
from .spec import (
    ExternKind,
    ExternSpec,
    FuncInfo,
    MapSpec,
    ObjectSpec,
    ProgramSpec,
    VariableSpec,
)

if TYPE_CHECKING:
    from ..btf import BTF
    from ..btf.ext import BTFExt, CORERelo
    from ..elf.sections import SecDef

LICENSE_SEC = "license"
VERSION_SEC = "version"
LEGACY_MAPS_SEC = "maps"
BTF_MAPS_SEC = ".maps"


def _license(elf: ElfObject) -> str:
    sec = elf.section(LICENSE_SEC)
    if sec is None:
        return ""
    return sec.data.split(b"\0", 1)[0][:63].decode("utf-8", "replace")


def _kern_version(elf: ElfObject) -> int:
    sec = elf.section(VERSION_SEC)
    if sec is None:
        return 0
    if len(sec.data) != 4:
        raise ObjectParseError(f"version section must hold 4 bytes, has {len(sec.data)}", section=VERSION_SEC)
    value: int = struct.unpack("<I", sec.data)[0]
    return value


def _add_map(maps: dict[str, MapSpec], spec: MapSpec) -> None:
    if spec.name in maps:
        raise ObjectParseError(f"two maps named {spec.name!r}", section=spec.section)
    maps[spec.name] = spec


def _is_typed_ksym(btf: BTF | None, ext: ExternSpec) -> bool:
    """A ksym VAR whose type is not void becomes a BTF_ID load (libbpf's typed ksym)."""
    if btf is None or ext.kind is not ExternKind.KSYM or ext.is_func or ext.type_id is None:
        return False
    from ..btf import Var

    var = btf[ext.type_id]
    return isinstance(var, Var) and btf.resolve_id(var.type_id) != 0


class _DataRewriter:
    """Applies map, global-data and extern relocations to one instruction."""

    def __init__(self, externs: dict[str, ExternSpec], btf: BTF | None) -> None:
        self._typed = {name for name, e in externs.items() if _is_typed_ksym(btf, e)}

    def __call__(self, insn: Instruction, rel: InsnReloc) -> Instruction:
        kind = rel.kind
        if kind is RelocKind.MAP:
            return Instruction(insn.opcode, insn.dst, PseudoSrc.MAP_FD, insn.off, 0)
        if kind is RelocKind.DATA:
            value_off = (insn.imm_lo + rel.offset) & 0xFFFFFFFF
            return Instruction(insn.opcode, insn.dst, PseudoSrc.MAP_VALUE, insn.off, value_off << 32)
        if kind is RelocKind.EXTERN_CALL:
            return Instruction(insn.opcode, insn.dst, CallSrc.KFUNC, 0, 0)
        if kind is RelocKind.EXTERN_LD64 and rel.target in self._typed:
            return Instruction(insn.opcode, insn.dst, PseudoSrc.BTF_ID, insn.off, 0)
        return insn  # .kconfig and typeless ksyms: resolved at load time


def build_object_spec(data: bytes, *, name: str = "") -> ObjectSpec:
    elf = read_elf(data)
    license_ = _license(elf)
    kern_version = _kern_version(elf)
    btf_sec = elf.section(".BTF")
    btf = load_btf(btf_sec.data) if btf_sec is not None else None
    ext_sec = elf.section(".BTF.ext")
    ext = load_btf_ext(ext_sec.data, btf) if ext_sec is not None and btf is not None else None

    maps: dict[str, MapSpec] = {}
    by_symbol: dict[tuple[int, int], str] = {}
    map_sections: set[int] = set()
    map_defs: list[MapDefinition] = []
    legacy_sec = elf.section(LEGACY_MAPS_SEC)
    if legacy_sec is not None:
        map_sections.add(legacy_sec.index)
        for d in parse_legacy_maps(elf, legacy_sec):
            _add_map(maps, d.spec)
            by_symbol[(legacy_sec.index, d.offset)] = d.spec.name
    btf_maps_sec = elf.section(BTF_MAPS_SEC)
    if btf_maps_sec is not None:
        map_sections.add(btf_maps_sec.index)
        map_defs = attach_initial_values(elf, btf_maps_sec, parse_btf_maps(elf, btf_maps_sec, btf))
        for d in map_defs:
            _add_map(maps, d.spec)
            by_symbol[(btf_maps_sec.index, d.offset)] = d.spec.name
    variables: dict[str, VariableSpec] = {}
    data_maps: dict[int, str] = {}
    for gd in parse_global_data(elf, btf, name):
        _add_map(maps, gd.map)
        data_maps[gd.section.index] = gd.map.name
        for v in gd.variables:
            key = v.name if v.name not in variables else f"{v.section}:{v.name}"
            variables[key] = v
    externs = parse_externs(elf, btf)

    locator = MapLocator(by_symbol, frozenset(map_sections), data_maps, frozenset(externs))
    functions: list[Function] = []
    for sec in elf.sections:
        if not sec.is_exec or sec.size == 0:
            continue
        code = decode_section(sec)
        relocs = classify_relocations(elf, sec.index, code.index_of_slot, code.insns, locator)
        functions.extend(split_functions(elf, code, relocs))
    index = FunctionIndex(functions)
    rewrite = _DataRewriter(externs, btf)

    programs: dict[str, ProgramSpec] = {}
    for fn in functions:
        if fn.section.name == TEXT or not fn.is_global:
            continue
        if fn.name in programs:
            raise ObjectParseError(f"two programs named {fn.name!r}", section=fn.section.name)
        sec_def = lookup_section(fn.section.name)
        linked = link_program(fn, index, rewrite)
        programs[fn.name] = _program_spec(fn, linked, ext, license_, kern_version, sec_def)

    _check_initial_values(map_defs, maps, programs)
    struct_ops = parse_struct_ops(elf, btf, programs)
    return ObjectSpec(
        name=name,
        license=license_,
        kern_version=kern_version,
        programs=programs,
        maps=maps,
        variables=variables,
        externs=externs,
        btf=btf,
        btf_ext=ext,
        btf_bytes=btf_sec.data if btf_sec is not None else None,
        btf_ext_bytes=ext_sec.data if ext_sec is not None else None,
        struct_ops=struct_ops,
    )


def _check_initial_values(
    defs: list[MapDefinition], maps: dict[str, MapSpec], programs: dict[str, ProgramSpec]
) -> None:
    for d in defs:
        for _, target in d.spec.initial_values:
            if d.spec.inner is not None and target not in maps:
                raise ObjectParseError(
                    f"map {d.spec.name!r}: initial value {target!r} is not a map", section=".maps"
                )
            if d.spec.inner is None and target not in programs:
                raise ObjectParseError(
                    f"map {d.spec.name!r}: initial value {target!r} is not a program", section=".maps"
                )


def _program_spec(
    main: Function,
    linked: LinkedCode,
    ext: BTFExt | None,
    license_: str,
    kern_version: int,
    sec_def: SecDef,
) -> ProgramSpec:
    func_info: list[FuncInfo] = []
    line_info: list[tuple[int, LineInfo]] = []
    core: list[CORERelo] = []
    if ext is not None:
        for place in linked.layout:
            fn = place.function
            shift = place.start - fn.start
            sec_name = fn.section.name
            for fi in ext.func_info.get(sec_name, ()):
                if fn.start <= fi.insn_idx < fn.end:
                    func_info.append(FuncInfo(fi.insn_idx + shift, fi.type_id, fn.name))
            for li in ext.line_info.get(sec_name, ()):
                if fn.start <= li.insn_idx < fn.end:
                    line = LineInfo(li.file_name, li.line_num, li.column, li.line)
                    line_info.append((li.insn_idx + shift, line))
            for relo in ext.core_relos.get(sec_name, ()):
                if fn.start <= relo.insn_idx < fn.end:
                    core.append(replace(relo, insn_idx=relo.insn_idx + shift))
    line_info.sort(key=lambda x: x[0])
    insns = _with_meta(linked, line_info)
    return ProgramSpec(
        name=main.name,
        section=main.section.name,
        prog_type=sec_def.prog_type,
        expected_attach_type=sec_def.expected_attach_type,
        attach=parse_attach_target(sec_def, main.section.name),
        sec_flags=sec_def.flags,
        instructions=insns,
        license=license_,
        kern_version=kern_version,
        subprograms=tuple(p.function.name for p in linked.layout[1:]),
        func_info=tuple(func_info),
        line_info=tuple(line_info),
        core_relos=tuple(core),
        weak=main.weak,
    )


def _with_meta(linked: LinkedCode, line_info: list[tuple[int, LineInfo]]) -> tuple[Instruction, ...]:
    """Attach symbol, reference and source line; a line covers instructions up to the next record
    inside the same function."""
    starts = {p.start: p.function.name for p in linked.layout}
    lines = dict(line_info)
    out = []
    pc = 0
    current: LineInfo | None = None
    for insn, ref in zip(linked.insns, linked.references, strict=True):
        symbol = starts.get(pc)
        if symbol is not None:
            current = None
        current = lines.get(pc, current)
        if symbol is not None or ref is not None or current is not None:
            insn = insn.with_meta(InsnMeta(symbol=symbol, reference=ref, line=current))
        out.append(insn)
        pc += insn.width
    return tuple(out)
