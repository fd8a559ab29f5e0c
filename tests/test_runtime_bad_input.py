"""Bad input to the VM runtime: typed errors that name the map, helper or instruction.

Map definitions the kernel refuses, a helper given something that is not a map or a
size past its buffer, a program that faults or runs away: each is a typed error, the
host process carries on, and map updates made before the fault stay (the kernel
does not roll a program's side effects back either).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import pybpf
from progtype_util import make_runtime, program
from pybpf.errors import (
    HelperArgumentError,
    InstructionLimitError,
    KernelError,
    MapError,
    MemoryAccessError,
)
from pybpf.maps import create_map
from pybpf.object.spec import ObjectSpec
from pybpf.runtime.testrun import test_run as run_test
from pybpf.uapi import MapType, ProgType

OBJ = Path(__file__).parent / "bpf" / "xdp_srcip.v3.o"
FRAME = bytes.fromhex("0200000000020200000000010800") + bytes(50)


def _with_map_change(**change: int) -> ObjectSpec:
    spec = ObjectSpec.from_file(OBJ)
    return replace(spec, maps={**spec.maps, "pkt_count": replace(spec.maps["pkt_count"], **change)})


BAD_DEFS = [
    {"key_size": 0},
    {"value_size": 0},
    {"max_entries": 0},
    {"flags": 1 << 30},  # no such flag
    {"flags": 1},  # BPF_F_NO_PREALLOC means nothing to an array
]


@pytest.mark.parametrize(
    "change", BAD_DEFS, ids=[next(iter(c)) + str(next(iter(c.values()))) for c in BAD_DEFS]
)
def test_map_definitions_the_kernel_refuses_name_the_map(change: dict[str, int]):
    with pytest.raises(MapError) as info:
        pybpf.load(_with_map_change(**change))
    assert info.value.map_name == "pkt_count" and info.value.errno == 22


@pytest.mark.kernel
@pytest.mark.parametrize(
    "change", BAD_DEFS, ids=[next(iter(c)) + str(next(iter(c.values()))) for c in BAD_DEFS]
)
def test_the_kernel_refuses_the_same_definitions(change: dict[str, int]):
    with pytest.raises(KernelError) as info:
        pybpf.load(_with_map_change(**change), backend="kernel")
    assert info.value.errno == 22 and "pkt_count" in str(info.value)


@pytest.mark.parametrize(
    ("map_type", "key", "value", "entries"),
    [(MapType.HASH, 0, 8, 1), (MapType.HASH, 4, 0, 1), (MapType.HASH, 4, 8, 0), (MapType.QUEUE, 4, 8, 1)],
)
def test_create_map_refusals_are_typed_and_named(map_type, key, value, entries):
    with pytest.raises(MapError, match="map 'mine'"):
        create_map(map_type, key, value, entries, name="mine")


def _counting_program(rt, handle: int, then: str) -> object:  # type: ignore[no-untyped-def]
    """Insert key 0 -> its own address into ``handle``, then run ``then``."""
    return program(
        f"""
        r6 = 0
        *(u32 *)(r10 - 4) = r6
        *(u64 *)(r10 - 16) = r6
        r1 = {handle} ll
        r2 = r10
        r2 += -4
        r3 = r10
        r3 += -16
        r4 = 0
        call 2
        {then}
        r0 = 2
        exit
        """,
        ProgType.XDP,
        rt,
    )


@pytest.mark.parametrize(
    ("then", "error"),
    [
        ("r1 = 0\nr0 = *(u64 *)(r1 + 0)", MemoryAccessError),  # NULL dereference after the update
        ("r1 = 0x1234 ll\nr2 = r10\nr2 += -4\ncall 1", HelperArgumentError),  # not a map
        ("r1 = r10\nr1 += -8\nr2 = 600\nr3 = 0\ncall 113", MemoryAccessError),  # 600 bytes into 8
        ("l: goto l", InstructionLimitError),  # runs away
    ],
    ids=["null-deref", "bad-map-pointer", "size-past-buffer", "runaway"],
)
def test_a_failing_program_keeps_earlier_updates_and_names_the_instruction(then: str, error: type):
    rt = make_runtime()
    counts = create_map(MapType.HASH, 4, 8, 8, name="counts")
    prog = _counting_program(rt, rt.bind_map(counts).handle, then)
    with pytest.raises(error) as info:
        run_test(prog, data_in=FRAME)  # type: ignore[arg-type]
    assert info.value.pc is not None and info.value.insn
    assert list(counts.iter_keys()) == [bytes(4)]  # the update before the fault stays
    ok = _counting_program(rt, rt.bind_map(counts).handle, "")  # the runtime goes on
    assert run_test(ok, data_in=FRAME).retval == 2  # type: ignore[arg-type]


def test_bad_map_pointer_names_the_helper():
    rt = make_runtime()
    prog = program("r1 = 0x1234 ll\nr2 = r10\nr2 += -4\ncall 1\nexit", ProgType.XDP, rt)
    with pytest.raises(HelperArgumentError, match=r"0x1234 is not a map.*bpf_map_lookup_elem"):
        run_test(prog, data_in=FRAME)


def test_tail_call_through_a_map_that_is_not_a_prog_array():
    rt = make_runtime()
    arr = create_map(MapType.ARRAY, 4, 4, 1, name="arr")
    prog = program(f"r2 = {rt.bind_map(arr).handle} ll\nr3 = 0\ncall 12\nr0 = 2\nexit", ProgType.XDP, rt)
    with pytest.raises(HelperArgumentError, match=r"program array.*bpf_tail_call"):
        run_test(prog, data_in=FRAME)


def test_wrong_size_ctx_in_is_refused_with_the_kernel_errno():
    prog = program("r0 = 2\nexit", ProgType.XDP)
    with pytest.raises(KernelError) as info:
        run_test(prog, data_in=FRAME, ctx_in=bytes(24) + b"\x01")  # non-zero bytes past xdp_md
    assert info.value.errno == 7  # E2BIG
    skb = program("r0 = 0\nexit", ProgType.SCHED_CLS)
    with pytest.raises(KernelError) as info:
        run_test(skb, data_in=FRAME, ctx_in=bytes(192) + b"\x01")  # past __sk_buff
    assert info.value.errno == 7
