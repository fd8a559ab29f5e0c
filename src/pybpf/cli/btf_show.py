"""``pybpf btf show|list [id N]``: loaded BTF objects (the kernel's; the VM keeps none)."""

from __future__ import annotations

import click

from ..errors import BPFError
from .options import emit_json, options
from .refs import no_more, parse_ref
from .store import current_store


def show(args: list[str]) -> None:
    records = current_store().btfs()
    single = bool(args)
    if args:
        ref, rest = parse_ref(args, what="BTF", kinds=("id",))
        no_more(rest, "btf show [id N]")
        records = [r for r in records if r["id"] == ref.id]
        if not records:
            raise BPFError(f"no BTF object with id {ref.id}")
    if options().json:
        emit_json(records[0] if single else records)
        return
    for r in records:
        name = f"name {r['name']}  " if r.get("name") else ""
        line = f"{r['id']}: {name}size {r['size']}B"
        if r["prog_ids"]:
            line += "  prog_ids " + ",".join(map(str, r["prog_ids"]))
        if r["map_ids"]:
            line += "  map_ids " + ",".join(map(str, r["map_ids"]))
        click.echo(line)
