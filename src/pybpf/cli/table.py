"""Plain (non-JSON) output: rich tables, imported only when printed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

RIGHT = frozenset(
    {"id", "key", "value", "max_entries", "entries", "memlock", "xlated", "bytes", "size", "prog_id"}
)


def print_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """One table; cells are str()-ed, None prints as '-'."""
    from rich.console import Console
    from rich.table import Table

    probe = Console()
    console = Console(highlight=False, soft_wrap=True, width=None if probe.is_terminal else 200)
    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col, justify="right" if col in RIGHT else "left", overflow="fold")
    for row in rows:
        table.add_row(*("-" if v is None or v == "" else str(v) for v in row))
    console.print(table)


def print_help(text: str) -> None:
    click.echo(text.rstrip("\n"))
