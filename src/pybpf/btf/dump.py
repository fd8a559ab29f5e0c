"""``bpftool btf dump`` output: the raw text form and its JSON twin.

The text is byte-for-byte what bpftool prints (one ``[id] KIND 'name' ...``
line per type, tab-indented member/param/value/secinfo lines), so scripts
written against bpftool keep working and tests can diff whole outputs.
Anonymous names print as ``(anon)``.  For split BTF only the split types are
printed, as bpftool does.
"""

from __future__ import annotations

from typing import Any

from .spec import BTF
from .types import (
    Array,
    Datasec,
    DeclTag,
    Enum,
    Enum64,
    Float,
    Func,
    FuncLinkage,
    FuncProto,
    Fwd,
    Int,
    IntEncoding,
    Struct,
    Type,
    Union,
    Var,
    VarLinkage,
)

_INT_ENCODING = {
    IntEncoding.NONE: "(none)",
    IntEncoding.SIGNED: "SIGNED",
    IntEncoding.CHAR: "CHAR",
    IntEncoding.BOOL: "BOOL",
}
_FUNC_LINKAGE: dict[int, str] = {
    FuncLinkage.STATIC: "static",
    FuncLinkage.GLOBAL: "global",
    FuncLinkage.EXTERN: "extern",
}
_VAR_LINKAGE: dict[int, str] = {
    VarLinkage.STATIC: "static",
    VarLinkage.GLOBAL_ALLOCATED: "global",
    VarLinkage.GLOBAL_EXTERN: "extern",
}


def _n(name: str) -> str:
    return name or "(anon)"


def _int_encoding(t: Int) -> str:
    # bpftool switches on the whole encoding value: combinations print UNKN.
    return _INT_ENCODING.get(t.encoding, "UNKN")


def _func_linkage(linkage: int) -> str:
    return _FUNC_LINKAGE.get(linkage, "(unknown)")


def _var_linkage(linkage: int) -> str:
    return _VAR_LINKAGE.get(linkage, "(unknown)")


def format_type(btf: BTF, t: Type) -> str:
    """One type in bpftool's raw format (several lines for types with members), no final newline."""
    head = f"[{t.id}] {t.kind.name} '{_n(t.name)}'"
    if isinstance(t, Int):
        return (
            f"{head} size={t.size} bits_offset={t.bits_offset} nr_bits={t.nr_bits} "
            f"encoding={_int_encoding(t)}"
        )
    if isinstance(t, Struct | Union):
        lines = [f"{head} size={t.size} vlen={len(t.members)}"]
        for m in t.members:
            line = f"\t'{_n(m.name)}' type_id={m.type_id} bits_offset={m.bits_offset}"
            if m.bitfield_size:
                line += f" bitfield_size={m.bitfield_size}"
            lines.append(line)
        return "\n".join(lines)
    if isinstance(t, Array):
        return f"{head} type_id={t.type_id} index_type_id={t.index_type_id} nr_elems={t.nelems}"
    if isinstance(t, Enum):
        enc = "SIGNED" if t.signed else "UNSIGNED"
        lines = [f"{head} encoding={enc} size={t.size} vlen={len(t.values)}"]
        lines.extend(f"\t'{_n(v.name)}' val={v.value}" for v in t.values)
        return "\n".join(lines)
    if isinstance(t, Enum64):
        enc, suffix = ("SIGNED", "LL") if t.signed else ("UNSIGNED", "ULL")
        lines = [f"{head} encoding={enc} size={t.size} vlen={len(t.values)}"]
        lines.extend(f"\t'{_n(v.name)}' val={v.value}{suffix}" for v in t.values)
        return "\n".join(lines)
    if isinstance(t, Fwd):
        return f"{head} fwd_kind={'union' if t.is_union else 'struct'}"
    if isinstance(t, Func):
        return f"{head} type_id={t.type_id} linkage={_func_linkage(t.linkage)}"
    if isinstance(t, FuncProto):
        lines = [f"{head} ret_type_id={t.return_type_id} vlen={len(t.params)}"]
        lines.extend(f"\t'{_n(p.name)}' type_id={p.type_id}" for p in t.params)
        return "\n".join(lines)
    if isinstance(t, Var):
        return f"{head} type_id={t.type_id}, linkage={_var_linkage(t.linkage)}"
    if isinstance(t, Datasec):
        lines = [f"{head} size={t.size} vlen={len(t.vars)}"]
        for v in t.vars:
            target = btf[v.type_id]
            lines.append(
                f"\ttype_id={v.type_id} offset={v.offset} size={v.size} "
                f"({target.kind.name} '{_n(target.name)}')"
            )
        return "\n".join(lines)
    if isinstance(t, Float):
        return f"{head} size={t.size}"
    if isinstance(t, DeclTag):
        return f"{head} type_id={t.type_id} component_idx={t.component_idx}"
    # PTR, TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG
    return f"{head} type_id={t.type_id}"  # type: ignore[union-attr]


