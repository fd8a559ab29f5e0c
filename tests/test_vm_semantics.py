"""RFC 9669 edge cases, each checked on both engines."""

from __future__ import annotations

import pytest

from pybpf.helpers import HelperRegistry
from pybpf.vm.conformance import conformance_helpers
from vm_util import run_both

INT64_MIN = 1 << 63
M64 = (1 << 64) - 1


def prog(*lines: str) -> str:
    return "\n".join(lines) + "\nexit\n"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # division and modulo by zero
        (("mov %r0, 7", "mov %r1, 0", "div %r0, %r1"), 0),
        (("mov %r0, 7", "div %r0, 0"), 0),
        (("mov %r0, 7", "mov %r1, 0", "div32 %r0, %r1"), 0),
        (("lddw %r0, 0xffffffff00000005", "mov %r1, 0", "mod %r0, %r1"), 0xFFFFFFFF00000005),
        (("lddw %r0, 0xffffffff00000005", "mov %r1, 0", "mod32 %r0, %r1"), 5),
        (("lddw %r0, 0xffffffff00000005", "mod32 %r0, 0"), 5),
        (("lddw %r0, 0xffffffff00000005", "mod %r0, 0"), 0xFFFFFFFF00000005),
        # signed division: truncation, INT_MIN / -1, modulo sign follows the dividend
        (("mov %r0, -7", "sdiv %r0, 2"), (-3) & M64),
        (("mov %r0, -7", "smod %r0, 2"), (-1) & M64),
        (("mov %r0, 7", "smod %r0, -2"), 1),
        (("lddw %r0, 0x8000000000000000", "sdiv %r0, -1"), INT64_MIN),
        (("lddw %r0, 0x8000000000000000", "smod %r0, -1"), 0),
        (("mov32 %r0, 0x80000000", "sdiv32 %r0, -1"), 0x80000000),
        (("mov32 %r0, 0x80000000", "smod32 %r0, -1"), 0),
        (("mov %r0, -7", "sdiv32 %r0, 2"), (-3) & 0xFFFFFFFF),
        (("mov %r0, 9", "mov %r1, 0", "sdiv %r0, %r1"), 0),
        (("mov %r0, -9", "mov %r1, 0", "smod32 %r0, %r1"), (-9) & 0xFFFFFFFF),
        # shifts: counts are masked
        (("mov %r0, 1", "mov %r1, 65", "lsh %r0, %r1"), 2),
        (("mov %r0, 1", "mov %r1, 33", "lsh32 %r0, %r1"), 2),
        (("mov %r0, -16", "arsh %r0, 2"), (-4) & M64),
        (("mov %r0, -16", "arsh32 %r0, 2"), (-4) & 0xFFFFFFFF),
        (("mov %r0, -1", "rsh32 %r0, 28"), 0xF),
        # 32-bit ops zero-extend
        (("mov %r0, -1", "add32 %r0, 1"), 0),
        (("mov %r0, 1", "neg32 %r0"), 0xFFFFFFFF),
        (("mov %r0, 1", "neg %r0"), M64),
        (("mov %r0, -1", "mov32 %r0, %r0"), 0xFFFFFFFF),
        (("mov32 %r0, -1",), 0xFFFFFFFF),
        (("mov %r0, -1",), M64),
        # movsx
        (("mov %r1, 0x80", "movsx864 %r0, %r1"), (-128) & M64),
        (("mov %r1, 0x8000", "movsx1664 %r0, %r1"), (-32768) & M64),
        (("mov32 %r1, 0x80000000", "movsx3264 %r0, %r1"), (-(1 << 31)) & M64),
        (("mov %r1, 0x80", "movsx832 %r0, %r1"), 0xFFFFFF80),
        (("mov %r1, 0x7f", "movsx1632 %r0, %r1"), 0x7F),
        # byte order
        (("lddw %r0, 0x1122334455667788", "be16 %r0"), 0x8877),
        (("lddw %r0, 0x1122334455667788", "be32 %r0"), 0x88776655),
        (("lddw %r0, 0x1122334455667788", "be64 %r0"), 0x8877665544332211),
        (("lddw %r0, 0x1122334455667788", "le16 %r0"), 0x7788),
        (("lddw %r0, 0x1122334455667788", "le32 %r0"), 0x55667788),
        (("lddw %r0, 0x1122334455667788", "le64 %r0"), 0x1122334455667788),
        (("lddw %r0, 0x1122334455667788", "bswap16 %r0"), 0x8877),
        (("lddw %r0, 0x1122334455667788", "bswap32 %r0"), 0x88776655),
        (("lddw %r0, 0x1122334455667788", "bswap64 %r0"), 0x8877665544332211),
        # multiplication wraps
        (("lddw %r0, 0xffffffffffffffff", "mul %r0, 3"), (3 * M64) & M64),
        (("mov32 %r0, 0xffffffff", "mul32 %r0, 0xffffffff"), 1),
    ],
)
def test_alu(body: tuple[str, ...], expected: int) -> None:
    assert run_both(prog(*body)) == expected


