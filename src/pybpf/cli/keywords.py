"""bpftool-style keyword arguments: ``file F name P linum opcodes``.

bpftool reads its arguments as a sequence of keywords, some followed by a value,
and accepts any prefix of a keyword (``f F n P li``).  Like bpftool's
``is_prefix`` walk over its command table, a prefix that fits several words
means the first of them in the table's order (``map d`` is ``map dump``,
``prog l`` is ``prog list``), so tables here keep bpftool's order.  Verbs of a
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
    """The choice ``word`` names: an exact match, else the first choice it is a prefix of.

    First in ``choices``' order, as bpftool resolves ``map d`` to ``dump``
    (its table lists dump before delete and dequeue); UsageError when none fits.
    """
    if word in choices:
        return word
    found = [c for c in choices if c.startswith(word)] if word else []
    if not found:
        raise click.UsageError(f"unknown {what} {word!r} (expected one of: {', '.join(choices)})")
    return found[0]


def is_prefix(word: str, full: str) -> bool:
    """bpftool's is_prefix: ``word`` is a non-empty prefix of ``full``."""
    return bool(word) and full.startswith(word)


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


_HELP_FLAGS = ("-h", "--help")


def dispatch(
    args: Sequence[str],
    verbs: Mapping[str, Callable[[list[str]], T]],
    *,
    what: str = "verb",
    grammar: str | None = None,
) -> T | None:
    """Run the verb named (or prefixed) by ``args[0]`` with the remaining arguments.

    With ``grammar``, ``VERB -h``/``VERB --help`` prints that verb's lines of it
    (``pybpf map update --help``) instead of running the verb.
    """
    if not args:
        raise click.UsageError(f"missing {what} (one of: {', '.join(verbs)})")
    verb = match_prefix(args[0], list(verbs), what=what)
    if grammar is not None and any(a in _HELP_FLAGS for a in args[1:]):
        click.echo(verb_grammar(grammar, verb))
        return None
    return verbs[verb](list(args[1:]))


def keyword_command(
    name: str,
    summary: str,
    grammar: str,
    verbs: Mapping[str, Callable[[list[str]], None]],
    *,
    default: str = "help",
) -> click.Command:
    """The click command of one object (``pybpf map ...``): words go to :func:`dispatch`.

    click only sees the object's name; the verbs and keywords after it are
    bpftool's, so they are taken raw (options like ``-B`` included) and read here.
    ``default`` is the verb run without any (bpftool prints the object's help).
    """

    def run(args: tuple[str, ...]) -> None:
        dispatch(list(args) or [default], verbs, grammar=grammar)

    command = click.command(
        name,
        help=f"{summary}\n\n\b\n{grammar}",
        context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
    )(click.argument("args", nargs=-1, type=click.UNPROCESSED)(run))
    return command


def verb_grammar(grammar: str, verb: str) -> str:
    """The usage lines of ``grammar`` for ``verb`` (with continuations) and its definitions.

    A usage line is ``[Usage:] pybpf OBJECT {VERB | ...} ...``: its third word,
    or any word of a leading ``{ a | b }`` group, names the verb.
    """
    usage, _, definitions = grammar.partition("\n\n")
    picked: list[str] = []
    keep = False
    for line in usage.splitlines():
        words = line.replace("Usage:", "").split()
        if words and words[0] == "pybpf":
            rest = words[2:]
            if rest and rest[0] == "{":
                group = rest[1 : rest.index("}")] if "}" in rest else rest[1:]
                names = [w for w in group if w != "|"]
            else:
                names = rest[:1]
            keep = verb in names
            if keep:
                line = "Usage: " + line.replace("Usage:", "").strip()
        if keep:
            picked.append(line)
    head = "\n".join(picked) if picked else usage
    return f"{head}\n\n{definitions}".rstrip("\n") if definitions else head


def text_arg(values: Mapping[str, str | bool | list[str]], name: str) -> str | None:
    value = values.get(name)
    return value if isinstance(value, str) else None
