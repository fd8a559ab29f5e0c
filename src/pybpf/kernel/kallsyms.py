"""Kernel symbols from /proc/kallsyms: ksym externs and the calls of xlated programs.

This is the one reader of /proc/kallsyms.  The object loader resolves untyped
``__ksym`` externs by name (:func:`address_of`); ``prog dump xlated`` names the
calls of a program as the kernel rewrote it (:func:`xlated_call_names`): a
helper or kfunc call's ``imm`` becomes the callee's address relative to
``__bpf_call_base`` and a bpf-to-bpf call's ``imm`` the callee's index into the
program's JIT symbols (its ``off`` keeps the relative target).  bpftool names
both from kallsyms: ``call bpf_ktime_get_ns#281872`` and
``call pc+3#bpf_prog_<tag>_<name>``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

from ..isa.instruction import Instruction
from ..isa.opcodes import CallSrc

KALLSYMS = Path("/proc/kallsyms")
CALL_BASE_SYMBOL = "__bpf_call_base"
_U64 = (1 << 64) - 1


def read_entries(path: Path = KALLSYMS) -> list[tuple[int, str]]:
    """(address, name) of every symbol whose address is visible (not zeroed by kptr_restrict)."""
    out: list[tuple[int, str]] = []
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return out
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        try:
            address = int(parts[0], 16)
        except ValueError:
            continue
        if address:
            out.append((address, parts[2]))
    return out


@cache
def _entries() -> tuple[tuple[int, str], ...]:
    return tuple(read_entries())


@cache
def by_address() -> dict[int, str]:
    """This machine's visible symbols by address, the first name of an address (read once)."""
    out: dict[int, str] = {}
    for address, name in _entries():
        out.setdefault(address, name)
    return out


@cache
def by_name() -> dict[str, int]:
    """This machine's visible symbols by name; the first of a repeated name wins.

    Built from the whole file, not from :func:`by_address`: aliases such as
    ``_stext`` share an address with another symbol.
    """
    out: dict[str, int] = {}
    for address, name in _entries():
        out.setdefault(name, address)
    return out


def address_of(name: str) -> int:
    """A kernel symbol's address, 0 when it is absent or hidden."""
    return by_name().get(name, 0)


def xlated_call_names(
    jited_ksyms: Sequence[int], symbols: dict[int, str] | None = None
) -> Callable[[Instruction], str | None]:
    """A ``call_text`` for the kernel disassembly style of xlated instructions.

    Returns None for an instruction it cannot name (no visible kernel
    addresses, not JIT-ed), so the plain spelling is used.
    """
    syms = by_address() if symbols is None else symbols
    base = next((addr for addr, name in syms.items() if name == CALL_BASE_SYMBOL), None)

    def call_text(insn: Instruction) -> str | None:
        if not insn.is_call or insn.source:
            return None
        if insn.src == CallSrc.PSEUDO_CALL:
            if not 0 <= insn.imm < len(jited_ksyms):
                return None
            address = jited_ksyms[insn.imm]
            return f"pc{insn.off:+d}#{syms.get(address, f'{address:#x}')}"
        if insn.src in (CallSrc.HELPER, CallSrc.KFUNC) and base is not None:
            name = syms.get((base + insn.imm) & _U64)
            return f"{name}#{insn.imm}" if name is not None else None
        return None

    return call_text