def dump_raw(btf: BTF) -> str:
    """The whole ``bpftool btf dump file F`` text (newline-terminated)."""
    if not btf.own_types:
        return ""
    return "\n".join([format_type(btf, t) for t in btf.own_types]) + "\n"


def type_json(t: Type) -> dict[str, Any]:
    """One type as ``bpftool -j btf dump`` renders it."""
    out: dict[str, Any] = {"id": t.id, "kind": t.kind.name, "name": _n(t.name)}
    if isinstance(t, Int):
        out.update(size=t.size, bits_offset=t.bits_offset, nr_bits=t.nr_bits, encoding=_int_encoding(t))
    elif isinstance(t, Struct | Union):
        members = []
        for m in t.members:
            entry: dict[str, Any] = {"name": _n(m.name), "type_id": m.type_id, "bits_offset": m.bits_offset}
            if m.bitfield_size:
                entry["bitfield_size"] = m.bitfield_size
            members.append(entry)
        out.update(size=t.size, vlen=len(t.members), members=members)
    elif isinstance(t, Array):
        out.update(type_id=t.type_id, index_type_id=t.index_type_id, nr_elems=t.nelems)
    elif isinstance(t, Enum | Enum64):
        quirk = isinstance(t, Enum) and not t.signed
        # bpftool feeds the s32 wire value of an unsigned ENUM to a u64 JSON
        # field: values with bit 31 set come out sign-extended.  Reproduced.
        values: list[dict[str, Any]] = [
            {"name": _n(v.name), "val": v.value | 0xFFFFFFFF00000000 if quirk and v.value >> 31 else v.value}
            for v in t.values
        ]
        out.update(
            encoding="SIGNED" if t.signed else "UNSIGNED", size=t.size, vlen=len(t.values), values=values
        )
    elif isinstance(t, Fwd):
        out["fwd_kind"] = "union" if t.is_union else "struct"
    elif isinstance(t, Func):
        out.update(type_id=t.type_id, linkage=_func_linkage(t.linkage))
    elif isinstance(t, FuncProto):
        out.update(
            ret_type_id=t.return_type_id,
            vlen=len(t.params),
            params=[{"name": _n(p.name), "type_id": p.type_id} for p in t.params],
        )
    elif isinstance(t, Var):
        out.update(type_id=t.type_id, linkage=_var_linkage(t.linkage))
    elif isinstance(t, Datasec):
        out.update(
            size=t.size,
            vlen=len(t.vars),
            vars=[{"type_id": v.type_id, "offset": v.offset, "size": v.size} for v in t.vars],
        )
    elif isinstance(t, Float):
        out["size"] = t.size
    elif isinstance(t, DeclTag):
        out.update(type_id=t.type_id, component_idx=t.component_idx)
    else:
        out["type_id"] = t.type_id  # type: ignore[union-attr]
    return out


def dump_json(btf: BTF) -> dict[str, Any]:
    """The ``bpftool -j btf dump file F`` document: ``{"types": [...]}``."""
    return {"types": [type_json(t) for t in btf.own_types]}
