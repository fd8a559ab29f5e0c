"""Helper families run from real programs in the VM: printk, task, time, probe, maps, ringbuf, misc."""

from __future__ import annotations

import errno

import pytest

from progtype_util import TASK, make_runtime, program
from pybpf.helpers.bprintf import BprintfError, bprintf
from pybpf.helpers.defaults import all_helper_defs, build_default_registry
from pybpf.helpers.impl_packet import csum_partial
from pybpf.isa import Instruction
from pybpf.isa.opcodes import PseudoSrc
from pybpf.maps.factory import create_map
from pybpf.progtypes.tracing import parse_tracepoint_format, pt_regs_bytes, u64_args_bytes
from pybpf.runtime.program import VmProgram
from pybpf.runtime.testrun import TestRunError, trigger
from pybpf.runtime.testrun import test_run as run_test
from pybpf.uapi import HELPER_IDS, MapType, ProgType

OPENAT_FORMAT = """name: sys_enter_openat
ID: 633
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;
\tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;
\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;
\tfield:int flags;\toffset:32;\tsize:8;\tsigned:0;
\tfield:umode_t mode;\toffset:40;\tsize:8;\tsigned:0;

print fmt: "dfd: 0x%08lx, filename: 0x%08lx", ((unsigned long)(dfd)), ((unsigned long)(filename))
"""


def _push_str(text: bytes, at: int = -16) -> str:
    """Assembler that stores ``text`` (<= 16 bytes, NUL-padded) on the stack at r10+at."""
    padded = text.ljust(16, b"\0")
    lines = []
    for i in range(0, 16, 8):
        lines.append(f"r1 = {int.from_bytes(padded[i : i + 8], 'little')} ll")
        lines.append(f"*(u64 *)(r10 {at + i:+d}) = r1")
    return "\n".join(lines)


def test_registry_has_more_than_sixty_helpers_with_prototypes():
    registry = build_default_registry()
    assert len(registry) >= 60
    for d in all_helper_defs():
        assert registry.by_name(d.name).proto == d.proto
        assert HELPER_IDS[d.name] == registry.by_name(d.name).id


def test_bprintf_rules():
    rb = lambda a, n: bytes([192, 168, 72, 1]) if a == 1 else None  # noqa: E731
    rs = lambda a, n: b"abc" if a == 2 else None  # noqa: E731
    fmt = b"%d %u %x %ld %5d|%-4d|%05x %s %c %llx %pI4 %pi4 %% %s\0"
    args = [-1, -1, 255, -1, 42, 42, 255, 2, 65, (1 << 64) - 1, 1, 1, 99]
    out = bprintf(fmt, args, read_bytes=rb, read_string=rs, max_args=13)
    assert (
        out == "-1 4294967295 ff -1    42|42  |000ff abc A ffffffffffffffff 192.168.72.1 192.168.072.001 % "
    )
    for bad in (b"%pM\0", b"%hd\0", b"%.2d\0", b"%d %d %d %d\0", b"\x01\0", b"%d"):
        with pytest.raises(BprintfError):
            bprintf(bad, [1, 2, 3], read_bytes=rb, read_string=rs, max_args=3)


def test_trace_printk_writes_trace_pipe_lines():
    prog = program(
        _push_str(b"pid %d %s\n")
        + "\n"
        + _push_str(b"bpfcomm", -32)
        + """
        r1 = r10
        r1 += -16
        r2 = 16
        r3 = 77
        r4 = r10
        r4 += -32
        call 6
        exit
        """,
        ProgType.KPROBE,
    )
    res = trigger(prog, ctx_in=pt_regs_bytes(args=(1, 2)))
    assert res.retval == len("pid 77 bpfcomm\n")
    log = prog.runtime.trace_log
    assert log.messages == ["pid 77 bpfcomm"]
    line = log.lines()[0]
    assert line.endswith("[001] d..31  1234.567890: bpf_trace_printk: pid 77 bpfcomm")
    assert "pybpf-test-4242" in line
    bad = program(_push_str(b"%pM\n") + "\nr1 = r10\nr1 += -16\nr2 = 16\ncall 6\nexit", ProgType.KPROBE)
    assert trigger(bad, ctx_in=b"").retval == (-errno.EINVAL) & 0xFFFFFFFF
    assert bad.runtime.trace_log.messages == []


def test_task_and_time_helpers():
    rt = make_runtime()
    pid = program("call 14\nexit", ProgType.RAW_TRACEPOINT, rt)
    assert pid.vm.call(0) == TASK.pid_tgid
    uid = program("call 15\nexit", ProgType.RAW_TRACEPOINT, rt)
    assert uid.vm.call(0) == (100 << 32) | 1000
    comm = program(
        "r1 = r10\nr1 += -16\nr2 = 16\ncall 16\nr0 = *(u64 *)(r10 - 16)\nexit", ProgType.TRACEPOINT, rt
    )
    assert comm.vm.call(0).to_bytes(8, "little") == b"pybpf-te"
    assert program("call 5\nexit", ProgType.KPROBE, rt).vm.call(0) == 1_234_567_890_123
    assert program("call 8\nexit", ProgType.KPROBE, rt).vm.call(0) == 1
    rt.task = TASK.with_(pid=7, tgid=8)
    assert pid.vm.call(0) == (8 << 32) | 7


