"""bpftool-style keyword arguments: ``file F name P linum opcodes``.

bpftool reads its arguments as a sequence of keywords, some followed by a value,
and accepts any unambiguous prefix of a keyword (``f F n P li``).  Verbs of a
command group are matched the same way.  Errors are click.UsageError so the
CLI reports them as usage errors (exit code 2).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import click

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Keyword:
    """A keyword; ``value`` names its argument (``FILE``) or is None for a flag."""

    name: str
    value: str | None = None
    required: bool = False
    repeat: bool = False


def match_prefix(word: str, choices: Sequence[str], *, what: str) -> str:
    """The one choice ``word`` is a prefix of (an exact match wins); UsageError otherwise."""
    if word in choices:
        return word
    found = [c for c in choices if c.startswith(word)] if word else []
    if len(found) == 1:
        return found[0]
    if not found:
        raise click.UsageError(f"unknown {what} {word!r} (expected one of: {', '.join(choices)})")
    raise click.UsageError(f"ambiguous {what} {word!r}: {', '.join(found)}")


def parse_keywords(args: Sequence[str], keywords: Sequence[Keyword]) -> dict[str, str | bool | list[str]]:
    """Parse ``args`` into {keyword: value}; flags map to True, repeated keywords to lists."""
    by_name = {k.name: k for k in keywords}
    out: dict[str, str | bool | list[str]] = {}
    i = 0
    while i < len(args):
        name = match_prefix(args[i], list(by_name), what="keyword")
        kw = by_name[name]
        if kw.value is None:
            out[name] = True
            i += 1
            continue
        if i + 1 >= len(args):
            raise click.UsageError(f"keyword {name!r} needs a {kw.value} argument")
        value = args[i + 1]
        if kw.repeat:
            prev = out.setdefault(name, [])
            if isinstance(prev, list):
                prev.append(value)
        elif name in out:
            raise click.UsageError(f"keyword {name!r} given twice")
        else:
            out[name] = value
        i += 2
    missing = [k.name for k in keywords if k.required and k.name not in out]
    if missing:
        spell = " ".join(f"{k.name} {k.value}" for k in keywords if k.name in missing)
        raise click.UsageError(f"missing {spell}")
    return out


def dispatch(args: Sequence[str], verbs: Mapping[str, Callable[[list[str]], T]], *, what: str = "verb") -> T:
    """Run the verb named (or prefixed) by ``args[0]`` with the remaining arguments."""
    if not args:
        raise click.UsageError(f"missing {what} (one of: {', '.join(verbs)})")
    verb = match_prefix(args[0], list(verbs), what=what)
    return verbs[verb](list(args[1:]))


def text_arg(values: Mapping[str, str | bool | list[str]], name: str) -> str | None:
    value = values.get(name)
    return value if isinstance(value, str) else None
