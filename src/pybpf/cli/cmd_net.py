"""``pybpf net show [dev NAME]``: XDP and tc (tcx) programs per interface.

In the kernel: XDP from rtnetlink (IFLA_XDP), tcx from BPF_PROG_QUERY per interface of
the current network namespace.  The VM has
no network interfaces, so its lists are empty.
"""

from __future__ import annotations

from typing import Any

import click

from ..errors import BPFError
from .keywords import Keyword, keyword_command, parse_keywords, text_arg
from .options import emit_json, options

GRAMMAR = """Usage: pybpf net { show | list } [dev NAME]
       pybpf net help"""


def net_json(dev: str | None) -> dict[str, list[dict[str, Any]]]:
    doc: dict[str, list[dict[str, Any]]] = {"xdp": [], "tc": [], "flow_dissector": []}
    if options().backend != "kernel":
        return doc
    from .netlink import xdp_attachments
    from .store import KernelStore

    for a in xdp_attachments():
        if dev is None or a.devname == dev:
            doc["xdp"].append({"devname": a.devname, "ifindex": a.ifindex, "mode": a.mode, "id": a.prog_id})
    import socket

    from ..kernel.links import query_tcx
    from ..uapi import AttachType

    names = {p["id"]: p["name"] for p in KernelStore().progs()}
    for ifindex, devname in sorted(socket.if_nameindex()):
        if dev is not None and devname != dev:
            continue
        for attach_type, direction in (
            (AttachType.TCX_INGRESS, "ingress"),
            (AttachType.TCX_EGRESS, "egress"),
        ):
            for prog_id, link_id in query_tcx(ifindex, attach_type):
                doc["tc"].append(
                    {
                        "devname": devname,
                        "ifindex": ifindex,
                        "kind": f"tcx/{direction}",
                        "name": names.get(prog_id, ""),
                        "prog_id": prog_id,
                        "link_id": link_id,
                    }
                )
    return doc


def show(args: list[str]) -> None:
    kw = parse_keywords(args, (Keyword("dev", "NAME"),))
    dev = text_arg(kw, "dev")
    if dev is not None:
        import socket

        try:
            socket.if_nametoindex(dev)
        except OSError:
            raise BPFError(f"invalid devname {dev}", hint="list interfaces with 'ip link'") from None
    doc = net_json(dev)
    if options().json:
        emit_json([doc])
        return
    click.echo("xdp:")
    for x in doc["xdp"]:
        click.echo(f"{x['devname']}({x['ifindex']}) {x['mode']} id {x['id']}")
    click.echo("\ntc:")
    for t in doc["tc"]:
        where = f"{t['devname']}({t['ifindex']}) {t['kind']}"
        click.echo(f"{where} {t['name']} prog_id {t['prog_id']} link_id {t['link_id']}")
    click.echo("\nflow_dissector:")


VERBS = {"show": show, "list": show, "help": lambda a: click.echo(GRAMMAR)}


net_cmd = keyword_command("net", "Show XDP and tc programs attached to network interfaces.", GRAMMAR, VERBS)
