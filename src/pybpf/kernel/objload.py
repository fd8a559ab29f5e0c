"""What a whole object needs before the kernel takes it: fixed-up BTF, Kconfig and ksyms.

clang leaves an object's BTF incomplete on purpose: DATASEC sizes and variable
offsets are 0 until a loader fills them in from the ELF symbols, and extern
variables/functions carry an ``extern`` linkage the kernel's BTF checker
refuses.  This module produces BTF the kernel accepts (``prepare_btf``), the
``.kconfig`` map layout and its values from the running kernel
(``KconfigLayout``), and the addresses / BTF ids of ``__ksym`` externs.
It reads the machine (uname, /proc/config.gz, /proc/kallsyms, vmlinux BTF)
but makes no bpf(2) calls, so it can be tested on its own.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace

from ..btf import (
    BTF,
    Datasec,
    Func,
    FuncLinkage,
    FuncProto,
    Int,
    IntEncoding,
    Var,
    VarLinkage,
    VarSecinfo,
    Void,
)
from ..btf.types import Type
from ..errors import BTFError, NotSupportedError
from ..kconfig import KCONFIG_SEC as KCONFIG_SEC
from ..kconfig import ExternError
from ..kconfig import KconfigLayout as KconfigLayout
from ..kconfig import build_kconfig as build_kconfig
from ..kconfig import kconfig_map_spec as kconfig_map_spec
from ..kconfig import kernel_version_code as kernel_version_code
from ..object.spec import BPF_F_RDONLY_PROG, ExternKind, MapKind, MapSpec, ObjectSpec
from .btf_ids import KIND_FUNC, find_type_id
from .kallsyms import address_of

KSYMS_SEC = ".ksyms"
KIND_VAR = 14


# A strong extern that cannot be resolved (one error type for both backends).
ExternResolveError = ExternError


@dataclass(frozen=True, slots=True)
class Ksym:
    """A resolved ``__ksym``: an address (untyped), a vmlinux VAR id (typed) or FUNC id (kfunc)."""

    name: str
    address: int = 0
    btf_id: int = 0
    is_func: bool = False
    typed: bool = False


def resolve_ksyms(spec: ObjectSpec) -> dict[str, Ksym]:
    """Resolve every ksym extern; a weak one that is missing resolves to 0."""
    out: dict[str, Ksym] = {}
    btf: BTF | None = spec.btf
    for ext in spec.externs.values():
        if ext.kind is not ExternKind.KSYM:
            continue
        if ext.is_func:
            try:
                out[ext.name] = Ksym(ext.name, btf_id=find_type_id(ext.name, KIND_FUNC), is_func=True)
            except NotSupportedError:
                if not ext.weak:
                    raise ExternError(ext.name, "kfunc is not in the kernel's BTF") from None
                out[ext.name] = Ksym(ext.name, is_func=True)
            continue
        typed = False
        if btf is not None and ext.type_id is not None:
            var = btf[ext.type_id]
            target = btf.resolve(var.type_id) if isinstance(var, Var) else None
            typed = target is not None and not isinstance(target, Void)
        if typed:
            try:
                out[ext.name] = Ksym(ext.name, btf_id=find_type_id(ext.name, KIND_VAR), typed=True)
            except NotSupportedError:
                if not ext.weak:
                    raise ExternError(ext.name, "typed ksym is not in the kernel's BTF") from None
                out[ext.name] = Ksym(ext.name, typed=True)
            continue
        address = address_of(ext.name)
        if not address and not ext.weak:
            raise ExternError(ext.name, "ksym is not in /proc/kallsyms (or its address is hidden)")
        out[ext.name] = Ksym(ext.name, address=address)
    return out


# -- BTF fix-ups ---------------------------------------------------------------------


def _section_sizes(spec: ObjectSpec) -> dict[str, int]:
    """ELF section name -> size, for the sections backing global-data maps."""
    return {m.section: m.value_size for m in spec.maps.values() if m.is_global_data}


def prepare_btf(spec: ObjectSpec, kconfig: KconfigLayout | None = None) -> bytes:
    """Raw BTF for the kernel: DATASECs sized and laid out, externs made loadable.

    * data sections: variable offsets from the ELF symbols (``spec.variables``),
      section size from the map's value size;
    * ``.kconfig``: our own layout (``kconfig``), so the map can use the DATASEC
      as its value type;
    * ``.ksyms``: every entry becomes a 4-byte dummy int VAR (the kernel wants
      only VARs in a DATASEC; kfunc calls are resolved against vmlinux BTF);
    * ``extern`` linkage becomes static (FUNC) / global-allocated (VAR);
    * other DATASECs (``.maps``, ``license``): consecutive offsets, summed size.
    """
    btf: BTF | None = spec.btf
    if btf is None:
        raise BTFError("object has no BTF")
    sizes = _section_sizes(spec)
    var_offsets = {(v.section, v.name): v.offset for v in spec.variables.values()}
    replacements: list[Type] = []
    extra: list[Type] = []
    next_id = btf.first_id + len(btf.own_types)
    ksyms = next((t for t in btf.own_types if isinstance(t, Datasec) and t.name == KSYMS_SEC), None)
    ksym_ids = {v.type_id for v in ksyms.vars} if ksyms is not None else set()
    int_id, dummy_var_id = next_id, next_id + 1
    if ksyms is not None:
        extra.append(
            Int(id=int_id, name="int", size=4, encoding=IntEncoding.SIGNED, bits_offset=0, nr_bits=32)
        )
        extra.append(
            Var(id=dummy_var_id, name="pybpf_ksym_dummy", type_id=int_id, linkage=VarLinkage.GLOBAL_ALLOCATED)
        )
    for t in btf.own_types:
        if isinstance(t, Func) and int(t.linkage) == int(FuncLinkage.EXTERN):
            # STATIC: a global FUNC needs named params, clang leaves extern ones unnamed.
            replacements.append(replace(t, linkage=FuncLinkage.STATIC))
            proto = btf[t.type_id]
            if isinstance(proto, FuncProto) and any(not p.name and p.type_id for p in proto.params):
                # The kernel wants every (non-variadic) parameter named.
                params = tuple(
                    replace(p, name=f"arg{i}") if not p.name and p.type_id else p
                    for i, p in enumerate(proto.params)
                )
                replacements.append(replace(proto, params=params))
        elif isinstance(t, Var) and int(t.linkage) == int(VarLinkage.GLOBAL_EXTERN):
            # A ksym's C type may be void (``extern const void _stext``): make it an int.
            type_id = int_id if t.id in ksym_ids else t.type_id
            replacements.append(replace(t, linkage=VarLinkage.GLOBAL_ALLOCATED, type_id=type_id))
    for t in btf.own_types:
        if not isinstance(t, Datasec):
            continue
        if t.name == KSYMS_SEC:
            vars_ = tuple(VarSecinfo(dummy_var_id, 4 * i, 4) for i in range(len(t.vars)))
            replacements.append(replace(t, size=4 * len(vars_), vars=vars_))
            continue
        if t.name == KCONFIG_SEC:
            if kconfig is None:
                continue
            vars_ = tuple(
                VarSecinfo(v.type_id, kconfig.offsets.get(btf.name_of(v.type_id), 0), v.size) for v in t.vars
            )
            replacements.append(
                replace(t, size=len(kconfig.data), vars=tuple(sorted(vars_, key=lambda v: v.offset)))
            )
            continue
        laid_out: list[VarSecinfo] = []
        pos = 0
        known = t.name in sizes
        for v in t.vars:
            vname = btf.name_of(v.type_id)
            off = var_offsets.get((t.name, vname))
            if off is None:
                off = v.offset if known and v.offset else pos
            laid_out.append(VarSecinfo(v.type_id, off, v.size))
            pos = max(pos, off + v.size)
        laid_out.sort(key=lambda v: v.offset)
        size = sizes.get(t.name, t.size or pos)
        replacements.append(replace(t, size=max(size, pos), vars=tuple(laid_out)))
    by_id = {t.id: t for t in replacements}
    types = [by_id.get(t.id, t) for t in btf.own_types] + extra
    from ..btf.marshal import encode

    # Seeded with the original strings so .BTF.ext offsets (line_info) stay valid.
    return encode(types, base=btf.base, strings=btf.strings)


def line_info_records(btf_bytes_strings: dict[str, int], line_info: tuple[tuple[int, object], ...]) -> bytes:
    """Pack ``(slot, LineInfo)`` pairs into ``struct bpf_line_info`` records (16 bytes each)."""
    out = bytearray()
    for slot, li in line_info:
        file_off = btf_bytes_strings.get(getattr(li, "file", ""), 0)
        text_off = btf_bytes_strings.get(getattr(li, "text", ""), 0)
        line = int(getattr(li, "line", 0))
        col = int(getattr(li, "column", 0))
        out += struct.pack("<IIII", slot, file_off, text_off, (line << 10) | (col & 0x3FF))
    return bytes(out)


def string_offsets(btf: BTF) -> dict[str, int]:
    """Text -> offset in ``btf``'s string table (first occurrence)."""
    index: dict[str, int] = {}
    for off, text in sorted(btf.strings.names.items()):
        index.setdefault(text, off)
    return index


def frozen_after_init(spec: MapSpec) -> bool:
    """libbpf freezes .rodata (and .kconfig) once their initial bytes are written."""
    return spec.kind in (MapKind.RODATA, MapKind.KCONFIG) or bool(spec.flags & BPF_F_RDONLY_PROG)
