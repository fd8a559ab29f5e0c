"""``pybpf prog VERB ...``: programs, with bpftool's keyword grammar.

Verbs live in :data:`VERBS` (name -> handler taking the remaining arguments),
matched by prefix in bpftool's order (``prog l`` is ``list``); adding a verb is adding one entry.
Programs are named by ``id N``, ``pinned PATH``, ``name NAME`` or ``tag TAG`` in
the VM bpffs (default) or, with ``--backend kernel``, in the running kernel.

``prog dump xlated file FILE [name PROG] [linum] [opcodes]`` prints the linked
instructions of the programs in an object file as ``bpftool prog dump xlated``
prints a loaded one: the function prototype before each function, the C source
line (``; <line>``, with ``linum`` also ``[file:F line_num:N line_col:C]``) before
the instructions it produced, and with ``opcodes`` the raw bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import click

from ..errors import BPFError, NotSupportedError
from ..isa.opcodes import AluOp, InsnClass, Source
from .keywords import Keyword, dispatch, keyword_command, match_prefix, parse_keywords, text_arg
from .options import emit_json, options
from .refs import no_more, parse_ref
from .store import VmStore, current_store

PROG_REF = "id N | pinned PATH | name NAME | tag TAG"
_REF_KINDS = ("id", "pinned", "name", "tag")
GRAMMAR = f"""Usage: pybpf prog {{ show | list }} [PROG]
       pybpf prog dump xlated {{ PROG | file FILE [name NAME] }} [linum] [opcodes]
       pybpf prog pin PROG PATH
       pybpf prog load OBJ PATH [type TYPE] [map name NAME pinned MAP_PATH]...
       pybpf prog loadall OBJ DIR [type TYPE] [pinmaps MAP_DIR]
       pybpf prog run {{ PROG | OBJ [name NAME] }} RUN_INPUT
       RUN_INPUT := {{ data_in FILE [data_out FILE] [ctx_in FILE] [ctx_out FILE] [repeat N] |
                    pcap_in FILE [pcap_out FILE] }}
       pybpf prog tracelog
       pybpf prog help

       PROG := {{ {PROG_REF} }}
       TYPE := a program type (xdp, socket_filter, sched_cls, kprobe, ...)
       PATH: a pin in the VM bpffs ($PYBPF_FS; /sys/fs/bpf/X means X in it), or bpffs with --backend kernel
"""

Handler = Callable[[list[str]], None]

DUMP_KEYWORDS = (
    Keyword("file", "FILE", required=True),
    Keyword("name", "PROG"),
    Keyword("linum"),
    Keyword("opcodes"),
)


def func_signature(btf: Any, func_id: int) -> str:
    """``int xdp_prog(struct xdp_md * ctx)``, as bpftool prints a BTF FUNC."""
    from ..btf import Func, FuncProto

    try:
        func = btf[func_id]
        proto = btf[func.type_id] if isinstance(func, Func) else None
        if not isinstance(func, Func) or not isinstance(proto, FuncProto):
            return ""
        params = ", ".join(
            "..." if p.type_id == 0 else f"{btf.type_str(p.type_id)} {p.name}".rstrip() for p in proto.params
        )
        return f"{btf.type_str(proto.return_type_id)} {func.name}({params})"
    except BPFError:
        return ""


def _hex_bytes(insn: Any) -> str:
    """The raw bytes of one instruction (16 for a lddw), as bpftool's ``opcodes`` line shows them."""
    from ..isa.codec import encode

    return " ".join(f"{b:02x}" for b in encode([insn], validate=False))


# The kernel's per-CPU address mov is ``r = r`` (ALU64 | MOV | X) with off = -1.
_MOV64_REG = InsnClass.ALU64 | AluOp.MOV | Source.X


