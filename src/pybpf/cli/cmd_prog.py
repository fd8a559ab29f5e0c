"""``pybpf prog VERB ...``: programs, with bpftool's keyword grammar.

Verbs live in :data:`VERBS` (name -> handler taking the remaining arguments),
matched by unique prefix as bpftool does; adding a verb is adding one entry.

``prog dump xlated file FILE [name PROG] [linum] [opcodes]`` prints the linked
instructions of the programs in an object file as ``bpftool prog dump xlated``
prints a loaded one: the function prototype before each function, the C source
line (``; <line>``, with ``linum`` also ``[file:F line_num:N line_col:C]``) before
the instructions it produced, and with ``opcodes`` the raw bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from ..errors import BPFError, NotSupportedError
from .keywords import Keyword, dispatch, parse_keywords, text_arg
from .main import emit_json, options

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
    from ..isa.codec import encode

    raw = encode([insn])
    first = " ".join(f"{b:02x}" for b in raw[:8])
    if len(raw) > 8:
        return first + "  " + " ".join(f"{b:02x}" for b in raw[8:])
    return first


def xlated_lines(spec: Any, prog: Any, *, linum: bool = False, opcodes: bool = False) -> list[str]:
    """The text of ``prog dump xlated`` for one program of ``spec``."""
    from ..isa.disasm import format_insn

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
        out.append(format_insn(insn, "kernel", pc))
        if opcodes:
            out.append("       " + _hex_bytes(insn))
        pc += insn.width
    return out


def xlated_json(spec: Any, prog: Any, *, linum: bool = False, opcodes: bool = False) -> list[dict[str, Any]]:
    """bpftool's JSON records for one program: proto, src (and file/line), disasm, opcodes."""
    from ..isa.codec import encode
    from ..isa.disasm import format_insn

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
        rec["disasm"] = format_insn(insn, "kernel")
        if insn.meta is not None and insn.meta.reference is not None:
            rec["reference"] = insn.meta.reference
        if opcodes:
            raw = encode([insn])
            rec["opcodes"] = {
                "code": f"{insn.opcode:#04x}",
                "src_reg": f"{insn.src:#x}",
                "dst_reg": f"{insn.dst:#x}",
                "off": " ".join(f"{b:02x}" for b in raw[2:4]),
                # bpftool shows 12 bytes from imm for a lddw: imm, the 2nd slot's head, its imm
                "imm": " ".join(f"{b:02x}" for b in raw[4:16]),
            }
        out.append(rec)
        pc += insn.width
    return out


def dump_xlated(args: list[str]) -> None:
    from .cmd_object import load_object

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
    raise NotSupportedError("prog dump jited needs a loaded program; objects have no JIT image")


DUMP_KINDS: dict[str, Handler] = {"xlated": dump_xlated, "jited": dump_jited}


def dump(args: list[str]) -> None:
    dispatch(args, DUMP_KINDS, what="dump kind")


#: verb -> handler(remaining args).  Other verbs (show, load, run, pin...) plug in here.
VERBS: dict[str, Handler] = {"dump": dump}


@click.command(
    "prog",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def prog_cmd(args: tuple[str, ...]) -> None:
    """Program verbs, bpftool grammar: prog dump xlated file FILE [name PROG] [linum] [opcodes]."""
    dispatch(list(args), VERBS)
