"""``pybpf asm`` and ``pybpf disasm``: text <-> raw bytecode from the command line.

Raw bytecode is little-endian 8-byte slots.  ``asm`` without ``-o`` prints one
64-bit word per slot in hex, opcode in the low byte (the conformance suite's
``-- raw`` form), so that the output can be pasted into a test and read back by
``disasm``.  ``disasm`` takes any of: raw bytes, such hex words, space-separated
hex bytes, or assembler text in either syntax.
"""

from __future__ import annotations

import os
import re
import struct
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from ..errors import (
    AsmError,
    BPFError,
    CallDepthError,
    InstructionLimitError,
    InvalidInstructionError,
    MemoryAccessError,
    UnknownHelperError,
    VMError,
)
from ..isa import Instruction, assemble, decode, disassemble, encode
from ..vm import InvalidProgramError

_HEX_WORD = re.compile(r"(?:0[xX])?[0-9a-fA-F]{16}")
_HEX_BYTE = re.compile(r"[0-9a-fA-F]{2}")


def _read_input(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise BPFError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _as_text(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BPFError(
            f"{path} is not assembler text: byte {exc.start} is not UTF-8",
            hint="'pybpf disasm FILE' and 'pybpf run FILE' read raw bytecode",
        ) from None


# Hints for the errors of asm/disasm/run, most specific class first.
_HINTS: tuple[tuple[type[BPFError], str], ...] = (
    (AsmError, "both syntaxes are read: 'mov %r0, 1' (conformance) and 'r0 = 1' (C-like)"),
    (InvalidInstructionError, "the input must be little-endian 8-byte eBPF instructions"),
    (MemoryAccessError, "rerun with --trace to see where the address came from"),
    (InstructionLimitError, "raise --max-instructions if the program is meant to run that long"),
    (CallDepthError, "bpf-to-bpf calls nest at most 8 frames, as in the kernel"),
    (UnknownHelperError, "pybpf run provides the helpers chosen with --helpers"),
    (InvalidProgramError, "the program is refused before it runs; check its jump and call targets"),
    (VMError, "rerun with --trace to see the instructions that led there"),
)


@contextmanager
def hinted() -> Iterator[None]:
    """Give an error of the instruction layer or the VM a hint for the CLI's one line."""
    try:
        yield
    except BPFError as exc:
        if exc.hint is None:
            exc.hint = next((h for cls, h in _HINTS if isinstance(exc, cls)), None)
        raise


def _write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` so that ``path`` is either complete or untouched."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent or Path("."), prefix=f".{path.name}.")
    except OSError as exc:
        raise BPFError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def hex_words(code: bytes) -> str:
    """One ``0x%016x`` little-endian word per slot."""
    return "".join(f"{word:#018x}\n" for (word,) in struct.iter_unpack("<Q", code))


def program_from_input(data: bytes, path: str) -> list[Instruction]:
    """Raw bytes, hex words, hex bytes or assembler text -> instructions."""
    if data.startswith(b"\x7fELF"):
        raise BPFError(
            f"{path} is an ELF object, not raw bytecode",
            hint="disassemble programs of objects with 'pybpf prog dump' / llvm-objdump",
        )
    if b"\x00" in data or not data.strip():
        return decode(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return decode(data)  # not text: raw bytecode
    tokens = re.sub(r"#.*", "", text).split()
    if tokens and all(_HEX_WORD.fullmatch(t) for t in tokens):
        return decode(b"".join(struct.pack("<Q", int(t, 16)) for t in tokens))
    if tokens and all(_HEX_BYTE.fullmatch(t) for t in tokens) and len(tokens) % 8 == 0:
        return decode(bytes(int(t, 16) for t in tokens))
    return assemble(text)


@click.command("asm")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write raw bytecode to this file.")
@click.option(
    "--syntax",
    type=click.Choice(["auto", "conformance", "c"]),
    default="auto",
    show_default=True,
    help="Assembler syntax of FILE.",
)
def asm_cmd(file: str, output: str | None, syntax: str) -> None:
    """Assemble FILE (conformance or C-like syntax) into raw little-endian bytecode.

    Without -o, print one 64-bit hex word per slot.
    """
    text = _as_text(_read_input(file), file)
    with hinted():
        code = encode(assemble(text, syntax))  # type: ignore[arg-type]
    if output is None:
        click.echo(hex_words(code), nl=False)
    else:
        _write_atomically(Path(output), code)


@click.command("disasm")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--style",
    type=click.Choice(["kernel", "llvm", "conformance"]),
    default="kernel",
    show_default=True,
    help="kernel = bpftool prog dump xlated, llvm = llvm-objdump -d, conformance = the suite's syntax.",
)
def disasm_cmd(file: str, style: str) -> None:
    """Disassemble FILE: raw bytecode, hex words/bytes, or assembler text."""
    with hinted():
        program = program_from_input(_read_input(file), file)
    click.echo(disassemble(program, style), nl=False)  # type: ignore[arg-type]
