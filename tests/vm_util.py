"""Shared helpers of the VM tests: run a program on both engines and insist they agree."""

from __future__ import annotations

from pybpf.errors import BPFError
from pybpf.helpers import HelperRegistry
from pybpf.isa import Instruction, assemble
from pybpf.vm import VM


def program(text: str) -> list[Instruction]:
    return assemble(text, "conformance")


def run_both(
    prog: str | list[Instruction],
    mem: bytes = b"",
    *,
    helpers: HelperRegistry | None = None,
    packet: bytes | None = None,
    max_instructions: int = 100_000,
) -> int:
    """r0 from the compiled engine, after checking the reference engine gives the same."""
    insns = program(prog) if isinstance(prog, str) else prog
    results = []
    for engine in ("compiled", "reference"):
        vm = VM(insns, helpers=helpers, max_instructions=max_instructions, engine=engine)  # type: ignore[arg-type]
        results.append(vm.run(mem, packet=packet))
    assert results[0] == results[1], f"compiled {results[0]:#x} != reference {results[1]:#x}"
    return results[0]


def error_both(
    prog: str | list[Instruction],
    mem: bytes = b"",
    *,
    helpers: HelperRegistry | None = None,
    max_instructions: int = 100_000,
) -> BPFError:
    """The error both engines raise (same class and message); returns the compiled engine's."""
    insns = program(prog) if isinstance(prog, str) else prog
    errors: list[BPFError] = []
    for engine in ("compiled", "reference"):
        try:
            VM(insns, helpers=helpers, max_instructions=max_instructions, engine=engine).run(mem)  # type: ignore[arg-type]
        except BPFError as exc:
            errors.append(exc)
        else:
            raise AssertionError(f"{engine} engine did not raise")
    assert type(errors[0]) is type(errors[1]), errors
    assert str(errors[0]) == str(errors[1])
    return errors[0]
