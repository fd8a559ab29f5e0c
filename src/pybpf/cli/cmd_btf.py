"""``pybpf btf VERB ...``: bpftool's BTF dump and show, with its keyword grammar.

``btf dump BTF_SRC [format raw|c]`` where BTF_SRC is a file (an ELF object's
.BTF section, or raw BTF such as /sys/kernel/btf/vmlinux), a BTF object by id
(kernel), or the BTF of a loaded program or map (VM bpffs or kernel).  For a
map, bpftool dumps only the key and value types unless told ``all``; the same
here.  ``-B/--base-btf BASE`` reads FILE as split BTF over BASE (kernel module
BTF over vmlinux), as bpftool's option of the same name.  The global ``--json``
prints bpftool's ``-j`` document instead of text.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from ..errors import BPFError, NotSupportedError
from .keywords import is_prefix, keyword_command, match_prefix
from .options import emit_json, options
from .refs import no_more, parse_ref

GRAMMAR = """Usage: pybpf btf { show | list } [id BTF_ID]
       pybpf btf dump [-B BASE] BTF_SRC [format FORMAT]
       pybpf btf help

       BTF_SRC := { id BTF_ID | prog PROG | map MAP [{ key | value | kv | all }] | file FILE }
       FORMAT := { raw | c }
       PROG := { id N | pinned PATH | name NAME | tag TAG }
       MAP := { id N | pinned PATH | name NAME }
       -B BASE: read FILE as split BTF over BASE (module BTF over vmlinux)"""

_FORMATS = ("raw", "c")
_MAP_PARTS = ("key", "value", "kv", "all")


def _load_file(path: str, base_path: str | None) -> Any:
    from ..btf import BTF

    try:
        base = BTF.from_file(base_path) if base_path else None
        return BTF.from_file(path, base=base)
    except OSError as exc:
        raise BPFError(f"cannot read {exc.filename or path}: {exc.strerror or exc}") from exc


def _base_option(args: list[str]) -> tuple[str | None, list[str]]:
    """Take ``-B BASE`` / ``--base-btf BASE`` out of ``args``."""
    rest: list[str] = []
    base: str | None = None
    i = 0
    while i < len(args):
        if args[i] in ("-B", "--base-btf"):
            if i + 1 >= len(args):
                raise click.UsageError(f"{args[i]} needs a BASE file")
            base = args[i + 1]
            i += 2
            continue
        rest.append(args[i])
        i += 1
    return base, rest


def _source(args: list[str], base: str | None) -> tuple[Any, list[int], list[str]]:
    """The BTF named by BTF_SRC, the root type ids to dump (empty: all) and the rest."""
    from .store import current_store

    if not args:
        raise click.UsageError("expected BTF_SRC: id BTF_ID | prog PROG | map MAP | file FILE")
    kind = match_prefix(args[0], ["id", "prog", "map", "file"], what="BTF source")
    if kind == "file":
        if len(args) < 2:
            raise click.UsageError("file needs a FILE")
        return _load_file(args[1], base), [], args[2:]
    if kind == "id":
        ref, rest = parse_ref(args, what="BTF", kinds=("id",))
        return current_store().btf_by_id(ref.id), [], rest
    if kind == "prog":
        ref, rest = parse_ref(args[1:], what="PROG", kinds=("id", "pinned", "name", "tag"))
        return current_store().prog_btf(ref), [], rest
    ref, rest = parse_ref(args[1:], what="MAP")
    btf, key_id, value_id = current_store().map_btf(ref)
    part = "kv"
    if rest and not is_prefix(rest[0], "format"):
        part = match_prefix(rest[0], list(_MAP_PARTS), what="map BTF part")
        rest = rest[1:]
    roots = {"key": [key_id], "value": [value_id], "kv": [key_id, value_id], "all": []}[part]
    return btf, [r for r in roots if r] if part != "all" else [], rest


def dump(args: list[str]) -> None:
    base, args = _base_option(args)
    btf, roots, rest = _source(args, base)
    fmt = "raw"
    if rest:
        match_prefix(rest[0], ["format"], what="keyword")
        if len(rest) < 2:
            raise click.UsageError("format needs a FORMAT (raw or c)")
        fmt = rest[1]
        if fmt not in _FORMATS:
            raise click.UsageError(f"unknown format {fmt!r} (expected raw or c)")
        no_more(rest[2:], "btf dump BTF_SRC [format FORMAT]")
    if fmt == "c":
        if options().json:
            raise click.UsageError("format c has no JSON form")
        if roots:
            raise NotSupportedError("format c dumps whole BTF objects; name the map's BTF with 'all'")
        from ..btf.cdump import dump_c

        sys.stdout.write(dump_c(btf))
        return
    from ..btf import dump_json, dump_raw
    from ..btf.dump import format_type, type_json

    if not roots:
        if options().json:
            emit_json(dump_json(btf))
        else:
            sys.stdout.write(dump_raw(btf))
        return
    types = [btf[i] for i in roots]
    if options().json:
        emit_json({"types": [type_json(t) for t in types]})
    else:
        sys.stdout.write("".join(format_type(btf, t) + "\n" for t in types))


def show(args: list[str]) -> None:
    from .btf_show import show as show_btfs

    show_btfs(args)


def help_verb(args: list[str]) -> None:
    click.echo(GRAMMAR)


Handler = Callable[[list[str]], None]
#: verb -> handler, in bpftool's order (a prefix means the first verb it fits).
VERBS: dict[str, Handler] = {"show": show, "list": show, "help": help_verb, "dump": dump}


btf_cmd = keyword_command("btf", "Inspect BTF type information.", GRAMMAR, VERBS)
