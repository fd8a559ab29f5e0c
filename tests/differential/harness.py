"""Run one program in the pybpf VM and in the kernel, and compare the 32-bit results.

The kernel side loads the program as BPF_PROG_TYPE_SOCKET_FILTER and runs it
once with BPF_PROG_TEST_RUN over a small packet; its ``retval`` is r0
truncated to u32, so the VM's u64 r0 is compared on its low 32 bits.

A verifier rejection is never skipped: the generators promise verifiable
programs, so a rejection fails with the program and the verifier's log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pybpf import vm
from pybpf.errors import BPFError
from pybpf.isa import Instruction, disassemble
from pybpf.kernel import KernelVerifierError, load_program
from pybpf.uapi import ProgType

PACKET = bytes(range(64))  # >= ETH_HLEN, which skb test runs require
U32 = 0xFFFFFFFF
LOG_TAIL_LINES = 40


@dataclass(frozen=True, slots=True)
class Outcome:
    vm_r0: int | None  # full u64 r0, or None when the VM raised
    vm_error: str | None
    kernel_retval: int

    @property
    def agree(self) -> bool:
        return self.vm_r0 is not None and self.vm_r0 & U32 == self.kernel_retval


def kernel_retval(insns: Sequence[Instruction]) -> int:
    """r0 (u32) of one BPF_PROG_TEST_RUN; a verifier rejection raises AssertionError with the log."""
    try:
        prog = load_program(list(insns), ProgType.SOCKET_FILTER, name="pybpf_diff", license="GPL")
    except KernelVerifierError as exc:
        tail = "\n".join(exc.log.rstrip().splitlines()[-LOG_TAIL_LINES:])
        raise AssertionError(
            f"kernel verifier rejected a generated program (generator bug): {exc}\n"
            f"--- program ---\n{disassemble(insns)}--- verifier log (tail) ---\n{tail}"
        ) from None
    with prog:
        return prog.test_run(PACKET).retval


def vm_result(insns: Sequence[Instruction], engine: vm.Engine = "compiled") -> tuple[int | None, str | None]:
    try:
        return vm.run(list(insns), engine=engine), None
    except BPFError as exc:
        return None, f"{type(exc).__name__}: {exc}"


def compare(insns: Sequence[Instruction], engine: vm.Engine = "compiled") -> Outcome:
    r0, error = vm_result(insns, engine)
    return Outcome(r0, error, kernel_retval(insns))


def mismatch_report(insns: Sequence[Instruction], outcome: Outcome, engine: str = "compiled") -> str:
    if outcome.vm_r0 is None:
        vm_text = f"raised {outcome.vm_error}"
    else:
        vm_text = f"r0={outcome.vm_r0:#018x} (low 32 bits {outcome.vm_r0 & U32:#010x})"
    return (
        f"VM ({engine}) and kernel disagree\n"
        f"  vm:     {vm_text}\n"
        f"  kernel: retval={outcome.kernel_retval:#010x}\n"
        f"--- program ---\n{disassemble(insns)}"
    )


def assert_same(insns: Sequence[Instruction], engine: vm.Engine = "compiled") -> int:
    """Assert the VM and the kernel agree on ``insns``; return the kernel's retval."""
    outcome = compare(insns, engine)
    assert outcome.agree, mismatch_report(insns, outcome, engine)
    return outcome.kernel_retval
