"""Differential test: random verifiable programs give the same r0 in the VM and the kernel.

Every example is one program (see :mod:`.generators`) loaded as a socket filter
and run with BPF_PROG_TEST_RUN, and run in the pybpf VM; the kernel's u32
retval must equal the low 32 bits of the VM's r0.  The epilogue folds every
register and stack byte into r0, so a wrong bit anywhere shows.

Reproducible: hypothesis runs derandomized (the seed is derived from the test),
with no example database.  ``PYBPF_DIFF_EXAMPLES`` sets the total number of
programs across the kernel tests here (default 1200) to hunt harder locally.
"""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybpf import vm
from pybpf.isa import AluOp, AtomicOp, InsnClass, Instruction, JmpOp, Mode, Size, Source

from . import generators as gen
from .harness import Outcome, assert_same, kernel_retval, mismatch_report

TOTAL_EXAMPLES = int(os.environ.get("PYBPF_DIFF_EXAMPLES", "1200"))
# Share of the total per test: straight-line ALU, branching, stack+atomics, reference engine.
SHARES = {"alu": 0.3, "branch": 0.3, "memory": 0.3, "reference": 0.1}


def diff_settings(share: str) -> settings:
    return settings(
        max_examples=max(1, round(TOTAL_EXAMPLES * SHARES[share])),
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


ANY_GROUP = st.one_of(gen.ALU_GROUPS, gen.JUMP_GROUPS, gen.MEMORY_GROUPS)
LEAF_GROUPS = [
    gen.alu_imm(),
    gen.alu_reg(),
    gen.alu_unary(),
    gen.set_reg(),
    gen.div_by_zero(),
    gen.stack_access(),
    gen.atomic(),
    gen.acquire_release(),
    gen.branch(),
    gen.if_else(),
]


@pytest.mark.kernel
@diff_settings("alu")
@given(gen.programs(gen.ALU_GROUPS))
def test_straight_line_alu(program: gen.Program) -> None:
    assert_same(program.insns)


@pytest.mark.kernel
@diff_settings("branch")
@given(gen.programs(st.one_of(gen.ALU_GROUPS, gen.JUMP_GROUPS)))
def test_forward_branches(program: gen.Program) -> None:
    assert_same(program.insns)


@pytest.mark.kernel
@diff_settings("memory")
@given(gen.programs(st.one_of(gen.MEMORY_GROUPS, gen.MEMORY_GROUPS, gen.ALU_GROUPS, gen.JUMP_GROUPS)))
def test_stack_and_atomics(program: gen.Program) -> None:
    assert_same(program.insns)


@pytest.mark.kernel
@diff_settings("reference")
@given(gen.programs(ANY_GROUP))
def test_reference_engine(program: gen.Program) -> None:
    assert_same(program.insns, engine="reference")


# -- the generator itself ----------------------------------------------------------


def expected_encodings() -> set[tuple[int, int]]:
    """(opcode, discriminator) pairs every differential run must be able to produce.

    The discriminator is ``off`` for ALU ops (sdiv/smod, movsx widths), ``imm``
    for byte swaps and atomics, 0 otherwise.
    """
    want: set[tuple[int, int]] = set()
    for cls in (InsnClass.ALU, InsnClass.ALU64):
        for op in gen.BINARY_OPS:
            for source in (Source.K, Source.X):
                want.add((cls | op | source, 0))
                if op in gen.DIVS:
                    want.add((cls | op | source, 1))
        want.add((cls | AluOp.NEG, 0))
        for width in (8, 16, 32) if cls == InsnClass.ALU64 else (8, 16):
            want.add((cls | AluOp.MOV | Source.X, width))
    for width in (16, 32, 64):
        for opcode in (
            InsnClass.ALU | AluOp.END,
            InsnClass.ALU | AluOp.END | Source.X,
            InsnClass.ALU64 | AluOp.END,
        ):
            want.add((opcode, width))
    for size in gen.SIZES:
        want.add((InsnClass.ST | Mode.MEM | size, 0))
        want.add((InsnClass.STX | Mode.MEM | size, 0))
        want.add((InsnClass.LDX | Mode.MEM | size, 0))
        if size != Size.DW:
            want.add((InsnClass.LDX | Mode.MEMSX | size, 0))
    for size in (Size.W, Size.DW):
        for aop in gen.ALL_ATOMICS:
            want.add((InsnClass.STX | Mode.ATOMIC | size, int(aop)))
    for size in gen.SIZES:
        for aop in (AtomicOp.LOAD_ACQ, AtomicOp.STORE_REL):
            want.add((InsnClass.STX | Mode.ATOMIC | size, int(aop)))
    for cls in (InsnClass.JMP, InsnClass.JMP32):
        want.add((cls | JmpOp.JA, 0))
        for jop in gen.COND_OPS:
            want.add((cls | jop | Source.K, 0))
            want.add((cls | jop | Source.X, 0))
    return want


def encoding(insn: Instruction) -> tuple[int, int]:
    cls = insn.cls
    if cls in (InsnClass.ALU, InsnClass.ALU64):
        return (insn.opcode, insn.imm if insn.alu_op == AluOp.END else insn.off)
    if cls == InsnClass.STX and insn.mode == Mode.ATOMIC:
        return (insn.opcode, insn.imm)
    return (insn.opcode, 0)


def test_generators_cover_every_instruction() -> None:
    """The strategies produce every instruction form the differential tests promise.

    Each leaf strategy is sampled on its own so that rare forms are not left to
    the luck of nested ``one_of`` choices.
    """
    seen: set[tuple[int, int]] = set()
    for strategy in LEAF_GROUPS:

        @settings(max_examples=60, derandomize=True, database=None, deadline=None)
        @given(st.lists(strategy, min_size=10, max_size=10))
        def collect(groups: list[gen.Group]) -> None:
            seen.update(encoding(i) for i in gen.resolve(groups))

        collect()
    missing = expected_encodings() - seen
    assert not missing, sorted((f"{op:#04x}", d) for op, d in missing)


def test_epilogue_sees_every_bit() -> None:
    """Flipping any one bit of any register or stack slot changes the folded 32-bit result."""
    rnd = random.Random(9669)
    values = [rnd.getrandbits(64) for _ in range(len(gen.REGS) + gen.STACK_SLOTS)]
    n = len(gen.REGS)

    def folded(v: list[int]) -> int:
        return vm.run(gen.build(v[:n], v[n:], []).insns) & 0xFFFFFFFF

    base = folded(values)
    for index in range(len(values)):
        for bit in range(64):
            flipped = list(values)
            flipped[index] ^= 1 << bit
            assert folded(flipped) != base, (index, bit)


def test_cmpxchg_group_can_succeed() -> None:
    """The preloaded cmpxchg group really takes the success path (random r0 would not)."""
    group = (
        Instruction(InsnClass.LDX | Mode.MEM | Size.DW, 0, 10, -8),
        Instruction(InsnClass.STX | Mode.ATOMIC | Size.DW, 10, 5, -8, AtomicOp.CMPXCHG),
    )
    regs = [0x1111, 0, 0, 0, 0, 0xABCDEF, 0, 0, 0, 0]
    program = gen.build(regs, [0x42] * gen.STACK_SLOTS, [group])
    # Instead of the epilogue, "return the slot": success stored r5 there.
    slot = Instruction(InsnClass.LDX | Mode.MEM | Size.DW, 0, 10, -8)
    head = gen.prologue(program.regs, program.stack)
    assert vm.run([*head, *program.body, slot, gen.EXIT]) == 0xABCDEF


@pytest.mark.kernel
def test_verifier_rejection_fails_with_program_and_log() -> None:
    """A rejected program is a generator bug: the failure shows the program and the verifier log."""
    unreadable = [Instruction(InsnClass.ALU64 | AluOp.MOV | Source.X, 0, 2), gen.EXIT]  # r2 never set
    with pytest.raises(AssertionError, match="generator bug") as info:
        kernel_retval(unreadable)
    assert "r0 = r2" in str(info.value) and "R2 !read_ok" in str(info.value)


def test_mismatch_report_shows_program_and_both_results() -> None:
    program = [gen.lddw(0, 0x1_0000_0002), gen.EXIT]
    text = mismatch_report(program, Outcome(vm_r0=0x1_0000_0002, vm_error=None, kernel_retval=3))
    assert "r0=0x0000000100000002" in text and "retval=0x00000003" in text
    assert "r0 = 0x100000002" in text and "exit" in text


REG_VALUES = st.lists(gen.value64, min_size=len(gen.REGS), max_size=len(gen.REGS))


@pytest.mark.kernel
def test_every_instruction_form_agrees_with_the_kernel() -> None:
    """Every promised encoding is run in both the VM and the kernel, not merely generated.

    Programs are built from one leaf strategy at a time; an encoding counts only
    once a program containing it has given the same result in both.
    """
    compared: set[tuple[int, int]] = set()
    for strategy in LEAF_GROUPS:

        @settings(max_examples=60, derandomize=True, database=None, deadline=None)
        @given(st.lists(strategy, min_size=10, max_size=10), REG_VALUES)
        def run(groups: list[gen.Group], regs: list[int]) -> None:
            program = gen.build(regs, [0x5A] * gen.STACK_SLOTS, groups)
            assert_same(program.insns)
            compared.update(encoding(i) for i in gen.resolve(groups))

        run()
    missing = expected_encodings() - compared
    assert not missing, sorted((f"{op:#04x}", d) for op, d in missing)