def _disasm(insn: Any, pc: int | None = None, *, call_text: Any = None) -> str:
    """bpftool's text of one instruction; a kfunc call is named from its relocation.

    For a loaded program bpftool names a kfunc call from kallsyms (``call
    bpf_task_acquire#<addr>``, through ``call_text``); in an object file the
    relocation already names it, so the file dump says ``call bpf_task_acquire#0``
    rather than ``kernel-function``.
    """
    from ..isa.disasm import format_insn
    from ..isa.opcodes import CallSrc

    if insn.opcode == _MOV64_REG and insn.off == -1:
        # The kernel's per-CPU address mov (off = BPF_ADDR_PERCPU): bpftool prints the plain mov.
        insn = replace(insn, off=0)
    text = format_insn(insn, "kernel", pc, call_text=call_text)
    meta = insn.meta
    if insn.is_call and insn.src == CallSrc.KFUNC and meta is not None and meta.reference:
        text = text.replace("call kernel-function#", f"call {meta.reference}#", 1)
    return text


def xlated_lines(spec: Any, prog: Any, *, linum: bool = False, opcodes: bool = False) -> list[str]:
    """The text of ``prog dump xlated`` for one program of ``spec``."""

    funcs = {fi.insn_off: fi.type_id for fi in prog.func_info}
    lines = dict(prog.line_info)
    out: list[str] = []
    pc = 0
    for insn in prog.instructions:
        if spec.btf is not None and pc in funcs:
            sig = func_signature(spec.btf, funcs[pc])
            if sig:
                out.append(f"{sig}:")
        line = lines.get(pc)
        if line is not None:
            text = line.text.lstrip()
            if linum:
                text += f" [file:{line.file} line_num:{line.line} line_col:{line.column}]"
            out.append(f"; {text}")
        out.append(_disasm(insn, pc, call_text=getattr(prog, "call_text", None)))
        if opcodes:
            out.append("       " + _hex_bytes(insn))
        pc += insn.width
    return out


def xlated_json(spec: Any, prog: Any, *, linum: bool = False, opcodes: bool = False) -> list[dict[str, Any]]:
    """bpftool's JSON records for one program: proto, src (and file/line), disasm, opcodes."""
    from ..isa.codec import encode

    funcs = {fi.insn_off: fi.type_id for fi in prog.func_info}
    lines = dict(prog.line_info)
    out: list[dict[str, Any]] = []
    pc = 0
    for insn in prog.instructions:
        rec: dict[str, Any] = {"pc": pc}
        if spec.btf is not None and pc in funcs:
            sig = func_signature(spec.btf, funcs[pc])
            if sig:
                rec["proto"] = sig
        line = lines.get(pc)
        if line is not None:
            rec["src"] = line.text.lstrip()
            if linum:
                rec.update(file=line.file, line_num=line.line, line_col=line.column)
        rec["disasm"] = _disasm(insn, call_text=getattr(prog, "call_text", None))
        if insn.meta is not None and insn.meta.reference is not None:
            rec["reference"] = insn.meta.reference
        if opcodes:
            raw = encode([insn], validate=False)
            rec["opcodes"] = {
                "code": f"{insn.opcode:#04x}",
                "src_reg": f"{insn.src:#x}",
                "dst_reg": f"{insn.dst:#x}",
                "off": [f"0x{b:02x}" for b in raw[2:4]],
                # bpftool shows 12 bytes from imm for a lddw: imm, the 2nd slot's head, its imm
                "imm": [f"0x{b:02x}" for b in raw[4:16]],
            }
        out.append(rec)
        pc += insn.width
    return out


def _dump_loaded(args: list[str]) -> None:
    """``prog dump xlated PROG [linum] [opcodes]``: a loaded program, bpftool's flat JSON list."""
    ref, rest = parse_ref(args, what="PROG", kinds=_REF_KINDS)
    flags = {"linum": False, "opcodes": False}
    for word in rest:
        flags[match_prefix(word, list(flags), what="keyword")] = True
    xp = current_store().xlated(ref)
    if options().json:
        recs = xlated_json(xp, xp, linum=flags["linum"], opcodes=flags["opcodes"])
        for rec in recs:
            rec.pop("pc", None)
            rec.pop("reference", None)
        emit_json(recs)
        return
    click.echo("\n".join(xlated_lines(xp, xp, linum=flags["linum"], opcodes=flags["opcodes"])))


