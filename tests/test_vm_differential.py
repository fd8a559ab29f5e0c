"""Differential test: random programs give the same result on the compiled and reference engines.

Programs are random ALU/ALU64 operations of every kind, stack and input-memory
loads/stores (some out of bounds, so faults are compared too), atomics, and
forward conditional jumps (so every program terminates); registers start from
random 64-bit values.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybpf.errors import BPFError, InstructionLimitError
from pybpf.isa import Instruction
from pybpf.vm import VM

ALU_CODES = [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xA0, 0xB0, 0xC0]
JMP_CODES = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xA0, 0xB0, 0xC0, 0xD0]
REG = st.integers(0, 9)
IMM = st.one_of(st.integers(-(2**31), 2**31 - 1), st.sampled_from([0, 1, -1, 31, 32, 63, 64, -(2**31)]))


@st.composite
def alu_insn(draw: st.DrawFn) -> Instruction:
    cls = draw(st.sampled_from([0x04, 0x07]))
    kind = draw(st.sampled_from(["op", "neg", "end", "movsx", "sdiv"]))
    dst = draw(REG)
    if kind == "neg":
        return Instruction(cls | 0x80, dst)
    if kind == "end":
        opcode = 0xD7 if cls == 0x07 else draw(st.sampled_from([0xD4, 0xDC]))
        return Instruction(opcode, dst, imm=draw(st.sampled_from([16, 32, 64])))
    if kind == "movsx":
        off = draw(st.sampled_from([8, 16, 32] if cls == 0x07 else [8, 16]))
        return Instruction(cls | 0xB8, dst, draw(REG), off)
    code = draw(st.sampled_from([0x30, 0x90])) if kind == "sdiv" else draw(st.sampled_from(ALU_CODES))
    off = 1 if kind == "sdiv" else 0
    if draw(st.booleans()):
        return Instruction(cls | code | 0x08, dst, draw(REG), off)
    return Instruction(cls | code, dst, 0, off, draw(IMM))


@st.composite
def mem_insn(draw: st.DrawFn) -> Instruction:
    size = draw(st.sampled_from([0x00, 0x08, 0x10, 0x18]))
    nbytes = {0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8}[size]
    base = draw(st.sampled_from([10, 1]))
    if base == 10:
        off = draw(st.integers(-64, -1)) // nbytes * nbytes
    else:
        off = draw(st.integers(0, 40))  # mem is 32 bytes: some accesses fault
    kind = draw(st.sampled_from(["ldx", "ldsx", "st", "stx", "atomic"]))
    reg = draw(st.integers(0, 9))
    if kind == "ldx":
        return Instruction(0x61 | size, reg if reg != 1 else 0, base, off)
    if kind == "ldsx" and size != 0x18:
        return Instruction(0x81 | size, reg if reg != 1 else 0, base, off)
    if kind == "st":
        return Instruction(0x62 | size, base, 0, off, draw(IMM))
    if kind == "atomic" and size in (0x00, 0x18):
        op = draw(st.sampled_from([0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xA0, 0xA1, 0xE1, 0xF1]))
        return Instruction(0xC3 | size, base, reg if reg != 1 else 0, off, op)
    return Instruction(0x63 | size, base, reg, off)


@st.composite
def programs(draw: st.DrawFn) -> list[Instruction]:
    body: list[Instruction] = []
    for reg in (0, 2, 3, 4, 5, 6, 7, 8, 9):
        body.append(Instruction(0x18, reg, 0, 0, draw(st.integers(0, 2**64 - 1))))
    n = draw(st.integers(1, 30))
    items = draw(st.lists(st.sampled_from(["alu", "alu", "alu", "mem", "jmp"]), min_size=n, max_size=n))
    for k, item in enumerate(items):
        if item == "alu":
            body.append(draw(alu_insn()))
        elif item == "mem":
            body.append(draw(mem_insn()))
        else:
            cls = draw(st.sampled_from([0x05, 0x06]))
            code = draw(st.sampled_from(JMP_CODES))
            off = draw(st.integers(0, len(items) - k - 1))  # forward only: always terminates
            if draw(st.booleans()):
                body.append(Instruction(cls | code | 0x08, draw(REG), draw(REG), off))
            else:
                body.append(Instruction(cls | code, draw(REG), 0, off, draw(IMM)))
    body.append(Instruction(0x95))
    return body


def outcome(insns: list[Instruction], engine: str, mem: bytes) -> tuple[str, object]:
    vm = VM(insns, engine=engine, max_instructions=10_000)  # type: ignore[arg-type]
    try:
        r0 = vm.run(mem)
    except InstructionLimitError:
        return ("limit", None)
    except BPFError as exc:
        return (type(exc).__name__, str(exc))
    stack = bytes(vm.stack[0].buffer)
    data = bytes(vm.mem_region.buffer) if vm.mem_region is not None else b""
    return ("ok", (r0, stack, data))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.binary(min_size=32, max_size=32))
def test_compiled_matches_reference(insns: list[Instruction], mem: bytes) -> None:
    assert outcome(insns, "compiled", mem) == outcome(insns, "reference", mem)
