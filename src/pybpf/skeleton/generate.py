"""Generate a typed Python skeleton module for a BPF object (``pybpf gen skeleton``).

The module embeds the object (base64), and declares one class per program set,
map set, global-data section and C struct reachable from a global, all built
from the descriptors of :mod:`pybpf.skeleton.fields`, so ``mypy --strict`` knows
``skel.bss.counter`` is an ``int`` and ``skel.progs.xdp_pass`` a ProgramHandle.

Variable types come from the object's BTF (the VAR's type), offsets from the
ObjectSpec (the raw DATASEC offsets in a clang object are not fixed up yet).
As bpftool does, ``static`` variables are not exposed (their bytes stay
reachable as padding-free raw section bytes through ``bytes(skel.rodata)``).
"""

from __future__ import annotations

import base64
import keyword
import re
from dataclasses import dataclass, field

from ..btf import BTF, Array, Enum, Enum64, Float, Int, Ptr, Struct, Union
from ..errors import BPFError
from ..object.spec import MapKind, MapSpec, ObjectSpec
from .fields import SkeletonError

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESERVED_SKEL = frozenset(
    {"open", "open_and_load", "load", "attach", "detach", "destroy", "close", "spec", "state", "obj",
     "progs", "maps", "edited_spec", "object_bytes", "section_store", "check_section_writable"}
)  # fmt: skip


def py_ident(name: str) -> str:
    """A Python identifier for a C name: keywords get a trailing ``_``, other characters become ``_``."""
    ident = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not ident or ident[0].isdigit():
        ident = "_" + ident
    if keyword.iskeyword(ident) or keyword.issoftkeyword(ident) or ident.startswith("_sk_"):
        ident += "_"
    return ident


def camel(name: str) -> str:
    """``xdp_srcip`` -> ``XdpSrcip`` (other characters separate words)."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+|_", name) if w]
    out = "".join(w[:1].upper() + w[1:] for w in words)
    if not out or out[0].isdigit():
        out = "X" + out
    return out


def section_attr(section: str) -> str:
    """libbpf's skeleton name for a data section: ``.data.foo`` -> ``data_foo``."""
    return py_ident(section.lstrip(".").replace(".", "_"))