def dump_xlated(args: list[str]) -> None:
    from .cmd_object import load_object

    if args and not (args[0] and "file".startswith(args[0])):
        _dump_loaded(args)
        return
    kw = parse_keywords(args, DUMP_KEYWORDS)
    path = text_arg(kw, "file") or ""
    spec = load_object(path)
    name = text_arg(kw, "name")
    progs = [spec.program(name)] if name is not None else list(spec.programs.values())
    linum, opcodes = bool(kw.get("linum")), bool(kw.get("opcodes"))
    if options().json:
        emit_json(
            [
                {
                    "name": p.name,
                    "section": p.section,
                    "insns": xlated_json(spec, p, linum=linum, opcodes=opcodes),
                }
                for p in progs
            ]
        )
        return
    for i, prog in enumerate(progs):
        if len(progs) > 1:
            if i:
                click.echo("")
            click.echo(f"{prog.name}: section {prog.section}")
        click.echo("\n".join(xlated_lines(spec, prog, linum=linum, opcodes=opcodes)))


def dump_jited(args: list[str]) -> None:
    raise NotSupportedError(
        "prog dump jited is not supported: the VM has no JIT and pybpf has no native disassembler",
        hint="prog dump xlated shows the kernel's instructions; bpftool prog dump jited the native code",
    )


DUMP_KINDS: dict[str, Handler] = {"xlated": dump_xlated, "jited": dump_jited}


def dump(args: list[str]) -> None:
    dispatch(args, DUMP_KINDS, what="dump kind")


def show(args: list[str]) -> None:
    store = current_store()
    if args:
        ref, rest = parse_ref(args, what="PROG", kinds=_REF_KINDS)
        no_more(rest, f"prog show [{PROG_REF}]")
        records = [store.prog(ref)]
    else:
        records = store.progs()
    if options().json:
        emit_json(records[0] if args else records)
        return
    from .table import print_table

    print_table(
        None,
        ("id", "type", "name", "tag", "xlated", "map_ids", "loaded_at", "pinned"),
        [
            (
                p["id"],
                p["type"],
                p["name"],
                p["tag"],
                f"{p['bytes_xlated']}B",
                ",".join(map(str, p.get("map_ids", []))),
                _when(p["loaded_at"]),
                "\n".join(p.get("pinned", [])),
            )
            for p in records
        ],
    )


def _when(epoch: int) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(epoch))


def pin(args: list[str]) -> None:
    ref, rest = parse_ref(args, what="PROG", kinds=_REF_KINDS)
    if len(rest) != 1:
        raise click.UsageError(f"expected: prog pin {{{PROG_REF}}} PATH")
    current_store().prog_pin(ref, rest[0])


def _prog_type(name: str | None) -> Any:
    from ..uapi import ProgType

    if name is None:
        return None
    names = {t.uapi_name: t for t in ProgType}
    if name not in names:
        raise click.UsageError(f"unknown program type {name!r} (expected one of: {', '.join(names)})")
    return names[name]


def load(args: list[str]) -> None:
    """``prog load OBJ PATH [type T] [map name NAME pinned MPATH]...``: load, pin the first program."""
    grammar = "prog load OBJ PATH [type TYPE] [map name NAME pinned MAP_PATH]..."
    if len(args) < 2:
        raise click.UsageError(f"expected: {grammar}")
    obj, path, rest = args[0], args[1], args[2:]
    ptype = None
    map_pins: dict[str, str] = {}
    i = 0
    while i < len(rest):
        word = match_prefix(rest[i], ["type", "map"], what="keyword")
        if word == "type":
            if i + 1 >= len(rest):
                raise click.UsageError("type needs a TYPE")
            ptype = _prog_type(rest[i + 1])
            i += 2
            continue
        if len(rest) - i < 5:
            raise click.UsageError(f"expected: map name NAME pinned MAP_PATH ({grammar})")
        match_prefix(rest[i + 1], ["name"], what="keyword (map name NAME pinned PATH)")
        match_prefix(rest[i + 3], ["pinned"], what="keyword (map name NAME pinned PATH)")
        map_pins[rest[i + 2]] = rest[i + 4]
        i += 5
    current_store().prog_load(obj, path, prog_type=ptype, map_pins=map_pins)