@pytest.mark.parametrize(
    ("cond", "taken"),
    [
        ("jsgt %r1, %r2", False),  # -1 > 1 signed: no
        ("jgt %r1, %r2", True),  # unsigned: yes
        ("jslt %r1, %r2", True),
        ("jsle %r1, -1", True),
        ("jsge %r1, 0", False),
        ("jset %r1, 0x100", True),
        ("jlt %r2, %r1", True),
        ("jle %r2, 1", True),
        ("jeq32 %r3, 1", True),  # 0x1_00000001 compares as 1 in 32 bits
        ("jeq %r3, 1", False),
        ("jsgt32 %r4, 0", False),  # 0x80000000 is negative in 32 bits
        ("jgt32 %r4, 0", True),
        ("jne32 %r3, %r2", False),
    ],
)
def test_conditions(cond: str, taken: bool) -> None:
    text = f"""
        mov %r1, -1
        mov %r2, 1
        lddw %r3, 0x100000001
        mov32 %r4, 0x80000000
        mov %r0, 0
        {cond}, yes
        exit
    yes:
        mov %r0, 1
        exit
    """
    assert run_both(text) == int(taken)


def test_ja32_and_lddw_slot_counting() -> None:
    text = """
        mov %r0, 1
        ja32 +3
        lddw %r0, 5
        exit
        mov %r0, 7
        exit
    """
    assert run_both(text) == 7


def test_loads_stores_and_sign_extension() -> None:
    text = """
        stdw [%r10-8], -2
        ldxsb %r1, [%r10-8]
        ldxsh %r2, [%r10-8]
        ldxsw %r3, [%r10-8]
        ldxw %r4, [%r10-8]
        mov %r0, %r1
        add %r0, %r2
        add %r0, %r3
        add %r0, %r4
        exit
    """
    assert run_both(text) == ((-6 + 0xFFFFFFFE) & M64)


def test_memory_input_is_a_copy_and_writable() -> None:
    mem = bytes([1, 2, 3, 4, 5, 6, 7, 8])
    text = """
        ldxdw %r0, [%r1]
        stxb [%r1+1], %r2
        ldxh %r3, [%r1]
        add %r0, %r3
        exit
    """
    value = int.from_bytes(mem, "little") + (1 | (8 << 8))
    assert run_both(text, mem) == value


def test_atomics() -> None:
    text = """
        stdw [%r10-8], 10
        mov %r1, 5
        lock fetch add [%r10-8], %r1
        mov %r2, 3
        lock or [%r10-8], %r2
        mov %r3, 100
        lock xchg [%r10-8], %r3
        mov %r0, 100
        mov %r4, 42
        lock cmpxchg [%r10-8], %r4
        mov %r5, 0
        mov %r6, 7
        lock cmpxchg32 [%r10-8], %r6
        ldxdw %r7, [%r10-8]
        # r1 = 10 (fetched), r3 = 15 (old), r0 = 42 (failed cmpxchg32 returns the old value), mem = 42
        mul %r1, 1000000
        mul %r3, 10000
        mul %r7, 100
        add %r0, %r1
        add %r0, %r3
        add %r0, %r7
        exit
    """
    assert run_both(text) == 42 + 10_000_000 + 15 * 10000 + 42 * 100


