"""``pybpf gen skeleton FILE [name NAME]``: bpftool's gen verb, writing Python.

The skeleton (a typed Python module embedding the object) goes to stdout, as
bpftool's C skeleton does: ``pybpf gen skeleton xdp.bpf.o > xdp_skel.py``.
``name NAME`` overrides the object name (global-data map names and the class
name, ``NameSkel``, derive from it).
"""

from __future__ import annotations

from collections.abc import Callable

import click

from .keywords import Keyword, keyword_command, parse_keywords, text_arg

GRAMMAR = """Usage: pybpf gen skeleton FILE [name NAME]
       pybpf gen help

       FILE: a clang-built BPF object (.bpf.o); the skeleton goes to stdout:
             pybpf gen skeleton xdp.bpf.o > xdp_skel.py
       NAME: the object name (class NAMESkel, global-data map names); default from FILE"""

SKELETON_KEYWORDS = (Keyword("name", "NAME"),)

Handler = Callable[[list[str]], None]


def gen_skeleton(args: list[str]) -> None:
    if not args:
        raise click.UsageError("expected: gen skeleton FILE [name NAME]")
    path, rest = args[0], args[1:]
    kw = parse_keywords(rest, SKELETON_KEYWORDS)
    from ..skeleton import skeleton_for_file

    source = skeleton_for_file(path, name=text_arg(kw, "name"))
    click.echo(source, nl=False)


def help_verb(args: list[str]) -> None:
    click.echo(GRAMMAR)


#: verb -> handler(remaining args).  (bpftool's ``gen object``/``min_core_btf`` would plug in here.)
VERBS: dict[str, Handler] = {"skeleton": gen_skeleton, "help": help_verb}


gen_cmd = keyword_command(
    "gen", "Generate a typed Python skeleton (a module embedding the object) on stdout.", GRAMMAR, VERBS
)
