"""Global options of the ``pybpf`` command, kept apart from ``main``.

Why a module of its own: ``python -m pybpf.cli.main`` imports ``main`` twice
(once as ``__main__``, once as ``pybpf.cli.main`` by the command modules), which
gave two different ``Options`` classes and silently lost ``--json``.  This module
is only ever imported under one name, so every command sees the same class.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import click


@dataclass(frozen=True)
class Options:
    """Global options every command can read through :func:`options`."""

    json: bool = False
    pretty: bool = False
    debug: bool = False
    backend: str = "vm"


def options() -> Options:
    """The global options of the running command (defaults outside a command)."""
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx is not None else None
    return obj if isinstance(obj, Options) else Options()


def emit_json(value: Any) -> None:
    """Print ``value`` as JSON honouring --pretty."""
    opts = options()
    click.echo(json.dumps(value, indent=2 if opts.pretty else None, sort_keys=False))
