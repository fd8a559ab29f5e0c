"""Entry point of the ``pybpf`` command.

The top-level group resolves sub-commands lazily (``COMMANDS`` maps a name to the
module that defines it), so ``pybpf --help`` imports almost nothing.  Command
names may be abbreviated to a prefix, as bpftool allows (``pybpf p s``; the first
name in bpftool's order wins).
Every ``BPFError`` becomes one line ``Error: <reason>`` plus a hint; ``-d`` shows
the traceback instead, ``-j`` prints errors as JSON.
"""

from __future__ import annotations

import importlib
import json
import sys

import click

from .options import Options, emit_json, options

__all__ = ["COMMANDS", "Options", "cli", "emit_json", "main", "options"]

# name -> ("module:attribute" of a click.Command, one-line help); modules are
# imported on use, and the help column is static so --help imports nothing.
COMMANDS: dict[str, tuple[str, str]] = {
    # bpftool's objects first, in bpftool's order: a prefix means the first that fits.
    "prog": ("pybpf.cli.cmd_prog:prog_cmd", "Inspect, load, pin and run programs (show, load, run, ...)."),
    "map": ("pybpf.cli.cmd_map:map_cmd", "Create, inspect and edit maps (show, dump, lookup, update, ...)."),
    "link": ("pybpf.cli.cmd_link:link_cmd", "Show and pin BPF links."),
    "net": ("pybpf.cli.cmd_net:net_cmd", "Show XDP and tc programs attached to network interfaces."),
    "feature": ("pybpf.cli.cmd_feature:feature_cmd", "List program types, map types and helpers supported."),
    "btf": ("pybpf.cli.cmd_btf:btf_cmd", "Inspect BTF type information (btf dump file F, btf show)."),
    "gen": ("pybpf.cli.cmd_gen:gen_cmd", "Generate a typed Python skeleton from an object file."),
    "struct_ops": (
        "pybpf.cli.cmd_struct_ops:struct_ops_cmd",
        "Show, register and unregister struct_ops (kernel).",
    ),
    "object": ("pybpf.cli.cmd_object:object_cmd", "Inspect a BPF object file (programs, maps, variables)."),
    "asm": ("pybpf.cli.cmd_isa:asm_cmd", "Assemble text into raw bytecode."),
    "disasm": ("pybpf.cli.cmd_isa:disasm_cmd", "Disassemble bytecode or assembler text."),
    "run": ("pybpf.cli.cmd_vm:run_cmd", "Run a raw program in the VM and print r0."),
    "conformance-plugin": (
        "pybpf.cli.cmd_vm:conformance_plugin_cmd",
        "Speak the bpf_conformance runner's plugin protocol.",
    ),
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use and matched by prefix (bpftool's order)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, attr = entry[0].split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            raise click.UsageError(f"command {cmd_name!r} is not available in this build") from None
        command: click.Command = getattr(module, attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0]
        if name not in COMMANDS:
            matches = [c for c in COMMANDS if name and c.startswith(name)]
            if matches:  # the first in COMMANDS' (bpftool's) order, as bpftool picks
                args = [matches[0], *args[1:]]
            elif name and "help".startswith(name):  # `pybpf help`, as `bpftool help`
                click.echo(ctx.get_help())
                ctx.exit(0)
        return super().resolve_command(ctx, args)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-j", "--json", "as_json", is_flag=True, help="Print JSON output.")
@click.option("-p", "--pretty", is_flag=True, help="Pretty-print JSON (implies --json).")
@click.option("-d", "--debug", is_flag=True, help="Show tracebacks on errors.")
@click.option(
    "--backend",
    type=click.Choice(["vm", "kernel"]),
    default="vm",
    show_default=True,
    help="Where objects live: the userspace VM or the running kernel.",
)
@click.version_option(package_name="pybpf")
@click.pass_context
def cli(ctx: click.Context, as_json: bool, pretty: bool, debug: bool, backend: str) -> None:
    """pybpf: inspect, run and load eBPF programs (grammar mirrors bpftool)."""
    ctx.obj = Options(json=as_json or pretty, pretty=pretty, debug=debug, backend=backend)


def _wants(flag: str, argv: list[str]) -> bool:
    long = {"-d": "--debug", "-j": "--json", "-p": "--pretty"}[flag]
    for arg in argv:
        if arg == "--":
            break
        if arg in (flag, long):
            return True
        if arg.startswith("-") and not arg.startswith("--") and flag[1] in arg[1:]:
            return True
    return False


_GLOBAL_FLAGS = frozenset({"-j", "--json", "-p", "--pretty", "-d", "--debug"})


def hoist_global_options(args: list[str]) -> list[str]:
    """Global options moved in front of the object, wherever they were typed.

    bpftool parses its options with getopt, which finds them anywhere on the line
    (``bpftool map show -j``); click only takes them before the object.  Only
    the global ones move (``-j -p -d --backend X`` and bundles like ``-jp``); an
    object's own options (``btf dump -B BASE``) stay where they are.
    """
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        if (
            arg in _GLOBAL_FLAGS
            or arg.startswith("--backend=")
            or (len(arg) > 2 and arg[0] == "-" and arg[1] != "-" and set(arg[1:]) <= set("jpd"))
        ):
            front.append(arg)
        elif arg == "--backend" and i + 1 < len(args):
            front.extend(args[i : i + 2])
            i += 1
        else:
            rest.append(arg)
        i += 1
    return front + rest


def main(argv: list[str] | None = None) -> int:
    """Run the command; return its exit code (errors: 1 for failures, 2 for usage)."""
    args = hoist_global_options(list(sys.argv[1:] if argv is None else argv))
    debug = _wants("-d", args)
    pretty = _wants("-p", args)
    as_json = _wants("-j", args) or pretty
    from ..errors import BPFError

    try:
        # In non-standalone mode click returns the code a command passed to
        # ctx.exit(n) instead of raising; it is the command's exit status.
        rc = cli.main(args=args, prog_name="pybpf", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.Abort:
        return 130
    except click.ClickException as exc:
        if debug:
            raise
        _report(exc.format_message(), f"see '{_help_for(args)}' for the grammar", as_json, pretty)
        return 2
    except BPFError as exc:
        log = getattr(exc, "log", None)  # a verifier rejection carries the whole log
        if debug:
            if isinstance(log, str) and log.strip():
                click.echo(log.rstrip("\n"), err=True)
            raise
        hint = exc.hint
        if isinstance(log, str) and log.strip():
            hint = f"{hint}; -d prints it" if hint else "-d prints the verifier log"
        _report(str(exc), hint, as_json, pretty)
        return 1
    except (OSError, ValueError) as exc:
        if debug:
            raise
        _report(str(exc), None, as_json, pretty)
        return 1
    except KeyboardInterrupt:
        return 130
    return rc if isinstance(rc, int) else 0


def _help_for(args: list[str]) -> str:
    """The help command of the object the user was typing (``pybpf map help``)."""
    words = [a for a in args if not a.startswith("-")]
    if words and words[0] in ("vm", "kernel"):
        words = words[1:]
    if words:
        matches = [c for c in COMMANDS if c.startswith(words[0])]
        name = words[0] if words[0] in COMMANDS else (matches[0] if matches else None)
        if name in ("prog", "map", "net", "link", "feature", "btf", "gen"):
            return f"pybpf {name} help"
        if name is not None:
            return f"pybpf {name} --help"
    return "pybpf --help"


def _report(message: str, hint: str | None, as_json: bool, pretty: bool = False) -> None:
    """One line on stderr, or with --json bpftool's one-key document ``{"error": "..."}`` on stdout."""
    text = f"{message} (hint: {hint})" if hint else message
    if as_json:
        click.echo(json.dumps({"error": text}, indent=2 if pretty else None))
        return
    click.echo(f"Error: {text}", err=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
