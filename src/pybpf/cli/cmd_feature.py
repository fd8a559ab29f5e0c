"""``pybpf feature [probe]``: what this build supports, in ``bpftool feature probe``'s shape.

For the VM the answer comes from the runtime's own tables: program types with a
context model (progtypes.PROG_TYPE_SPECS), map types with an implementation
(maps.MAP_CLASSES) and, per program type, the helpers both allowed for it and
implemented.  With ``--backend kernel`` (or ``probe kernel``) cli/feature_probe.py asks the
running kernel, with bpftool's answers.
"""

from __future__ import annotations

from typing import Any

import click

from .keywords import keyword_command
from .options import emit_json, options

GRAMMAR = """Usage: pybpf feature probe [kernel] [full]
       pybpf feature list
       pybpf feature help

       kernel: probe the running kernel (as --backend kernel); default: this build's VM
       full: also list helpers that write to the kernel log (trace_printk, probe_write_user, ...)"""


def vm_features() -> dict[str, Any]:
    from ..helpers.defaults import build_default_registry
    from ..maps import MAP_CLASSES
    from ..progtypes import PROG_TYPE_SPECS
    from ..uapi import MapType, ProgType

    implemented = {h.name for h in build_default_registry()}
    progs = {f"have_{t.uapi_name}_prog_type": t in PROG_TYPE_SPECS for t in ProgType if t.value}
    maps = {f"have_{t.uapi_name}_map_type": t in MAP_CLASSES for t in MapType if t.value}
    helpers = {
        f"{t.uapi_name}_available_helpers": sorted(f"bpf_{h}" for h in spec.helpers if h in implemented)
        for t, spec in sorted(PROG_TYPE_SPECS.items())
    }
    return {"program_types": progs, "map_types": maps, "helpers": helpers}


def probe(args: list[str]) -> None:
    from .keywords import match_prefix

    words = {match_prefix(word, ["kernel", "full"], what="feature probe keyword") for word in args}
    if options().backend == "kernel" or "kernel" in words:
        from .feature_probe import kernel_features

        doc = kernel_features(full="full" in words)
    else:
        doc = vm_features()
    if options().json:
        emit_json(doc)
        return
    click.echo("Scanning eBPF program types...")
    for key, ok in doc["program_types"].items():
        click.echo(f"eBPF program_type {key[5:-10]} is {'' if ok else 'NOT '}available")
    click.echo("\nScanning eBPF map types...")
    for key, ok in doc["map_types"].items():
        click.echo(f"eBPF map_type {key[5:-9]} is {'' if ok else 'NOT '}available")
    if doc["helpers"]:
        click.echo("\nScanning eBPF helper functions...")
        for key, names in doc["helpers"].items():
            click.echo(f"eBPF helpers supported for program type {key[: -len('_available_helpers')]}:")
            for name in names:
                click.echo(f"\t- {name}")


VERBS = {"probe": probe, "list": probe, "help": lambda a: click.echo(GRAMMAR)}


feature_cmd = keyword_command(
    "feature", "List program types, map types and helpers supported.", GRAMMAR, VERBS, default="probe"
)
