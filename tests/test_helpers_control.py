"""Control-flow and map helpers with no test elsewhere: tail_call (33-call limit),
for_each_map_elem, spin_lock/unlock, queue/stack push/pop/peek, perf_event_output,
redirect_map to a devmap — small C-syntax assembled programs run in the VM runtime."""

from __future__ import annotations

import struct
from dataclasses import replace
from pathlib import Path

import pytest

import pybpf
from pybpf.backends.vm import VmBackend
from pybpf.errors import VMError
from pybpf.isa import assemble
from pybpf.isa.opcodes import PseudoSrc
from pybpf.maps import create_map
from pybpf.progtypes import spec_for
from pybpf.runtime.program import VmProgram
from pybpf.runtime.task import Task
from pybpf.runtime.testrun import test_run as vm_test_run
from pybpf.uapi import MapType, ProgType

BPF = Path(__file__).parent / "bpf"
FRAME = bytes(range(64))
XDP_PASS, XDP_REDIRECT = 2, 4


def make_prog(backend, text, prog_type=ProgType.XDP, name="p", func_at=None):
    """Assemble ``text``; ``func_at`` = (lddw index, target index) makes that lddw a callback pointer."""
    insns = assemble(text, syntax="c")
    if func_at is not None:
        at, target = func_at
        slot = lambda i: sum(x.width for x in insns[:i])  # noqa: E731
        insns[at] = replace(insns[at], src=PseudoSrc.FUNC, imm=slot(target) - slot(at) - 1)
    return VmProgram(name, insns, spec_for(prog_type, None), backend.runtime, backend.helpers)


def bound(backend, bpf_map, name):
    return backend.runtime.bind_map(bpf_map, name).handle


def value_addr(backend, bpf_map, name, key=bytes(4)):
    return bound(backend, bpf_map, name) + bpf_map.value_offset(key)


@pytest.fixture
def backend():
    b = VmBackend(task=Task(pid=7, tgid=7, uid=0, gid=0, comm="t", cpu=1), num_cpus=2)
    yield b
    b.close()


def test_tail_call_chain_stops_after_33_calls(backend):
    counter = create_map(MapType.ARRAY, 4, 8, 1, name="counter")
    jmp = create_map(MapType.PROG_ARRAY, 4, 4, 2, name="jmp")
    addr = value_addr(backend, counter, "counter")
    table = bound(backend, jmp, "jmp")
    prog = make_prog(
        backend,
        f"""
        r6 = r1
        r1 = {addr} ll
        r2 = *(u64 *)(r1 + 0)
        r2 += 1
        *(u64 *)(r1 + 0) = r2
        r1 = r6
        r2 = {table} ll
        r3 = 0
        call 12
        r0 = 77
        exit
    """,
    )
    jmp.update(bytes(4), prog)
    res = vm_test_run(prog, data_in=FRAME)
    assert res.retval == 77  # the 34th run's tail call fails and falls through
    assert counter.lookup(bytes(4)) == struct.pack("<Q", 34)  # first run + MAX_TAIL_CALL_CNT (33)
    vm_test_run(prog, data_in=FRAME)  # the count restarts per run
    assert counter.lookup(bytes(4)) == struct.pack("<Q", 68)


@pytest.mark.kernel
def test_the_kernel_stops_the_same_chain_after_33_tail_calls():
    from pybpf import kernel

    counter = kernel.create_map(MapType.ARRAY, 4, 8, 1, name="i4_counter")
    jmp = kernel.create_map(MapType.PROG_ARRAY, 4, 4, 2, name="i4_jmp")
    insns = assemble(
        "r6 = r1\nr1 = 1 ll\nr2 = *(u64 *)(r1 + 0)\nr2 += 1\n*(u64 *)(r1 + 0) = r2\n"
        "r1 = r6\nr2 = 2 ll\nr3 = 0\ncall 12\nr0 = 77\nexit",
        syntax="c",
    )
    insns[1] = replace(insns[1], src=PseudoSrc.MAP_VALUE, imm=counter.fd)  # &counter[0]
    insns[6] = replace(insns[6], src=PseudoSrc.MAP_FD, imm=jmp.fd)
    prog = kernel.load_program(insns, ProgType.XDP)
    try:
        jmp.update(bytes(4), prog.fd.to_bytes(4, "little"))
        assert prog.test_run(FRAME).retval == 77
        assert counter.lookup(bytes(4)) == struct.pack("<Q", 34)  # what the VM test above asserts
        jmp.delete(bytes(4))
    finally:
        prog.close()
        jmp.close()
        counter.close()


