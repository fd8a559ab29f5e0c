"""``pybpf run`` and ``pybpf conformance-plugin``: run programs in the userspace VM."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import BPFError
from ..helpers.registry import HelperRegistry, default_registry
from ..vm import VM, TraceEvent
from ..vm.conformance import conformance_helpers
from .main import emit_json, options


def parse_hex_bytes(text: str, what: str = "memory") -> bytes:
    """Hex bytes in any common spelling: ``"aa bb"``, ``"aabb"``, ``"0xaa 0xbb"``."""
    tokens = text.replace(",", " ").split()
    try:
        if all(len(t.removeprefix("0x").removeprefix("0X")) <= 2 for t in tokens):
            return bytes(int(t, 16) for t in tokens)
        return bytes.fromhex("".join(t.removeprefix("0x").removeprefix("0X") for t in tokens))
    except ValueError as exc:
        raise BPFError(f"bad hex {what}: {exc}") from None


def _registry(name: str) -> HelperRegistry:
    return conformance_helpers() if name == "conformance" else default_registry()


@click.command("run")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--mem", "mem_hex", metavar="HEX", help="Input memory as hex bytes (r1 points to a copy).")
@click.option("--mem-file", type=click.Path(dir_okay=False, exists=True), help="Input memory from a file.")
@click.option("--trace", is_flag=True, help="Print every executed instruction and the registers it changed.")
@click.option("--max-instructions", type=click.IntRange(min=0), default=1_000_000, show_default=True)
@click.option(
    "--helpers",
    "helper_set",
    type=click.Choice(["default", "conformance"]),
    default="default",
    show_default=True,
    help="Helper set: pybpf's defaults or the conformance suite's (id 5 = unwind).",
)
@click.option("--engine", type=click.Choice(["compiled", "reference"]), default="compiled", show_default=True)
def run_cmd(
    file: str,
    mem_hex: str | None,
    mem_file: str | None,
    trace: bool,
    max_instructions: int,
    helper_set: str,
    engine: str,
) -> None:
    """Run FILE (raw bytecode or assembler text) in the VM and print r0."""
    from .cmd_isa import _read_input, hinted, program_from_input

    if mem_hex is not None and mem_file is not None:
        raise click.UsageError("--mem and --mem-file are mutually exclusive")
    mem = b""
    if mem_hex is not None:
        mem = parse_hex_bytes(mem_hex)
    elif mem_file is not None:
        mem = Path(mem_file).read_bytes()
    as_json = options().json
    events: list[TraceEvent] = []
    tracer = None
    if trace:
        tracer = events.append if as_json else (lambda ev: click.echo(f"{ev.pc:4d}: {ev.format()}"))
    with hinted():
        program = program_from_input(_read_input(file), file)
        vm = VM(
            program,
            helpers=_registry(helper_set),
            max_instructions=max_instructions,
            engine="reference" if engine == "reference" else "compiled",
        )
        r0 = vm.run(mem, trace=tracer)
    if as_json:
        payload: dict[str, object] = {"r0": r0, "executed": vm.executed}
        if trace:
            payload["trace"] = [
                {"pc": ev.pc, "depth": ev.depth, "insn": ev.text, "changes": dict(ev.changes)}
                for ev in events
            ]
        emit_json(payload)
        return
    click.echo(f"{r0:#x}")


@click.command(
    "conformance-plugin",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def conformance_plugin_cmd(args: tuple[str, ...]) -> None:
    """Run the program on stdin for the bpf_conformance runner: PLUGIN [HEXMEM] [OPTIONS...].

    The program arrives on stdin as hex bytes, the memory as the first argument
    (possibly empty); r0 is printed in hex.  The runner's plugin options follow
    the memory and are accepted and ignored, values included.  Helper 5 is the
    suite's "unwind"; callx is supported.
    """
    mem_arg = args[0] if args and not args[0].startswith("-") else ""
    try:
        mem = parse_hex_bytes(mem_arg)
        program = parse_hex_bytes(sys.stdin.read(), "program")
        r0 = VM(program, helpers=conformance_helpers()).run(mem)
    except BPFError as exc:
        click.echo(str(exc))
        # SystemExit, not ctx.exit(): the top-level group runs click with
        # standalone_mode=False, which would swallow the exit status.
        raise SystemExit(1) from None
    click.echo(f"{r0:x}")