def test_tracepoint_record_and_probe_read_str():
    fmt = parse_tracepoint_format(OPENAT_FORMAT)
    assert fmt.field("filename").offset == 24 and fmt.field("filename").is_pointer
    rt = make_runtime()
    name = rt.memory.add("user:filename", bytearray(b"/etc/hostname\0"))
    record = fmt.build_record(
        {"dfd": -100 & (1 << 64) - 1, "flags": 0}, pid=4242, pointer_values={"filename": name.base}
    )
    assert fmt.decode_record(record)["common_type"] == 633
    prog = program(
        """
        r3 = *(u64 *)(r1 + 24)
        r1 = r10
        r1 += -32
        r2 = 32
        call 114
        exit
        """,
        ProgType.TRACEPOINT,
        rt,
    )
    res = trigger(prog, ctx_in=record)
    assert res.retval == len(b"/etc/hostname") + 1
    with pytest.raises(TestRunError):
        trigger(prog)  # no record
    fault = program("r3 = 16\nr1 = r10\nr1 += -8\nr2 = 8\ncall 113\nexit", ProgType.TRACEPOINT, rt)
    assert trigger(fault, ctx_in=record).retval == (-errno.EFAULT) & 0xFFFFFFFF


def test_raw_tracepoint_args():
    prog = program("r0 = *(u64 *)(r1 + 8)\nexit", ProgType.RAW_TRACEPOINT)
    assert run_test(prog, ctx_in=u64_args_bytes((1, 99))).retval == 99
    with pytest.raises(TestRunError):
        run_test(prog, ctx_in=bytes(13 * 8))
    with pytest.raises(TestRunError):
        run_test(prog, data_in=b"x", ctx_in=bytes(8))
    assert trigger(prog, ctx_in=u64_args_bytes((1, 42))).retval == 42  # the event path too


def test_map_helpers_share_native_storage():
    rt = make_runtime()
    counts = create_map(MapType.HASH, 4, 8, 16, name="counts")
    binding = rt.bind_map(counts)
    prog = program(
        f"""
        r1 = 7
        *(u32 *)(r10 - 4) = r1
        r1 = {binding.handle} ll
        r2 = r10
        r2 += -4
        call 1
        if r0 != 0 goto +11
        r1 = 1
        *(u64 *)(r10 - 16) = r1
        r1 = {binding.handle} ll
        r2 = r10
        r2 += -4
        r3 = r10
        r3 += -16
        r4 = 0
        call 2
        exit
        r1 = 1
        lock *(u64 *)(r0 + 0) += r1
        r0 = 0
        exit
        """,
        ProgType.KPROBE,
        rt,
    )
    for _ in range(3):
        assert trigger(prog, ctx_in=b"").retval == 0
    assert int.from_bytes(counts.lookup((7).to_bytes(4, "little")), "little") == 3


def test_ringbuf_reserve_submit_reaches_consumer():
    rt = make_runtime()
    rb = create_map(MapType.RINGBUF, 0, 0, 4096, name="events")
    handle = rt.bind_map(rb).handle
    prog = program(
        f"""
        r1 = {handle} ll
        r2 = 16
        r3 = 0
        call 131
        if r0 == 0 goto +6
        r6 = r0
        r1 = r6
        r2 = 16
        call 16
        r1 = r6
        r2 = 0
        call 132
        r0 = 0
        exit
        """,
        ProgType.KPROBE,
        rt,
    )
    trigger(prog, ctx_in=b"")
    records: list[bytes] = []
    rb.consume(lambda data: records.append(bytes(data)))
    assert records == [TASK.comm_bytes]


def test_loop_callback_and_strncmp():
    rt = make_runtime()
    prog = program(
        """
        r1 = 0
        *(u64 *)(r10 - 8) = r1
        r1 = 5
        r2 = 0 ll
        r3 = r10
        r3 += -8
        r4 = 0
        call 181
        r1 = *(u64 *)(r10 - 8)
        r0 <<= 8
        r0 |= r1
        exit
        r3 = *(u64 *)(r2 + 0)
        r3 += r1
        *(u64 *)(r2 + 0) = r3
        r0 = 0
        exit
        """,
        ProgType.RAW_TRACEPOINT,
        rt,
    )
    # point the lddw (slot 3) at the callback (slot 13) as clang does: src=FUNC, relative immediate
    assert prog.insns[3].is_lddw
    insns = list(prog.insns)
    insns[3] = Instruction(0x18, 2, PseudoSrc.FUNC, 0, 13 - 3 - 1)
    looped = VmProgram("loop", insns, prog.spec, rt, prog.helpers)
    assert looped.vm.call(0) == (5 << 8) | (0 + 1 + 2 + 3 + 4)
    cmp = program(
        _push_str(b"bash")
        + "\n"
        + _push_str(b"bash", -32)
        + "\nr1 = r10\nr1 += -16\nr2 = 5\nr3 = r10\nr3 += -32\n"
        "call 182\nexit",
        ProgType.KPROBE,
        rt,
    )
    assert cmp.vm.call(0) == 0


def test_csum_partial_matches_rfc1071():
    data = bytes(range(40))
    words = sum(int.from_bytes(data[i : i + 2], "big") for i in range(0, 40, 2))
    while words >> 16:
        words = (words & 0xFFFF) + (words >> 16)
    partial = csum_partial(data)
    folded = (partial & 0xFFFF) + (partial >> 16)
    folded = (folded & 0xFFFF) + (folded >> 16)
    assert int.from_bytes(folded.to_bytes(2, "little"), "big") == words
