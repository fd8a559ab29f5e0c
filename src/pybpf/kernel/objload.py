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

import gzip
import os
import re
import struct
from dataclasses import dataclass, replace
from functools import cache

from ..btf import (
    BTF,
    Datasec,
    Enum,
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
from ..btf.types import Array, Type
from ..errors import BPFError, BTFError, NotSupportedError
from ..object.spec import BPF_F_RDONLY_PROG, ExternKind, MapKind, MapSpec, ObjectSpec
from ..uapi import MapType
from .btf_ids import KIND_FUNC, find_type_id

KCONFIG_SEC = ".kconfig"
KSYMS_SEC = ".ksyms"
KIND_VAR = 14


class ExternResolveError(BPFError):
    """A strong ``__kconfig`` / ``__ksym`` extern this kernel cannot satisfy."""


# -- the running kernel ---------------------------------------------------------


def kernel_version_code(release: str | None = None) -> int:
    """KERNEL_VERSION(a, b, c) of ``uname -r`` (sublevel clamped to 255, as the kernel does)."""
    text = release if release is not None else os.uname().release
    m = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if m is None:
        raise NotSupportedError(f"cannot parse kernel release {text!r}")
    major, minor, patch = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    return (major << 16) | (minor << 8) | min(patch, 255)


@cache
def kernel_config() -> dict[str, str]:
    """CONFIG_* -> raw value ("y", "m", "100", '"str"') from /proc/config.gz or /boot/config-*."""
    text = ""
    try:
        with gzip.open("/proc/config.gz", "rt") as f:
            text = f.read()
    except OSError:
        try:
            with open(f"/boot/config-{os.uname().release}") as f:
                text = f.read()
        except OSError:
            return {}
    config: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("CONFIG_") and "=" in line:
            key, _, value = line.partition("=")
            config[key] = value.strip()
    return config


@cache
def kallsyms() -> dict[str, int]:
    """Kernel symbol -> address from /proc/kallsyms (first occurrence wins)."""
    symbols: dict[str, int] = {}
    try:
        with open("/proc/kallsyms") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3:
                    symbols.setdefault(parts[2], int(parts[0], 16))
    except OSError:
        return {}
    return symbols


# -- .kconfig ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KconfigLayout:
    """Where each ``__kconfig`` extern lives in the ``.kconfig`` map, and its initial bytes."""

    offsets: dict[str, int]
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


def _strip_modifiers(btf: BTF, type_id: int) -> Type:
    return btf.resolve(type_id)


def _kconfig_bytes(btf: BTF, name: str, type_id: int, size: int, raw: str | None) -> bytes:
    """Encode a Kconfig value for the extern's C type, following libbpf's conventions."""
    t = _strip_modifiers(btf, type_id)
    if raw is None:
        return bytes(size)
    if isinstance(t, Enum) or (isinstance(t, Int) and t.bool):
        tri = {"y": 1, "n": 0, "m": 2}
        if raw not in tri:
            raise ExternResolveError(f"kconfig {name}={raw} is not a tristate/bool value")
        value = tri[raw] if isinstance(t, Enum) else (0 if raw == "n" else 1)
        return value.to_bytes(size, "little")
    if isinstance(t, Array):
        if not raw.startswith('"'):
            raise ExternResolveError(f"kconfig {name}={raw} is not a string")
        return raw.strip('"').encode()[: size - 1].ljust(size, b"\0")
    if isinstance(t, Int):
        if raw in ("y", "m", "n"):
            value = {"y": 1, "m": 2, "n": 0}[raw]
        else:
            try:
                value = int(raw, 0)
            except ValueError:
                raise ExternResolveError(f"kconfig {name}={raw} is not an integer") from None
        bits = size * 8
        if not -(1 << (bits - 1)) <= value < (1 << bits):
            raise ExternResolveError(f"kconfig {name}={raw} does not fit in {size} bytes")
        return (value & ((1 << bits) - 1)).to_bytes(size, "little")
    raise ExternResolveError(f"kconfig {name}: unsupported C type {type(t).__name__}")


def build_kconfig(spec: ObjectSpec) -> KconfigLayout | None:
    """The ``.kconfig`` layout for ``spec``'s kconfig externs (None when it has none).

    Each extern is placed at the next offset aligned to its size (libbpf sorts by
    alignment; any packing works as long as the program and the map agree, because
    we rewrite the loads ourselves).
    """
    externs = [e for e in spec.externs.values() if e.kind is ExternKind.KCONFIG]
    if not externs:
        return None
    btf: BTF | None = spec.btf
    if btf is None:
        raise BTFError("object has __kconfig externs but no BTF to size them")
    config = kernel_config()
    offsets: dict[str, int] = {}
    data = bytearray()
    for ext in externs:
        if ext.type_id is None:
            raise BTFError(f"kconfig extern {ext.name} has no BTF type")
        var = btf[ext.type_id]
        vtype = var.type_id if isinstance(var, Var) else ext.type_id
        size = btf.sizeof(vtype)
        align = min(8, max(1, btf.alignof(vtype)))
        off = (len(data) + align - 1) // align * align
        data.extend(bytes(off - len(data)))
        if ext.name == "LINUX_KERNEL_VERSION":
            raw: str | None = str(kernel_version_code())
        else:
            raw = config.get(ext.name)
            if raw is None and not ext.weak:
                where = "/proc/config.gz" if config else "no kernel config found"
                raise ExternResolveError(f"strong kconfig extern {ext.name} is not set ({where})")
        offsets[ext.name] = off
        data.extend(_kconfig_bytes(btf, ext.name, vtype, size, raw))
    return KconfigLayout(offsets, bytes(data.ljust(max(8, (len(data) + 7) // 8 * 8), b"\0")))


def kconfig_map_spec(spec: ObjectSpec, layout: KconfigLayout) -> MapSpec:
    """The internal ``<obj>.kconfig`` map libbpf would create (read-only for programs)."""
    name = (spec.name[: 15 - len(KCONFIG_SEC)] + KCONFIG_SEC) if spec.name else KCONFIG_SEC
    return MapSpec(
        name=name,
        type=MapType.ARRAY,
        key_size=4,
        value_size=layout.size,
        max_entries=1,
        flags=BPF_F_RDONLY_PROG,
        kind=MapKind.KCONFIG,
        section=KCONFIG_SEC,
        data=layout.data,
    )


# -- ksyms -------------------------------------------------------------------------


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
                    raise ExternResolveError(f"kfunc {ext.name} is not in the kernel's BTF") from None
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
                    raise ExternResolveError(f"typed ksym {ext.name} is not in the kernel's BTF") from None
                out[ext.name] = Ksym(ext.name, typed=True)
            continue
        address = kallsyms().get(ext.name)
        if address is None and not ext.weak:
            raise ExternResolveError(f"ksym {ext.name} is not in /proc/kallsyms")
        out[ext.name] = Ksym(ext.name, address=address or 0)
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
                replace(t, size=kconfig.size, vars=tuple(sorted(vars_, key=lambda v: v.offset)))
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
