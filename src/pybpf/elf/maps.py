"""Map definitions: BTF-defined (SEC(".maps")) and legacy (SEC("maps")).

A BTF-defined map is a global variable whose struct type encodes the definition
in its member types, as bpf_helpers.h spells it: ``__uint(name, N)`` is a
pointer to ``int[N]``, ``__type(name, T)`` a pointer to ``T``, and
``__array(values, T)`` a zero-length array of pointers to ``T`` (the inner map
definition of a map-in-map, or a function prototype for a prog array).
Initial contents of map-in-map and prog arrays come from relocations in .maps.

A legacy map is a ``struct bpf_map_def`` {type, key_size, value_size,
max_entries, map_flags} of u32s, one per symbol in SEC("maps"). iproute2's
36-byte ``struct bpf_elf_map`` is read too when its extra fields are only an
``id``; its tc-specific pinning and inner-map fields raise NotSupportedError.
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..errors import BTFError, NotSupportedError, ObjectParseError
from ..object.spec import MapKind, MapSpec, PinType
from ..uapi import MapType
from .reader import ElfObject, Section, SymType

if TYPE_CHECKING:
    from ..btf import BTF

_INT_FIELDS = (
    "type",
    "max_entries",
    "map_flags",
    "numa_node",
    "key_size",
    "value_size",
    "pinning",
    "map_extra",
)
_LEGACY_FIELDS = ("type", "key_size", "value_size", "max_entries", "map_flags")
_MAP_IN_MAP = (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS)


@dataclass(frozen=True, slots=True)
class MapDefinition:
    """A parsed map and where its definition sits in its section."""

    spec: MapSpec
    offset: int
    size: int
    values_offset: int | None = None
    """Byte offset of the ``values`` member (map-in-map, prog array)."""


def _map_type(value: int, name: str, section: str) -> MapType:
    try:
        return MapType(value)
    except ValueError:
        raise ObjectParseError(f"map {name!r}: unknown map type {value}", section=section) from None


# -- legacy ------------------------------------------------------------------

_ELF_MAP_SIZE = 36
"""iproute2's ``struct bpf_elf_map``: bpf_map_def's five u32s, then id, pinning,
inner_id and inner_idx."""


def _check_iproute2_extras(name: str, extra: bytes, section: str, offset: int) -> None:
    """The tail of an iproute2 map definition: ``id`` is only a label; pinning and
    inner-map references (tc's own object loader semantics) are refused by name."""
    _id, pinning, inner_id, inner_idx = struct.unpack("<4I", extra)
    if pinning or inner_id or inner_idx:
        raise NotSupportedError(
            f"legacy map {name!r} is an iproute2 struct bpf_elf_map with "
            f"pinning={pinning}, inner_id={inner_id}, inner_idx={inner_idx}: tc's pinning "
            f"and inner-map fields are not supported (section {section}, offset {offset + 20:#x})",
            hint='define it in SEC(".maps"): __uint(pinning, LIBBPF_PIN_BY_NAME), __array(values, ...)',
        )


def parse_legacy_maps(elf: ElfObject, sec: Section) -> list[MapDefinition]:
    """One map per named symbol of SEC("maps"), each a struct bpf_map_def."""
    syms = sorted(
        (s for s in elf.symbols if s.shndx == sec.index and s.type != SymType.SECTION and s.name),
        key=lambda s: (s.value, s.index),
    )
    if not syms:
        return []
    if sec.is_nobits:
        raise ObjectParseError("legacy map definitions in a NOBITS section", section=sec.name)
    default_size = len(sec.data) // len(syms)
    out = []
    for sym in syms:
        size = sym.size or default_size
        if size < 4 * len(_LEGACY_FIELDS) or sym.value + size > len(sec.data):
            raise ObjectParseError(
                f"legacy map {sym.name!r}: definition of {size} bytes at {sym.value} does not fit "
                f"(need 20 bytes inside a {len(sec.data)}-byte section)",
                section=sec.name,
                offset=sym.value,
            )
        values = struct.unpack_from("<5I", sec.data, sym.value)
        extra = sec.data[sym.value + 20 : sym.value + size]
        if size == _ELF_MAP_SIZE and any(extra):
            _check_iproute2_extras(sym.name, extra, sec.name, sym.value)
        elif any(extra):
            raise ObjectParseError(
                f"legacy map {sym.name!r}: unrecognised non-zero bytes after struct bpf_map_def",
                section=sec.name,
                offset=sym.value + 20,
            )
        fields = dict(zip(_LEGACY_FIELDS, values, strict=True))
        spec = MapSpec(
            name=sym.name,
            type=_map_type(fields["type"], sym.name, sec.name),
            key_size=fields["key_size"],
            value_size=fields["value_size"],
            max_entries=fields["max_entries"],
            flags=fields["map_flags"],
            kind=MapKind.LEGACY,
            section=sec.name,
        )
        out.append(MapDefinition(spec, sym.value, size))
    return out


# -- BTF-defined ---------------------------------------------------------------


def _int_field(btf: BTF, type_id: int, map_name: str, field: str) -> int:
    """``__uint(field, N)``: a pointer to an array of N elements."""
    from ..btf import Array, Ptr

    ptr = btf.resolve(type_id)
    if not isinstance(ptr, Ptr):
        raise ObjectParseError(
            f"map {map_name!r}: field {field!r} is not a pointer (use __uint)", section=".maps"
        )
    arr = btf[ptr.type_id]
    if not isinstance(arr, Array):
        raise ObjectParseError(
            f"map {map_name!r}: field {field!r} does not point to an array (use __uint)", section=".maps"
        )
    return arr.nelems


def _type_field(btf: BTF, type_id: int, map_name: str, field: str) -> tuple[int, int]:
    """``__type(field, T)``: (id of T, sizeof T)."""
    from ..btf import Ptr

    ptr = btf.resolve(type_id)
    if not isinstance(ptr, Ptr):
        raise ObjectParseError(
            f"map {map_name!r}: field {field!r} is not a pointer (use __type)", section=".maps"
        )
    return ptr.type_id, btf.sizeof(ptr.type_id)


def parse_btf_map_def(
    btf: BTF, type_id: int, name: str, *, inner: bool = False
) -> tuple[MapSpec, int | None]:
    """A map definition struct -> (MapSpec, byte offset of ``values`` or None)."""
    from ..btf import Array, FuncProto, Ptr, Struct

    st = btf.resolve(type_id)
    if not isinstance(st, Struct):
        raise ObjectParseError(f"map {name!r}: definition is not a struct", section=".maps")
    ints: dict[str, int] = {}
    key: tuple[int, int] | None = None
    value: tuple[int, int] | None = None
    inner_spec: MapSpec | None = None
    values_offset: int | None = None
    values_kind: str | None = None
    for m in st.members:
        if m.name in _INT_FIELDS:
            ints[m.name] = _int_field(btf, m.type_id, name, m.name)
        elif m.name == "key":
            key = _type_field(btf, m.type_id, name, "key")
        elif m.name == "value":
            value = _type_field(btf, m.type_id, name, "value")
        elif m.name == "values":
            if inner:
                raise ObjectParseError(f"map {name!r}: an inner map cannot have values", section=".maps")
            arr = btf.resolve(m.type_id)
            if not isinstance(arr, Array) or arr.nelems != 0:
                raise ObjectParseError(f"map {name!r}: values must be a zero-length array", section=".maps")
            ptr = btf.resolve(arr.type_id)
            if not isinstance(ptr, Ptr):
                raise ObjectParseError(f"map {name!r}: values must be an array of pointers", section=".maps")
            target = btf.resolve(ptr.type_id)
            values_offset = m.bits_offset // 8
            if isinstance(target, Struct):
                inner_spec, _ = parse_btf_map_def(btf, target.id, f"{name}.inner", inner=True)
                values_kind = "map"
            elif isinstance(target, FuncProto):
                values_kind = "prog"
            else:
                raise ObjectParseError(
                    f"map {name!r}: values must point to a map definition or a function prototype",
                    section=".maps",
                )
        else:
            raise ObjectParseError(f"map {name!r}: unknown field {m.name!r}", section=".maps")
    if "type" not in ints:
        raise ObjectParseError(f"map {name!r}: missing map type", section=".maps")
    mtype = _map_type(ints["type"], name, ".maps")
    key_size = ints.get("key_size", 0)
    value_size = ints.get("value_size", 0)
    for label, typed, size in (("key", key, key_size), ("value", value, value_size)):
        if typed is not None and f"{label}_size" in ints and size != typed[1]:
            raise ObjectParseError(
                f"map {name!r}: {label}_size {size} conflicts with sizeof({label} type) {typed[1]}",
                section=".maps",
            )
    if key is not None:
        key_size = key[1]
    if value is not None:
        value_size = value[1]
    if values_kind is not None:
        if values_kind == "map" and mtype not in _MAP_IN_MAP:
            raise ObjectParseError(
                f"map {name!r}: map-in-map values on a {mtype.uapi_name} map", section=".maps"
            )
        if values_kind == "prog" and mtype != MapType.PROG_ARRAY:
            raise ObjectParseError(
                f"map {name!r}: program values on a {mtype.uapi_name} map", section=".maps"
            )
        if "value_size" in ints and value_size != 4:
            raise ObjectParseError(
                f"map {name!r}: value_size of a map-in-map or prog array must be 4", section=".maps"
            )
        value_size = 4
    try:
        pinning = PinType(ints.get("pinning", 0))
    except ValueError:
        raise ObjectParseError(f"map {name!r}: unknown pinning {ints['pinning']}", section=".maps") from None
    spec = MapSpec(
        name=name,
        type=mtype,
        key_size=key_size,
        value_size=value_size,
        max_entries=ints.get("max_entries", 0),
        flags=ints.get("map_flags", 0),
        kind=MapKind.BTF,
        section=".maps",
        numa_node=ints.get("numa_node", 0),
        pinning=pinning,
        map_extra=ints.get("map_extra", 0),
        key_type_id=key[0] if key is not None else None,
        value_type_id=value[0] if value is not None else None,
        btf_var_type_id=st.id,
        inner=inner_spec,
    )
    return spec, values_offset


def parse_btf_maps(elf: ElfObject, sec: Section, btf: BTF | None) -> list[MapDefinition]:
    """Maps of SEC(".maps"), in DATASEC order; initial values come from its relocations."""
    from ..btf import Datasec, Kind, Var

    if btf is None:
        raise ObjectParseError("BTF-defined maps need the .BTF section, which is missing", section=sec.name)
    try:
        found = btf.find_all(sec.name, Kind.DATASEC)
    except BTFError:
        found = []
    if not found:
        raise ObjectParseError("no DATASEC in BTF describes the BTF-defined maps", section=sec.name)
    datasec = found[0]
    if not isinstance(datasec, Datasec):  # pragma: no cover - find_all filters by kind
        raise ObjectParseError("bad DATASEC for .maps", section=sec.name)
    symbols = {s.name: s for s in elf.symbols if s.shndx == sec.index and s.type == SymType.OBJECT}
    out = []
    for vs in datasec.vars:
        var = btf[vs.type_id]
        if not isinstance(var, Var):
            raise ObjectParseError(f"DATASEC entry {vs.type_id} is not a VAR", section=sec.name)
        sym = symbols.get(var.name)
        offset = sym.value if sym is not None else vs.offset
        size = sym.size if sym is not None and sym.size else vs.size
        spec, values_off = parse_btf_map_def(btf, var.type_id, var.name)
        out.append(MapDefinition(replace(spec, btf_var_type_id=var.type_id), offset, size, values_off))
    _check_overlaps(out, sec)
    return out


def _check_overlaps(defs: list[MapDefinition], sec: Section) -> None:
    ordered = sorted(defs, key=lambda d: d.offset)
    for a, b in itertools.pairwise(ordered):
        if a.offset + a.size > b.offset:
            raise ObjectParseError(
                f"maps {a.spec.name!r} and {b.spec.name!r} overlap", section=sec.name, offset=b.offset
            )
    names = [d.spec.name for d in defs]
    if len(set(names)) != len(names):
        raise ObjectParseError("two maps with the same name", section=sec.name)


def attach_initial_values(elf: ElfObject, sec: Section, defs: list[MapDefinition]) -> list[MapDefinition]:
    """Apply .rel.maps: slot i of a map-in-map / prog array initialised to a map or program name."""
    rels = elf.relocations.get(sec.index, ())
    if not rels:
        return defs
    values: dict[str, dict[int, str]] = {}
    for rel in rels:
        owner = next((d for d in defs if d.offset <= rel.offset < d.offset + d.size), None)
        if owner is None or owner.values_offset is None:
            raise ObjectParseError(
                f"relocation against {rel.symbol.name!r} outside any map's values",
                section=sec.name,
                offset=rel.offset,
            )
        moff = rel.offset - owner.offset - owner.values_offset
        if moff < 0 or moff % 8:
            raise ObjectParseError("misaligned map values relocation", section=sec.name, offset=rel.offset)
        if not rel.symbol.name:
            raise ObjectParseError(
                "map values relocation against an unnamed symbol", section=sec.name, offset=rel.offset
            )
        values.setdefault(owner.spec.name, {})[moff // 8] = rel.symbol.name
    out = []
    for d in defs:
        init = values.get(d.spec.name)
        if init:
            top = max(init)
            if top >= d.spec.max_entries:
                raise ObjectParseError(
                    f"map {d.spec.name!r}: initial value at index {top} "
                    f"beyond max_entries {d.spec.max_entries}",
                    section=sec.name,
                )
            d = replace(d, spec=replace(d.spec, initial_values=tuple(sorted(init.items()))))
        out.append(d)
    return out