def test_tail_call_to_empty_slot_or_out_of_range_falls_through(backend):
    jmp = create_map(MapType.PROG_ARRAY, 4, 4, 2, name="jmp")
    table = bound(backend, jmp, "jmp")
    for index in (1, 5):
        prog = make_prog(backend, f"r2 = {table} ll\nr3 = {index}\ncall 12\nr0 <<= 32\nr0 s>>= 32\nexit")
        assert vm_test_run(prog, data_in=FRAME).retval == (-2) & 0xFFFFFFFF  # -ENOENT


def test_for_each_map_elem_visits_and_stops(backend):
    arr = create_map(MapType.ARRAY, 4, 8, 4, name="arr")
    for i in range(4):
        arr.update(i.to_bytes(4, "little"), (10 * (i + 1)).to_bytes(8, "little"))
    handle = bound(backend, arr, "arr")
    # main: sum = 0 on the stack; for_each(arr, cb, &sum); return sum
    # cb(map, key, value, ctx): *ctx += *value; return *key == 2 (stop after the third element)
    text = f"""
        r1 = 0
        *(u64 *)(r10 - 8) = r1
        r1 = {handle} ll
        r2 = 0 ll
        r3 = r10
        r3 += -8
        r4 = 0
        call 164
        r6 = r0
        r0 = *(u64 *)(r10 - 8)
        r6 <<= 16
        r0 |= r6
        exit
        r5 = *(u64 *)(r3 + 0)
        r1 = *(u64 *)(r4 + 0)
        r1 += r5
        *(u64 *)(r4 + 0) = r1
        r0 = 0
        r2 = *(u32 *)(r2 + 0)
        if r2 != 2 goto +1
        r0 = 1
        exit
    """
    prog = make_prog(backend, text, func_at=(3, 13))
    r0 = vm_test_run(prog, data_in=FRAME).retval
    assert r0 & 0xFFFF == 10 + 20 + 30
    assert r0 >> 16 == 3  # elements visited


def test_spin_lock_unlock_and_double_lock(backend):
    locked = create_map(MapType.ARRAY, 4, 16, 1, name="locked", spin_lock_offset=0)
    addr = value_addr(backend, locked, "locked")
    ok = make_prog(
        backend,
        f"""
        r6 = {addr} ll
        r1 = r6
        call 93
        r1 = *(u64 *)(r6 + 8)
        r1 += 1
        *(u64 *)(r6 + 8) = r1
        r1 = r6
        call 94
        r0 = *(u32 *)(r6 + 0)
        exit
    """,
    )
    assert vm_test_run(ok, data_in=FRAME, repeat=3).retval == 0  # unlocked again
    assert locked.lookup(bytes(4))[8:] == struct.pack("<Q", 3)
    deadlock = make_prog(backend, f"r6 = {addr} ll\nr1 = r6\ncall 93\nr1 = r6\ncall 93\nr0 = 0\nexit")
    with pytest.raises(VMError, match="deadlock"):
        vm_test_run(deadlock, data_in=FRAME)


def test_helpers_mix_fixture_queue_lock_snprintf_vprintk():
    task = Task(pid=9, tgid=9, uid=0, gid=0, comm="mix", cpu=0)
    with pybpf.load(BPF / "helpers_mix.v3.o", task=task, seed=1) as obj:
        obj.programs["helpers_mix"].test_run(data_in=FRAME + bytes(16))
        res = obj.programs["helpers_mix"].test_run(data_in=FRAME + bytes(16))
        assert res.retval == XDP_PASS  # redirect_map on an empty devmap falls back to XDP_PASS
        assert len(res.data_out) == 80 - 4  # adjust_tail trimmed 4 bytes
        g = obj.global_bytes
        assert g("popped") == g("peeked") == struct.pack("<I", 0x1234)
        assert g("locked_count") == struct.pack("<Q", 2)
        assert g("snbuf").split(b"\0")[0] == b"n=42 s=pybpf x=beef ip=10.0.0.1"
        assert struct.unpack("<q", g("snprintf_len"))[0] == len("n=42 s=pybpf x=beef ip=10.0.0.1") + 1
        assert g("cmp_result") == bytes(8)
        msgs = obj.trace_log.messages
        assert len(msgs) == 8
        assert msgs[3] == "five 1 2 3 4 5"  # five arguments: bpf_trace_vprintk
        assert msgs[1].endswith("name pybpf char p")
        assert all("mix-9" in line for line in obj.trace_log.lines())
        assert len(obj.maps["q"]) == 0