def loadall(args: list[str]) -> None:
    """``prog loadall OBJ DIR [type T] [pinmaps MDIR]``: every program pinned as DIR/NAME."""
    if len(args) < 2:
        raise click.UsageError("expected: prog loadall OBJ DIR [type TYPE] [pinmaps MAP_DIR]")
    kw = parse_keywords(args[2:], (Keyword("type", "TYPE"), Keyword("pinmaps", "MAP_DIR")))
    current_store().prog_loadall(
        args[0], args[1], prog_type=_prog_type(text_arg(kw, "type")), map_dir=text_arg(kw, "pinmaps")
    )


class _KernelRunTarget:
    """A program of the running kernel in the shape prog_run's ``run_verb`` drives.

    ``run_verb`` wants (object, program): the object is a context manager with
    ``maps`` (none shown for a loaded kernel program, as bpftool shows none) and
    the program has ``name`` and ``test_run`` (BPF_PROG_TEST_RUN on its fd).
    """

    def __init__(self, program: Any) -> None:
        self.program = program
        self.maps: dict[str, Any] = {}
        self.name = str(program.name)

    def test_run(self, *, data_in: bytes = b"", ctx_in: bytes | None = None, repeat: int = 1) -> Any:
        return self.program.test_run(data_in, ctx_in, repeat)

    def __enter__(self) -> _KernelRunTarget:
        return self

    def __exit__(self, *exc: object) -> None:
        self.program.close()

    def close(self) -> None:
        self.program.close()


def run(args: list[str]) -> None:
    """``prog run``: cli/prog_run.py runs object files; a loaded PROG comes from the store.

    ``prog run pinned PATH ...`` (or ``id N``) reloads the program from the VM
    bpffs with its file-backed maps (or, with ``--backend kernel``, opens the
    kernel's program for BPF_PROG_TEST_RUN) and hands it to prog_run's
    ``run_verb`` in place of the object file it would otherwise load.
    """
    from . import prog_run

    if not args or args[0] not in _REF_KINDS:
        prog_run.run_verb(args)
        return
    ref, rest = parse_ref(args, what="PROG", kinds=_REF_KINDS)
    store = current_store()
    loaded: Any
    if isinstance(store, VmStore):
        from ..registry import load_record

        pinned = load_record(store.fs, store._record(ref))
        loaded, program = pinned.loaded, pinned.program
        trace_log = getattr(loaded.backend, "trace_log", None)
        if trace_log is not None:
            loaded.trace_log = trace_log
    else:
        from ..kernel.progs import KernelProgram
        from .store import KernelStore

        if not isinstance(store, KernelStore):
            raise NotSupportedError(f"prog run PROG: no programs in the {options().backend} store")
        owned = store._fd("prog", ref)
        loaded = program = _KernelRunTarget(KernelProgram.from_fd(owned.release()))

    # prog_run.run_verb loads FILE through its module-level _load; point it at the
    # already loaded program for this one call (interim until run_verb takes a loader).
    original = prog_run._load
    prog_run._load = lambda path, name: (loaded, program)
    try:
        prog_run.run_verb([str(ref), *rest])
    finally:
        prog_run._load = original
        loaded.close()


def tracelog(args: list[str]) -> None:
    from .prog_run import tracelog_verb

    tracelog_verb(args)


def help_verb(args: list[str]) -> None:
    click.echo(GRAMMAR.rstrip("\n"))


#: verb -> handler(remaining args), matched by prefix in bpftool's table order.
VERBS: dict[str, Handler] = {
    "show": show,
    "list": show,
    "help": help_verb,
    "dump": dump,
    "pin": pin,
    "load": load,
    "loadall": loadall,
    "tracelog": tracelog,
    "run": run,
}


prog_cmd = keyword_command("prog", "Inspect, load, pin and run programs.", GRAMMAR, VERBS)
