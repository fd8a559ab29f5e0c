"""Kernel symbol names for the calls of a program as the kernel rewrote it.

In the instructions the kernel hands back for ``prog dump xlated``, a helper
call's ``imm`` is the helper's address relative to ``__bpf_call_base`` and a
bpf-to-bpf call's ``imm`` is the callee's index into the program's JIT symbols
(its ``off`` keeps the relative target).  bpftool names both from
/proc/kallsyms: ``call bpf_ktime_get_ns#281872`` and
``call pc+3#bpf_prog_<tag>_<name>``.  :func:`xlated_call_names` gives
:func:`pybpf.isa.disassemble` the same names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ..isa.instruction import Instruction
from ..isa.opcodes import CallSrc

KALLSYMS = Path("/proc/kallsyms")
CALL_BASE_SYMBOL = "__bpf_call_base"


def read_kallsyms(path: Path = KALLSYMS) -> dict[int, str]:
    """Address -> name of every symbol whose address is visible (not zeroed by kptr_restrict)."""
    out: dict[int, str] = {}
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
            out.setdefault(address, parts[2])
    return out


def xlated_call_names(
    jited_ksyms: Sequence[int], symbols: dict[int, str] | None = None
) -> Callable[[Instruction], str | None]:
    """A ``call_text`` for the kernel disassembly style of xlated instructions.

    Returns None for an instruction it cannot name (no visible kernel
    addresses, not JIT-ed), so the plain spelling is used.
    """
    syms = read_kallsyms() if symbols is None else symbols
    base = next((addr for addr, name in syms.items() if name == CALL_BASE_SYMBOL), None)

    def call_text(insn: Instruction) -> str | None:
        if not insn.is_call or insn.source:
            return None
        if insn.src == CallSrc.PSEUDO_CALL:
            if not 0 <= insn.imm < len(jited_ksyms):
                return None
            address = jited_ksyms[insn.imm]
            return f"pc{insn.off:+d}#{syms.get(address, f'{address:#x}')}"
        if insn.src == CallSrc.HELPER and base is not None:
            name = syms.get(base + insn.imm)
            return f"{name}#{insn.imm}" if name is not None else None
        return None

    return call_text
