"""``pybpf btf dump file FILE [format raw|c]``: bpftool's BTF dump, from Python.

FILE is an ELF object (its .BTF section is read) or raw BTF such as
/sys/kernel/btf/vmlinux.  ``-B/--base-btf BASE`` reads FILE as split BTF over
BASE (kernel module BTF over vmlinux), as bpftool's option of the same name.
The global ``--json`` prints bpftool's ``-j`` document instead of text.
"""

from __future__ import annotations

import sys

import click

from ..btf import BTF, dump_json, dump_raw
from ..errors import BPFError
from .main import emit_json

_FORMATS = ("raw", "c")


def _json_requested() -> bool:
    """The global --json flag.

    Read by attribute rather than through ``main.options()``: under
    ``python -m pybpf.cli.main`` the root object is ``__main__.Options``, a
    different class from ``pybpf.cli.main.Options``, and options()'s
    isinstance check would silently drop the flag.
    """
    obj = click.get_current_context().find_root().obj
    return bool(getattr(obj, "json", False))


def _load(path: str, base_path: str | None) -> BTF:
    try:
        base = BTF.from_file(base_path) if base_path else None
        return BTF.from_file(path, base=base)
    except OSError as exc:
        raise BPFError(f"cannot read {exc.filename or path}: {exc.strerror or exc}") from exc


def _parse_dump_args(args: tuple[str, ...]) -> tuple[str, str]:
    """bpftool grammar: ``file FILE [format {raw|c}]`` (keywords may be prefixes)."""
    words = list(args)
    if len(words) < 2 or not "file".startswith(words[0]) or not words[0]:
        raise click.UsageError("expected: btf dump file FILE [format {raw|c}]")
    path = words[1]
    fmt = "raw"
    rest = words[2:]
    while rest:
        key = rest.pop(0)
        if key and "format".startswith(key) and rest:
            fmt = rest.pop(0)
            if fmt not in _FORMATS:
                raise click.UsageError(f"unknown format {fmt!r} (expected raw or c)")
        else:
            raise click.UsageError(f"unexpected argument {key!r}")
    return path, fmt


class _PrefixGroup(click.Group):
    """Sub-commands may be abbreviated to a unique prefix, as bpftool allows (``btf d f X``)."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        exact = super().get_command(ctx, cmd_name)
        if exact is not None:
            return exact
        matches = [name for name in self.list_commands(ctx) if name.startswith(cmd_name)]
        return super().get_command(ctx, matches[0]) if len(matches) == 1 else None


@click.group("btf", cls=_PrefixGroup)
def btf_cmd() -> None:
    """Inspect BTF type information (grammar mirrors bpftool btf)."""


@btf_cmd.command("dump", context_settings={"ignore_unknown_options": True})
@click.option("-B", "--base-btf", "base_btf", default=None, help="Base BTF for split BTF (module BTF).")
@click.argument("args", nargs=-1)
def dump_cmd(args: tuple[str, ...], base_btf: str | None) -> None:
    """Dump BTF: 'file FILE [format {raw|c}]'."""
    path, fmt = _parse_dump_args(args)
    btf = _load(path, base_btf)
    if fmt == "c":
        if _json_requested():
            raise click.UsageError("format c has no JSON form")
        from ..btf.cdump import dump_c

        sys.stdout.write(dump_c(btf))
        return
    if _json_requested():
        emit_json(dump_json(btf))
    else:
        sys.stdout.write(dump_raw(btf))


@btf_cmd.command("show", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1)
def show_cmd(args: tuple[str, ...]) -> None:
    """Show loaded BTF objects: '[id N]' (kernel with --backend kernel)."""
    from .btf_show import show

    show(list(args))


btf_cmd.add_command(show_cmd, "list")
