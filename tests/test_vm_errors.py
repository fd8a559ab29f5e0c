"""Faults, budget, call depth and malformed programs: typed errors with pc, address, region."""

from __future__ import annotations

import pytest

from pybpf.errors import (
    CallDepthError,
    InstructionLimitError,
    InvalidInstructionError,
    MemoryAccessError,
    UnknownHelperError,
    VMError,
)
from pybpf.helpers import HelperRegistry
from pybpf.isa import Instruction
from pybpf.vm import VM, InvalidProgramError, Perm
from vm_util import error_both, program, run_both


def test_out_of_bounds_read_names_pc_address_and_region() -> None:
    err = error_both("mov %r0, 0\nldxw %r0, [%r1+6]\nexit", bytes(8))
    assert isinstance(err, MemoryAccessError)
    assert err.pc == 1
    assert err.insn is not None and "r1 +6" in err.insn
    vm = VM(program("exit"))
    vm.set_input(bytes(8))
    base = vm.mem_region.base if vm.mem_region else 0
    assert err.address is not None and err.address & 0xFFFFFFFF == 6
    assert err.region is not None and err.region.startswith("mem ")
    assert "outside the region" in str(err)
    assert base >> 32 == err.address >> 32 or base  # the address lies in the mem slot


def test_null_pointer_when_no_memory() -> None:
    err = error_both("ldxdw %r0, [%r1+16]\nexit")
    assert isinstance(err, MemoryAccessError)
    assert err.pc == 0 and err.address == 16
    assert "NULL pointer" in str(err)


def test_stack_overflow_above_frame_top() -> None:
    err = error_both("stdw [%r10+0], 1\nexit")
    assert isinstance(err, MemoryAccessError)
    assert err.region is not None and err.region.startswith("stack[0]")
    err = error_both("mov %r0, 0\nmov %r0, 0\nldxb %r0, [%r10-513]\nexit")
    assert err.pc == 2


def test_write_to_read_only_region() -> None:
    for engine in ("compiled", "reference"):
        vm = VM(program("stxb [%r1], %r1\nexit"), engine=engine)  # type: ignore[arg-type]
        region = vm.memory.add("ro", b"abc", Perm.READ)
        with pytest.raises(MemoryAccessError) as info:
            vm.call(region.base)
        err = info.value
        assert err.pc == 0 and err.address == region.base
        assert "write of 1 bytes in a r- region" in str(err)
        assert err.region is not None and err.region.startswith("ro ")


def test_atomic_on_read_only_region_faults() -> None:
    for engine in ("compiled", "reference"):
        vm = VM(program("mov %r2, 1\nlock add [%r1], %r2\nexit"), engine=engine)  # type: ignore[arg-type]
        region = vm.memory.add("ro", bytes(8), Perm.READ)
        with pytest.raises(MemoryAccessError) as info:
            vm.call(region.base)
        assert info.value.pc == 1


def test_faults_are_identical_on_both_engines_for_garbage_pointers() -> None:
    for addr in (0, 1 << 63, (1 << 64) - 8, 0xFFFF800000000000 - 4):
        err = error_both(f"lddw %r1, {addr:#x}\nldxdw %r0, [%r1]\nexit")
        assert isinstance(err, MemoryAccessError)
        assert err.pc == 2 and err.address == addr


def test_budget_exhausted_by_infinite_loop() -> None:
    # The pc differs between engines (the compiled one checks at loop heads), the class does not.
    for engine in ("compiled", "reference"):
        vm = VM(program("mov %r0, 0\nloop:\nadd %r0, 1\nja loop"), max_instructions=1000, engine=engine)  # type: ignore[arg-type]
        with pytest.raises(InstructionLimitError, match="budget of 1000"):
            vm.run()
    with pytest.raises(InstructionLimitError) as info:
        VM(program("loop:\nja loop"), max_instructions=10).run()
    assert info.value.pc == 0


def test_budget_is_exact_for_a_program_that_completes() -> None:
    text = "mov %r0, 0\nmov %r1, 10\nloop:\nadd %r0, 1\nsub %r1, 1\njne %r1, 0, loop\nexit"
    needed = 2 + 3 * 10 + 1
    for engine in ("compiled", "reference"):
        vm = VM(program(text), max_instructions=needed, engine=engine)  # type: ignore[arg-type]
        assert vm.run() == 10
        assert vm.executed == needed
        with pytest.raises(InstructionLimitError):
            VM(program(text), max_instructions=needed - 1, engine=engine).run()  # type: ignore[arg-type]


def test_call_depth_limit() -> None:
    recursive = "call local f\nexit\nf:\ncall local f\nexit"
    err = error_both(recursive)
    assert isinstance(err, CallDepthError)

    def chain(n: int) -> str:
        lines = ["mov %r0, 0", "call local f1", "exit"]
        for k in range(1, n + 1):
            lines += [f"f{k}:", "add %r0, 1"] if k == n else [f"f{k}:", f"call local f{k + 1}", "add %r0, 1"]
            lines.append("exit")
        return "\n".join(lines)

    assert run_both(chain(7)) == 7  # 8 frames: the program's and 7 nested calls
    assert isinstance(error_both(chain(8)), CallDepthError)


def test_unknown_helper_is_rejected_before_running() -> None:
    with pytest.raises(UnknownHelperError) as info:
        VM(program("mov %r0, 0\ncall 1\nexit"))
    assert info.value.pc == 1
    assert "map_lookup_elem" in str(info.value)
    with pytest.raises(UnknownHelperError):
        VM(program("mov %r1, 99\ncall %r1\nexit")).run()


def test_helper_failures_become_vm_errors_with_pc() -> None:
    registry = HelperRegistry()
    registry.add(100, lambda ctx, *a: None, name="returns_none")  # type: ignore[arg-type, return-value]
    registry.add(101, lambda ctx, *a: {}["boom"], name="raises_keyerror")  # type: ignore[arg-type]
    registry.add(102, lambda ctx, r1, *a: ctx.memory.load(r1, 8), name="bad_read")
    for hid in (100, 101, 102):
        err = error_both(f"mov %r0, 0\ncall {hid}\nexit", helpers=registry)
        assert isinstance(err, VMError), err
        assert err.pc == 1
    assert isinstance(error_both("call 102\nexit", helpers=registry), MemoryAccessError)


def test_malformed_programs() -> None:
    with pytest.raises(InvalidProgramError, match="outside the program"):
        VM(program("ja +5\nexit"))
    with pytest.raises(InvalidProgramError, match="middle of a lddw"):
        VM([Instruction(0x05, off=1), Instruction(0x18, 0, 0, 0, 1), Instruction(0x95)])
    with pytest.raises(InvalidProgramError, match="not resolved"):
        VM([Instruction(0x18, 1, 1, 0, 3), Instruction(0x95)])
    with pytest.raises(InvalidProgramError):
        VM([])
    with pytest.raises(InvalidInstructionError):
        VM(b"\xff" * 8)
    with pytest.raises(InvalidProgramError):
        VM("mov %r0, 1")  # type: ignore[arg-type]
    err = error_both("mov %r0, 1")
    assert "fell off" in str(err)


def test_bad_arguments() -> None:
    with pytest.raises(VMError):
        VM(program("exit"), engine="jit")  # type: ignore[arg-type]
    with pytest.raises(VMError):
        VM(program("exit"), max_instructions=-1)
    with pytest.raises(VMError):
        VM(program("exit")).run("text")  # type: ignore[arg-type]