def test_atomic32_fetch_zero_extends_and_wraps() -> None:
    text = """
        stw [%r10-4], -1
        mov %r1, 1
        lock fetch add32 [%r10-4], %r1
        ldxw %r0, [%r10-4]
        add %r0, %r1
        exit
    """
    assert run_both(text) == 0xFFFFFFFF


def test_load_acquire_store_release() -> None:
    from pybpf.isa import Instruction

    insns = [
        Instruction(0xB7, 1, 0, 0, 0x1234),  # r1 = 0x1234
        Instruction(0xDB, 10, 1, -8, 0x110),  # store_release((u64 *)(r10 - 8), r1)
        Instruction(0xDB, 0, 10, -8, 0x100),  # r0 = load_acquire((u64 *)(r10 - 8))
        Instruction(0x95),
    ]
    assert run_both(insns) == 0x1234


def test_legacy_packet_loads() -> None:
    from pybpf.isa import Instruction

    packet = bytes([0x11, 0x22, 0x33, 0x44, 0x55])
    ldabs_h = Instruction(0x28, 0, 0, 0, 1)  # r0 = ntohs(*(u16 *)(pkt + 1))
    ldind_w = Instruction(0x40, 0, 6, 0, -1)  # r0 = ntohl(*(u32 *)(pkt + r6 - 1))
    insns = [
        Instruction(0xB7, 6, 0, 0, 2),
        ldabs_h,
        Instruction(0xBF, 7, 0),
        ldind_w,
        Instruction(0x0F, 0, 7),
        Instruction(0x95),
    ]
    assert run_both(insns, packet=packet) == 0x2233 + 0x22334455
    out_of_bounds = [Instruction(0xB7, 0, 0, 0, 9), Instruction(0x20, 0, 0, 0, 4), Instruction(0x95)]
    assert run_both(out_of_bounds, packet=packet) == 0


def test_bpf_to_bpf_calls_have_own_frames() -> None:
    text = """
        stdw [%r10-8], 111
        mov %r6, 6
        mov %r1, %r10
        add %r1, -8
        call local callee
        ldxdw %r2, [%r10-8]
        add %r0, %r2
        add %r0, %r6
        exit
    callee:
        stdw [%r10-8], 5
        ldxdw %r0, [%r1]
        ldxdw %r3, [%r10-8]
        add %r0, %r3
        mov %r6, 0
        exit
    """
    # callee reads the caller's slot through r1 (111), its own slot (5); caller's r6 and slot survive
    assert run_both(text) == 111 + 5 + 111 + 6


def test_helper_call_through_registry() -> None:
    seen = []

    def sum_mem(ctx, r1, r2, r3, r4, r5):  # type: ignore[no-untyped-def]
        data = ctx.memory.read(r1, r2)
        seen.append(data)
        return -sum(data)

    registry = HelperRegistry()
    registry.add(100, sum_mem, name="sum_mem")
    text = """
        call 100
        exit
    """
    assert run_both(text, bytes([1, 2, 3]), helpers=registry) == (-6) & M64
    assert seen == [b"\x01\x02\x03", b"\x01\x02\x03"]


def test_callx_and_unwind() -> None:
    text = """
        mov %r8, 5
        mov %r1, 9
        call %r8
        mov %r6, %r0
        mov %r1, 0
        call 5
        mov %r0, 77
        exit
    """
    assert run_both(text, helpers=conformance_helpers()) == 0
    text_ok = "mov %r1, 9\nmov %r2, 5\ncall %r2\nexit\n"
    assert run_both(text_ok, helpers=conformance_helpers()) == 9
