"""Object references on the command line: ``id N``, ``pinned PATH``, ``name NAME``, ``tag TAG``.

bpftool names a program or map by one of these keyword pairs (keywords may be
abbreviated); :func:`parse_ref` reads one from the front of the arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import click

from .keywords import match_prefix


@dataclass(frozen=True, slots=True)
class Ref:
    """How the user named an object: by ``kind`` ("id", "pinned", "name", "tag") and ``value``."""

    kind: str
    value: str

    @property
    def id(self) -> int:
        try:
            value = int(self.value, 0)
        except ValueError:
            raise click.UsageError(f"id {self.value!r} is not a number") from None
        if value < 0:
            raise click.UsageError(f"id {self.value!r} is negative")
        return value

    def __str__(self) -> str:
        return f"{self.kind} {self.value}"


def parse_ref(
    args: Sequence[str], *, what: str, kinds: Sequence[str] = ("id", "pinned", "name")
) -> tuple[Ref, list[str]]:
    """The reference at the front of ``args`` and the remaining arguments."""
    grammar = " | ".join(f"{k} {'PATH' if k == 'pinned' else k.upper()}" for k in kinds)
    if not args:
        raise click.UsageError(f"expected {what}: {grammar}")
    kind = match_prefix(args[0], list(kinds), what=f"{what} reference")
    if len(args) < 2:
        raise click.UsageError(f"{kind} needs a value ({what}: {grammar})")
    ref = Ref(kind, args[1])
    if kind == "id":
        ref.id  # noqa: B018 - validates the number now, with a clear message
    return ref, list(args[2:])


def no_more(args: Sequence[str], grammar: str) -> None:
    if args:
        raise click.UsageError(f"unexpected argument {args[0]!r} (expected: {grammar})")