@dataclass
class _Module:
    """What the generator accumulates: struct classes (in dependency order) and used names."""

    btf: BTF
    prefix: str
    structs: dict[int, str] = field(default_factory=dict)
    struct_src: list[str] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    imports: set[str] = field(default_factory=set)

    def unique(self, name: str) -> str:
        candidate, n = name, 2
        while candidate in self.used:
            candidate, n = f"{name}{n}", n + 1
        self.used.add(candidate)
        return candidate

    # -- fields -------------------------------------------------------------------

    def field_expr(self, type_id: int, offset: int, hint: str = "") -> str:
        """A descriptor expression for a value of BTF ``type_id`` at byte ``offset``."""
        btf = self.btf
        t = btf.resolve(type_id)
        size = _sizeof(btf, type_id)
        if isinstance(t, Int):
            if t.bool:
                return self._use("BoolField", f"({offset}, {size})")
            if size in (1, 2, 4, 8):
                return self._use("IntField", f"({offset}, {size}{', signed=True' if t.signed else ''})")
            return self._use("BytesField", f"({offset}, {size})")
        if isinstance(t, Enum | Enum64):
            return self._use("IntField", f"({offset}, {size}{', signed=True' if t.signed else ''})")
        if isinstance(t, Ptr):
            return self._use("IntField", f"({offset}, 8)")
        if isinstance(t, Float) and size in (4, 8):
            return self._use("FloatField", f"({offset}, {size})")
        if isinstance(t, Struct | Union):
            return self._use("StructField", f"({offset}, {self.struct_class(t, hint)})")
        if isinstance(t, Array) and t.nelems > 0:
            elem = btf.resolve(t.type_id)
            esize = _sizeof(btf, t.type_id)
            if isinstance(elem, Int) and esize == 1 and not elem.bool:
                return self._use("BytesField", f"({offset}, {t.nelems})")
            if isinstance(elem, Int | Enum | Enum64 | Ptr) and esize in (1, 2, 4, 8):
                signed = isinstance(elem, Int | Enum | Enum64) and elem.signed
                args = f"({offset}, {t.nelems}, {esize}{', signed=True' if signed else ''})"
                return self._use("IntArrayField", args)
            if isinstance(elem, Struct | Union) and esize > 0:
                return self._use(
                    "StructArrayField", f"({offset}, {t.nelems}, {self.struct_class(elem, hint)})"
                )
        return self._use("BytesField", f"({offset}, {size})")

    def _use(self, name: str, args: str) -> str:
        self.imports.add(name)
        return name + args

    # -- struct classes -----------------------------------------------------------------

    def struct_class(self, t: Struct | Union, hint: str = "") -> str:
        """The generated class for ``t``; an anonymous one is named after where it is used (``hint``)."""
        known = self.structs.get(t.id)
        if known is not None:
            return known
        base = camel(t.name) if t.name else (hint or f"Anon{t.id}")
        name = self.unique(base if base.startswith(self.prefix) else f"{self.prefix}{base}")
        self.structs[t.id] = name  # before members: a struct may (through pointers) name itself
        kind = "union" if isinstance(t, Union) else "struct"
        lines = [
            f"class {name}(StructView):",
            f'    """{kind} {t.name or "(anonymous)"}: {t.size} bytes."""',
            "",
            "    __slots__ = ()",
            f"    _sk_size = {t.size}",
        ]
        seen: set[str] = set()
        for mname, expr, ctype in self._members(t, 0, name):
            ident = py_ident(mname)
            if ident in seen:
                continue
            seen.add(ident)
            lines.append(f"    {ident} = {expr}  # {ctype}")
        self.imports.add("StructView")
        self.struct_src.append("\n".join(lines))
        return name

    def _members(self, t: Struct | Union, base_bits: int, owner: str) -> list[tuple[str, str, str]]:
        out: list[tuple[str, str, str]] = []
        btf = self.btf
        for m in t.members:
            bits = base_bits + m.bits_offset
            inner = btf.resolve(m.type_id)
            if not m.name and isinstance(inner, Struct | Union):
                out.extend(self._members(inner, bits, owner))  # anonymous member: C flattens its fields
                continue
            if not m.name:
                continue
            ctype = btf.type_str(m.type_id)
            if m.is_bitfield or (isinstance(inner, Int) and inner.nr_bits != inner.size * 8):
                nbits = m.bitfield_size or (inner.nr_bits if isinstance(inner, Int) else 0)
                signed = isinstance(inner, Int | Enum | Enum64) and inner.signed
                expr = self._use("BitfieldField", f"({bits}, {nbits}{', signed=True' if signed else ''})")
                out.append((m.name, expr, f"{ctype} : {nbits}"))
                continue
            if bits % 8:
                continue  # not byte aligned and not a bitfield: nothing sensible to expose
            out.append((m.name, self.field_expr(m.type_id, bits // 8, owner + camel(m.name)), ctype))
        return out


def _sizeof(btf: BTF, type_id: int) -> int:
    try:
        return btf.sizeof(type_id)
    except BPFError as exc:
        raise SkeletonError(f"cannot size BTF type {type_id}: {exc}") from exc


@dataclass(frozen=True)
class _Section:
    map: MapSpec
    attr: str
    cls: str
    fields: tuple[tuple[str, str, str], ...]


def generate_skeleton(
    spec: ObjectSpec, obj_bytes: bytes, *, class_name: str | None = None, source: str = ""
) -> str:
    """Python source of a skeleton module for ``spec`` (parsed from ``obj_bytes`` with name ``spec.name``)."""
    if spec.btf is None and spec.variables:
        raise SkeletonError("the object has global variables but no BTF: cannot type them")
    base = camel(spec.name or "object")
    skel_name = class_name or f"{base}Skel"
    if not _IDENT.match(skel_name) or keyword.iskeyword(skel_name):
        raise SkeletonError(f"{skel_name!r} is not a valid Python class name")
    prefix = skel_name[:-4] if skel_name.endswith("Skel") and len(skel_name) > 4 else skel_name
    mod = _Module(spec.btf, prefix)
    mod.used.update({skel_name, f"{prefix}Progs", f"{prefix}Maps"})

    sections: list[_Section] = []
    attrs_used = set(_RESERVED_SKEL)
    for map_spec in spec.maps.values():
        if not map_spec.is_global_data or map_spec.kind is MapKind.KCONFIG:
            continue
        variables = sorted(
            (v for v in spec.variables.values() if v.map_name == map_spec.name and v.is_global and v.type_id),
            key=lambda v: v.offset,
        )
        variables = [v for v in variables if _IDENT.match(v.name)]
        if not variables:
            continue
        attr = section_attr(map_spec.section)
        while attr in attrs_used:
            attr += "_"
        attrs_used.add(attr)
        cls = mod.unique(f"{prefix}{camel(map_spec.section)}")
        fields = []
        for var in variables:
            type_id = var.type_id or 0
            ctype = spec.btf.type_str(type_id)
            fields.append(
                (
                    py_ident(var.name),
                    mod.field_expr(type_id, var.offset, camel(var.name)),
                    f"{ctype} {var.name}",
                )
            )
        sections.append(_Section(map_spec, attr, cls, tuple(fields)))

    return _render(spec, obj_bytes, skel_name, prefix, mod, sections, source)


def _render(
    spec: ObjectSpec,
    obj_bytes: bytes,
    skel_name: str,
    prefix: str,
    mod: _Module,
    sections: list[_Section],
    source: str,
) -> str:
    progs_cls, maps_cls = f"{prefix}Progs", f"{prefix}Maps"
    out: list[str] = []
    origin = f" from {source}" if source else ""
    first_prog = next(iter(spec.programs), None)
    out.append(
        f'"""Skeleton of BPF object {spec.name!r}{origin}: generated by ``pybpf gen skeleton``, do not edit.'
    )
    out.append("")
    out.append("Usage::")
    out.append("")
    out.append(f"    with {skel_name}.open() as skel:")
    out.append("        # edit .rodata / .data / .bss initial values here, then")
    out.append('        skel.load(backend="vm")  # or "kernel"')
    if first_prog is not None:
        out.append(f"        skel.progs.{py_ident(first_prog)}.test_run(data_in=...)")
    out.append('"""')
    out.append("")
    out.append("# fmt: off")
    out.append("# ruff: noqa: E501")
    out.append("from __future__ import annotations")
    out.append("")
    field_imports = sorted(mod.imports | ({"DataSection"} if sections else set()))
    if field_imports:
        out.append(f"from pybpf.skeleton.fields import {', '.join(field_imports)}")
    runtime_imports = ["MapRef", "Maps", "ProgramRef", "Programs", "Skeleton"]
    if sections:
        runtime_imports.append("SectionRef")
    out.append(f"from pybpf.skeleton.runtime import {', '.join(sorted(runtime_imports))}")
    out.append("")
    out.append(f"__all__ = [{skel_name!r}]")

    for src in mod.struct_src:
        out += ["", "", src]

    out += [
        "",
        "",
        f"class {progs_cls}(Programs):",
        f'    """The programs of {spec.name}."""',
        "",
        "    __slots__ = ()",
    ]
    for name, prog in spec.programs.items():
        kind = prog.prog_type.uapi_name
        out.append(f"    {py_ident(name)} = ProgramRef({name!r})  # SEC({prog.section!r}), {kind}")

    out += [
        "",
        "",
        f"class {maps_cls}(Maps):",
        f'    """The maps of {spec.name}."""',
        "",
        "    __slots__ = ()",
    ]
    seen: set[str] = set()
    for name, m in spec.maps.items():
        ident = section_attr(m.section) if m.is_global_data else py_ident(name)
        while ident in seen:
            ident += "_"
        seen.add(ident)
        detail = f"{m.type.uapi_name}, key {m.key_size}, value {m.value_size}, max_entries {m.max_entries}"
        out.append(f"    {ident} = MapRef({name!r})  # {detail}")

    for sec in sections:
        ro = " (read-only after load)" if sec.map.readonly else ""
        out += [
            "",
            "",
            f"class {sec.cls}(DataSection):",
            f'    """Global variables in {sec.map.section} (map {sec.map.name}){ro}."""',
            "",
            "    __slots__ = ()",
            f"    _sk_size = {sec.map.value_size}",
            f"    _sk_section = {sec.map.section!r}",
        ]
        for ident, expr, ctype in sec.fields:
            out.append(f"    {ident} = {expr}  # {ctype}")

    out += [
        "",
        "",
        f"class {skel_name}(Skeleton):",
        f'    """Typed skeleton of {spec.name}: open(), load(backend=...), attach(), destroy()."""',
        "",
        f"    OBJECT_NAME = {spec.name!r}",
        f"    PROGRAM_NAMES = {tuple(spec.programs)!r}",
        f"    MAP_NAMES = {tuple(spec.maps)!r}",
        f"    PROGS_CLASS = {progs_cls}",
        f"    MAPS_CLASS = {maps_cls}",
    ]
    for sec in sections:
        out.append(f"    {sec.attr} = SectionRef({sec.cls}, {sec.map.name!r})")
    out += [
        "",
        "    @property",
        f"    def progs(self) -> {progs_cls}:",
        f"        return self._typed_progs({progs_cls})",
        "",
        "    @property",
        f"    def maps(self) -> {maps_cls}:",
        f"        return self._typed_maps({maps_cls})",
    ]
    encoded = base64.b64encode(obj_bytes).decode("ascii")
    out += ["", "", f"{skel_name}.OBJECT_B64 = ("]
    out += [f'    "{encoded[i : i + 96]}"' for i in range(0, len(encoded), 96)]
    out.append(")")
    return "\n".join(out) + "\n"


def skeleton_for_file(path: str, *, name: str | None = None, class_name: str | None = None) -> str:
    """Read ``path`` and return its skeleton module's source (``name`` overrides the object name)."""
    from pathlib import Path

    from ..object.spec import object_name_from_path

    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise SkeletonError(f"cannot read {path}: {exc.strerror or exc}") from exc
    obj_name = name if name is not None else object_name_from_path(p)
    if not obj_name or not _IDENT.match(obj_name):
        raise SkeletonError(f"object name {obj_name!r} must be a C identifier (pass name NAME)")
    spec = ObjectSpec.from_bytes(data, name=obj_name)
    return generate_skeleton(spec, data, class_name=class_name, source=p.name)
