"""``pybpf struct_ops show|register|unregister``: struct_ops maps in the kernel, as bpftool has them.

``show`` lists every BPF_MAP_TYPE_STRUCT_OPS map with the kernel struct it
implements; ``register OBJ [LINK_DIR]`` loads an object and registers each of its
struct_ops variables so that they stay registered after pybpf exits (a
``.struct_ops.link`` one through a link pinned in LINK_DIR); ``unregister``
deletes a plain registration. Kernel only: the VM has no kernel structs to fill.
"""

from __future__ import annotations

import os
from typing import Any

import click

from ..errors import BPFError, NotSupportedError
from .keywords import keyword_command
from .options import emit_json, options
from .refs import no_more, parse_ref

GRAMMAR = """Usage: pybpf struct_ops { show | list } [STRUCT_OPS_MAP]
       pybpf struct_ops register OBJ [LINK_DIR]
       pybpf struct_ops unregister STRUCT_OPS_MAP
       pybpf struct_ops help

       STRUCT_OPS_MAP := [ id STRUCT_OPS_MAP_ID | name STRUCT_OPS_MAP_NAME ]"""


def _kernel_only() -> None:
    if options().backend != "kernel":
        raise NotSupportedError("struct_ops live in the kernel (use --backend kernel)")


def _maps(args: list[str], grammar: str) -> list[dict[str, Any]]:
    """id, name and kernel struct of the struct_ops maps ``args`` selects (all when empty)."""
    from ..kernel.inspect import iter_map_infos
    from ..kernel.struct_ops import kernel_struct_name
    from ..uapi import MapType

    ref = None
    if args:
        ref, rest = parse_ref(args, what="STRUCT_OPS_MAP", kinds=("id", "name"))
        no_more(rest, grammar)
    out = []
    for info in iter_map_infos():
        if info.type != MapType.STRUCT_OPS:
            continue
        if ref is not None and (info.id != ref.id if ref.kind == "id" else info.name != ref.value):
            continue
        kind = kernel_struct_name(info.btf_vmlinux_value_type_id)
        out.append({"id": info.id, "name": info.name, "kernel_struct_ops": kind})
    if ref is not None and not out:
        raise BPFError(f"no struct_ops found for {ref.value}")
    return out


def show(args: list[str]) -> None:
    _kernel_only()
    records = _maps(args, "struct_ops show [id N | name NAME]")
    if options().json:
        # as bpftool: one object for an id, a list otherwise (names need not be unique)
        emit_json(records[0] if args and args[0] == "id" else records)
        return
    for r in records:
        click.echo(f"{r['id']}: {r['name']:<15} {r['kernel_struct_ops']:<32}")


def register(args: list[str]) -> None:
    _kernel_only()
    if not args or len(args) > 2:
        raise click.UsageError("expected: struct_ops register OBJ [LINK_DIR]")
    from ..kernel.struct_ops import StructOpsRegistration
    from ..loaded import load

    link_dir = args[1] if len(args) == 2 else None
    with load(args[0], backend="kernel") as obj:
        if not obj.spec.struct_ops:
            raise BPFError(f'{args[0]} has no struct_ops variable (SEC(".struct_ops"))')
        for name, so in obj.spec.struct_ops.items():
            if so.link and link_dir is None:
                raise BPFError(
                    f"struct_ops {name} is registered through a link: give LINK_DIR to pin it in, "
                    "or it would be unregistered when pybpf exits"
                )
        done = []
        for name, so in obj.spec.struct_ops.items():
            link = obj.attach_struct_ops(name)
            if isinstance(link, StructOpsRegistration):
                link.disconnect()
            else:
                link.pin(os.path.join(str(link_dir), name))
            map_id = obj.maps[name].raw.info().id
            done.append(f"Registered {so.type_name} {name} id {map_id}")
    _report(done)


def unregister(args: list[str]) -> None:
    _kernel_only()
    from ..kernel.inspect import fd_by_id
    from ..kernel.struct_ops import unregister_map

    grammar = "struct_ops unregister { id N | name NAME }"
    if not args:
        raise click.UsageError(f"expected: {grammar}")
    done = []
    for rec in _maps(args, grammar):
        with fd_by_id("map", rec["id"]) as owned:
            unregister_map(owned.fd, f"struct_ops {rec['name']}")
        done.append(f"Unregistered {rec['kernel_struct_ops']} {rec['name']} id {rec['id']}")
    _report(done)


def _report(lines: list[str]) -> None:
    """bpftool's answer to register/unregister: a line per map, or ``null`` with -j."""
    if options().json:
        emit_json(None)
        return
    for line in lines:
        click.echo(line)


VERBS = {
    "show": show,
    "list": show,
    "register": register,
    "unregister": unregister,
    "help": lambda a: click.echo(GRAMMAR),
}


struct_ops_cmd = keyword_command("struct_ops", "Show, register and unregister struct_ops.", GRAMMAR, VERBS)
