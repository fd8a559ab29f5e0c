"""``pybpf object show FILE``: what a BPF object file contains.

Programs (section, type, expected attach type, attach target, size), maps
(type, sizes, flags, pinning), global variables, externs and struct_ops
variables (their struct and which program fills which member), as rich tables
or, with the global ``--json``, as JSON with stable keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..errors import BPFError
from .main import emit_json, options


def load_object(path: str) -> Any:
    """Parse ``path`` as an ObjectSpec; unreadable files become a BPFError."""
    from ..object import ObjectSpec

    try:
        return ObjectSpec.from_file(Path(path))
    except OSError as exc:
        raise BPFError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _type_name(spec: Any, type_id: int | None) -> str | None:
    if type_id is None or spec.btf is None:
        return None
    try:
        text: str = spec.btf.type_str(type_id)
    except BPFError:
        return f"[{type_id}]"
    return text


def _attach(prog: Any) -> dict[str, Any] | None:
    a = prog.attach
    if a is None:
        return None
    out: dict[str, Any] = {"kind": a.kind.value, "raw": a.raw}
    for key in ("name", "category", "path", "symbol", "offset", "provider", "problem"):
        value = getattr(a, key)
        if value is not None:
            out[key] = value
    return out


def _map_json(spec: Any, m: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": m.name,
        "type": m.type.uapi_name,
        "kind": m.kind.value,
        "section": m.section,
        "key_size": m.key_size,
        "value_size": m.value_size,
        "max_entries": m.max_entries,
        "flags": m.flags,
        "pinning": m.pinning.name.lower(),
        "numa_node": m.numa_node,
        "map_extra": m.map_extra,
        "key_type": _type_name(spec, m.key_type_id),
        "value_type": _type_name(spec, m.value_type_id),
        "inner": _map_json(spec, m.inner) if m.inner is not None else None,
        "initial_values": [{"index": i, "name": n} for i, n in m.initial_values],
    }
    return out


def object_json(spec: Any) -> dict[str, Any]:
    """The JSON document ``object show --json`` prints (stable keys)."""
    return {
        "name": spec.name,
        "license": spec.license,
        "kern_version": spec.kern_version,
        "programs": [
            {
                "name": p.name,
                "section": p.section,
                "type": p.prog_type.uapi_name,
                "expected_attach_type": p.expected_attach_type.uapi_name if p.expected_attach_type else None,
                "attach": _attach(p),
                "sleepable": p.sleepable,
                "frags": p.frags,
                "insn_count": p.insn_count,
                "subprograms": list(p.subprograms),
            }
            for p in spec.programs.values()
        ],
        "maps": [_map_json(spec, m) for m in spec.maps.values()],
        "variables": [
            {
                "name": v.name,
                "section": v.section,
                "map": v.map_name,
                "offset": v.offset,
                "size": v.size,
                "type": _type_name(spec, v.type_id),
                "global": v.is_global,
            }
            for v in spec.variables.values()
        ],
        "externs": [
            {
                "name": e.name,
                "kind": e.kind.value,
                "type": _type_name(spec, _var_type(spec, e.type_id)),
                "function": e.is_func,
                "weak": e.weak,
            }
            for e in spec.externs.values()
        ],
        "struct_ops": [
            {
                "name": so.name,
                "section": so.section,
                "type": so.type_name,
                "size": so.size,
                "link": so.link,
                "programs": dict(so.programs),
            }
            for so in spec.struct_ops.values()
        ],
    }


def _var_type(spec: Any, type_id: int | None) -> int | None:
    """The type of a VAR (a FUNC's prototype), for display."""
    if type_id is None or spec.btf is None:
        return None
    try:
        t = spec.btf[type_id]
    except BPFError:
        return None
    inner = getattr(t, "type_id", None)
    return inner if isinstance(inner, int) else type_id


def _flags_text(flags: int) -> str:
    return f"{flags:#x}" if flags else "0"


def _print_tables(doc: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    probe = Console()
    console = Console(highlight=False, soft_wrap=True, width=None if probe.is_terminal else 200)
    console.print(f"[bold]{doc['name'] or '(object)'}[/]  license: {doc['license'] or '-'}", end="")
    console.print(f"  kern_version: {doc['kern_version']:#x}" if doc["kern_version"] else "")
    progs = Table(title="programs", title_justify="left")
    for col in ("name", "section", "type", "attach type", "attach target", "insns", "flags"):
        progs.add_column(col, justify="right" if col == "insns" else "left")
    for p in doc["programs"]:
        flags = ",".join(f for f, on in (("sleepable", p["sleepable"]), ("frags", p["frags"])) if on)
        target = p["attach"]["raw"] if p["attach"] else "-"
        progs.add_row(
            p["name"],
            p["section"],
            p["type"],
            p["expected_attach_type"] or "-",
            target,
            str(p["insn_count"]),
            flags or "-",
        )
    console.print(progs)
    if doc["maps"]:
        maps = Table(title="maps", title_justify="left")
        for col in ("name", "type", "key", "value", "max_entries", "flags", "pinning", "section"):
            maps.add_column(col, justify="right" if col in ("key", "value", "max_entries") else "left")
        for m in doc["maps"]:
            maps.add_row(
                m["name"],
                m["type"],
                str(m["key_size"]),
                str(m["value_size"]),
                str(m["max_entries"]),
                _flags_text(m["flags"]),
                m["pinning"],
                m["section"],
            )
        console.print(maps)
    if doc["variables"]:
        table = Table(title="variables", title_justify="left")
        for col in ("name", "map", "offset", "size", "type"):
            table.add_column(col, justify="right" if col in ("offset", "size") else "left")
        for v in doc["variables"]:
            table.add_row(v["name"], v["map"], str(v["offset"]), str(v["size"]), v["type"] or "-")
        console.print(table)
    if doc["externs"]:
        table = Table(title="externs", title_justify="left")
        for col in ("name", "kind", "type", "weak"):
            table.add_column(col)
        for e in doc["externs"]:
            table.add_row(e["name"], e["kind"], e["type"] or "-", "yes" if e["weak"] else "no")
        console.print(table)
    if doc["struct_ops"]:
        table = Table(title="struct_ops", title_justify="left")
        for col in ("name", "struct", "size", "section", "programs"):
            table.add_column(col, justify="right" if col == "size" else "left")
        for so in doc["struct_ops"]:
            filled = ", ".join(f"{member}={prog}" for member, prog in so["programs"].items())
            table.add_row(so["name"], so["type"], str(so["size"]), so["section"], filled or "-")
        console.print(table)


@click.group("object")
def object_cmd() -> None:
    """Inspect BPF object files (.bpf.o) without loading them."""


@object_cmd.command("show")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-j", "--json", "as_json", is_flag=True, help="Print JSON (same as the global --json).")
def show_cmd(file: str, as_json: bool) -> None:
    """Show the programs, maps, variables, externs and struct_ops of FILE."""
    doc = object_json(load_object(file))
    if as_json or options().json:
        emit_json(doc)
    else:
        _print_tables(doc)
