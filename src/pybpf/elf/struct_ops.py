"""struct_ops variables: SEC(".struct_ops") and SEC(".struct_ops.link").

A struct_ops object (a TCP congestion control, a sched_ext scheduler...) is a
global variable of a kernel struct type placed in one of these sections. libbpf
turns each such variable into a BPF_MAP_TYPE_STRUCT_OPS map named after it; its
function-pointer members are set by R_BPF_64_ABS64 relocations in
``.rel.struct_ops`` to the struct_ops programs that implement them, and its other
members (``name`` for a congestion control) are data copied to the kernel. A
``.struct_ops.link`` variable is attached through a BPF link (BPF_F_LINK).

The spec keeps what the file says: the variable, its BTF struct, its initial
bytes and which program fills which member. Sizes and member layout are the
object's own; matching them against the kernel's struct is the loader's job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ObjectParseError
from ..object.spec import StructOpsSpec
from ..uapi import ProgType
from .reader import ElfObject, Section, SymType

if TYPE_CHECKING:
    from ..btf import BTF
    from ..object.spec import ProgramSpec

STRUCT_OPS_SECTIONS = (".struct_ops", ".struct_ops.link")


def parse_struct_ops(
    elf: ElfObject, btf: BTF | None, programs: dict[str, ProgramSpec]
) -> dict[str, StructOpsSpec]:
    """Every struct_ops variable of the object, by name."""
    out: dict[str, StructOpsSpec] = {}
    for sec in elf.sections:
        if sec.name not in STRUCT_OPS_SECTIONS:
            continue
        for spec in _section_struct_ops(elf, sec, btf, programs):
            if spec.name in out:
                raise ObjectParseError(f"two struct_ops variables named {spec.name!r}", section=sec.name)
            out[spec.name] = spec
    return out


def _section_struct_ops(
    elf: ElfObject, sec: Section, btf: BTF | None, programs: dict[str, ProgramSpec]
) -> list[StructOpsSpec]:
    from ..btf import Datasec, Kind, Ptr, Struct, Var

    if btf is None:
        raise ObjectParseError(
            "struct_ops variables need the .BTF section, which is missing", section=sec.name
        )
    found = [t for t in btf.find_all(sec.name, Kind.DATASEC) if isinstance(t, Datasec)]
    if not found:
        raise ObjectParseError("no DATASEC in BTF describes the struct_ops variables", section=sec.name)
    data = bytes(sec.size) if sec.is_nobits else sec.data
    placed: list[tuple[int, int, str, Struct]] = []
    for vs in found[0].vars:
        var = btf[vs.type_id]
        if not isinstance(var, Var):
            raise ObjectParseError(f"DATASEC entry {vs.type_id} is not a VAR", section=sec.name)
        struct_type = btf.resolve(var.type_id)
        if not isinstance(struct_type, Struct):
            raise ObjectParseError(
                f"struct_ops variable {var.name!r} is not a struct", section=sec.name, offset=vs.offset
            )
        if vs.offset + vs.size > len(data) or vs.size < struct_type.size:
            raise ObjectParseError(
                f"struct_ops variable {var.name!r} ({struct_type.size} bytes at {vs.offset}) "
                f"does not fit its {len(data)}-byte section",
                section=sec.name,
                offset=vs.offset,
            )
        placed.append((vs.offset, struct_type.size, var.name, struct_type))

    members: dict[str, dict[str, str]] = {name: {} for _, _, name, _ in placed}
    for rel in elf.relocations.get(sec.index, ()):
        owner = next((p for p in placed if p[0] <= rel.offset < p[0] + p[1]), None)
        if owner is None:
            raise ObjectParseError(
                f"relocation against {rel.symbol.name!r} outside any struct_ops variable",
                section=sec.name,
                offset=rel.offset,
            )
        start, _, var_name, struct_type = owner
        member = next((m for m in struct_type.members if m.bits_offset == (rel.offset - start) * 8), None)
        pointer = btf.resolve(member.type_id) if member is not None else None
        if (
            member is None
            or not isinstance(pointer, Ptr)
            or btf.resolve(pointer.type_id).kind != Kind.FUNC_PROTO
        ):
            raise ObjectParseError(
                f"struct_ops {var_name!r}: relocation against {rel.symbol.name!r} "
                "does not set a function-pointer member",
                section=sec.name,
                offset=rel.offset,
            )
        prog = programs.get(rel.symbol.name) if rel.symbol.type == SymType.FUNC else None
        if prog is None or prog.prog_type != ProgType.STRUCT_OPS:
            raise ObjectParseError(
                f"struct_ops {var_name!r}: member {member.name!r} points at {rel.symbol.name!r}, "
                "which is not a struct_ops program",
                section=sec.name,
                offset=rel.offset,
            )
        members[var_name][member.name] = prog.name

    return [
        StructOpsSpec(
            name=name,
            section=sec.name,
            type_id=struct_type.id,
            type_name=struct_type.name,
            size=size,
            data=data[start : start + size],
            programs=tuple(
                (m.name, members[name][m.name]) for m in struct_type.members if m.name in members[name]
            ),
        )
        for start, size, name, struct_type in placed
    ]