def test_queue_and_stack_helpers(backend):
    q = create_map(MapType.QUEUE, 0, 4, 2, name="q")
    s = create_map(MapType.STACK, 0, 4, 2, name="s")
    qh, sh = bound(backend, q, "q"), bound(backend, s, "s")

    # push 1, 2 (full), push 3 with BPF_EXIST (queue: evicts 1); pop -> 2; peek -> 3
    def text(h: int) -> str:
        return f"""
        r1 = {h} ll
        r7 = 1
        *(u32 *)(r10 - 4) = r7
        r2 = r10
        r2 += -4
        r3 = 0
        call 87
        r1 = {h} ll
        r7 = 2
        *(u32 *)(r10 - 4) = r7
        r2 = r10
        r2 += -4
        r3 = 0
        call 87
        r1 = {h} ll
        r7 = 3
        *(u32 *)(r10 - 4) = r7
        r2 = r10
        r2 += -4
        r3 = 2
        call 87
        r8 = r0
        r1 = {h} ll
        r2 = r10
        r2 += -8
        call 88
        r6 = *(u32 *)(r10 - 8)
        r1 = {h} ll
        r2 = r10
        r2 += -8
        call 89
        r0 = *(u32 *)(r10 - 8)
        r0 <<= 8
        r0 |= r6
        r8 <<= 32
        r0 |= r8
        exit
    """

    assert vm_test_run(make_prog(backend, text(qh)), data_in=FRAME).retval == (3 << 8) | 2
    # stack: BPF_EXIST on a full stack also evicts the oldest (1); pop -> 3, peek -> 2
    r = vm_test_run(make_prog(backend, text(sh)), data_in=FRAME).retval
    assert r == (2 << 8) | 3
    empty_pop = make_prog(backend, f"r1 = {qh} ll\nr2 = r10\nr2 += -8\ncall 88\nr1 = {qh} ll\n"
                          "r2 = r10\nr2 += -8\ncall 88\nr0 <<= 32\nr0 s>>= 32\nexit")  # fmt: skip
    assert vm_test_run(empty_pop, data_in=FRAME).retval == (-2) & 0xFFFFFFFF  # -ENOENT on empty


def test_perf_event_output_reaches_perf_buffer_on_task_cpu(backend):
    perf = create_map(MapType.PERF_EVENT_ARRAY, 4, 4, 2, name="perf")
    handle = bound(backend, perf, "perf")
    got: list[tuple[int, bytes]] = []
    reader = pybpf.PerfBuffer(perf, lambda cpu, data: got.append((cpu, data)))
    prog = make_prog(
        backend,
        f"""
        r6 = r1
        r1 = 0x44332211 ll
        *(u64 *)(r10 - 8) = r1
        r1 = r6
        r2 = {handle} ll
        r3 = 0xffffffff ll
        r4 = r10
        r4 += -8
        r5 = 8
        call 25
        exit
    """,
    )
    assert vm_test_run(prog, data_in=FRAME, repeat=2).retval == 0
    assert reader.poll(100) == 2
    # task cpu 1; PERF_SAMPLE_RAW pads the sample so size field + data is 8-byte aligned (libbpf
    # hands the padded size to the callback as well)
    assert [(cpu, data[:8]) for cpu, data in got] == [(1, struct.pack("<Q", 0x44332211))] * 2
    # ctx-length flag: append the first 4 packet bytes to the sample
    ctxlen = make_prog(
        backend,
        f"""
        r6 = r1
        *(u32 *)(r10 - 4) = r6
        r1 = r6
        r2 = {handle} ll
        r3 = 0x4ffffffff ll
        r4 = r10
        r4 += -4
        r5 = 1
        call 25
        exit
    """,
    )
    assert vm_test_run(ctxlen, data_in=FRAME).retval == 0
    reader.consume()
    assert got[-1][1][1:5] == FRAME[:4]
    reader.close()


def test_redirect_map_to_devmap_redirects(backend):
    dev = create_map(MapType.DEVMAP, 4, 4, 4, name="dev")
    dev.update((2).to_bytes(4, "little"), (1).to_bytes(4, "little"))  # slot 2 -> lo
    handle = bound(backend, dev, "dev")
    for key, verdict, target in ((2, XDP_REDIRECT, 1), (0, XDP_PASS, None)):
        prog = make_prog(backend, f"r1 = {handle} ll\nr2 = {key}\nr3 = 2\ncall 51\nexit")
        assert vm_test_run(prog, data_in=FRAME).retval == verdict
        assert backend.runtime.run.redirect_ifindex == target
