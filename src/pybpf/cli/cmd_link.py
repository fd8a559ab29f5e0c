"""``pybpf link show [id N | pinned PATH]`` and ``link pin``: BPF links (kernel; the VM has none)."""

from __future__ import annotations

import click

from ..errors import BPFError
from .keywords import keyword_command
from .options import emit_json, options
from .refs import no_more, parse_ref
from .store import current_store

GRAMMAR = """Usage: pybpf link { show | list } [LINK]
       pybpf link pin LINK PATH
       pybpf link help

       LINK := { id N | pinned PATH }"""


def _one(ref_args: list[str]) -> dict[str, object]:
    ref, rest = parse_ref(ref_args, what="LINK", kinds=("id", "pinned"))
    no_more(rest, "link show [id N | pinned PATH]")
    links = current_store().links()
    if ref.kind == "pinned":
        from ..kernel.links import Link
        from ..kernel.pin import get_pinned

        owned = get_pinned(ref.value)
        if owned.kind != "link":
            owned.close()
            raise BPFError(f"{ref.value} is a pinned {owned.kind}, not a link")
        link = Link.from_fd(owned.release())
        try:
            wanted = link.id
        finally:
            link.close()
    else:
        wanted = ref.id
    for rec in links:
        if rec["id"] == wanted:
            return rec
    raise BPFError(f"no link with id {wanted}")


def show(args: list[str]) -> None:
    records = [_one(args)] if args else current_store().links()
    if options().json:
        emit_json(records[0] if args else records)
        return
    from .table import print_table

    print_table(
        None,
        ("id", "type", "prog_id", "attach_type", "target"),
        [
            (
                r["id"],
                r["type"],
                r["prog_id"],
                r.get("attach_type"),
                r.get("devname") or r.get("target_name") or r.get("cgroup_id") or r.get("target_btf_id"),
            )
            for r in records
        ],
    )


def pin(args: list[str]) -> None:
    ref, rest = parse_ref(args, what="LINK", kinds=("id", "pinned"))
    if len(rest) != 1:
        raise click.UsageError("expected: link pin { id N | pinned PATH } PATH")
    if options().backend != "kernel":
        raise BPFError("the VM has no links (use --backend kernel)")
    from ..kernel.inspect import fd_by_id
    from ..kernel.pin import get_pinned, pin_fd

    owned = fd_by_id("link", ref.id) if ref.kind == "id" else get_pinned(ref.value)
    with owned:
        pin_fd(owned.fd, rest[0])


VERBS = {"show": show, "list": show, "pin": pin, "help": lambda a: click.echo(GRAMMAR)}


link_cmd = keyword_command("link", "Show and pin BPF links.", GRAMMAR, VERBS)
