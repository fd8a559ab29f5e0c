"""test_run of tracing program types: the VM answers as the running kernel does.

The kernel has BPF_PROG_TEST_RUN for RAW_TRACEPOINT only (one run on a u64
argument array at least as long as what the program reads, no data, no ctx_out,
no repeat) and answers ENOTSUPP (524) for TRACEPOINT, KPROBE and PERF_EVENT.
Each request below goes to both; the outcome (retval, or the errno) must match.
The VM's way to run those types on a context is ``trigger``, checked at the end.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

import pytest

from progtype_util import program
from pybpf import kernel
from pybpf.errors import BPFError, KernelError, NotSupportedError
from pybpf.isa import assemble
from pybpf.loaded import Program
from pybpf.runtime.testrun import ENOTSUPP, TestRunError, trigger
from pybpf.runtime.testrun import test_run as vm_test_run
from pybpf.uapi import ProgType

READ_ARG1 = "r0 = *(u64 *)(r1 + 8)\nexit"  # reads 16 bytes of the argument array
RETURN_7 = "r0 = 7\nexit"


@dataclass
class Req:
    prog_type: ProgType
    text: str
    kw: dict[str, Any] = field(default_factory=dict)


ARGS = struct.pack("<QQ", 1, 99)
REQUESTS = {
    "raw_tp_args": Req(ProgType.RAW_TRACEPOINT, READ_ARG1, {"ctx_in": ARGS}),
    "raw_tp_odd_length": Req(ProgType.RAW_TRACEPOINT, READ_ARG1, {"ctx_in": ARGS + bytes(4)}),
    "raw_tp_short_ctx": Req(ProgType.RAW_TRACEPOINT, READ_ARG1, {"ctx_in": bytes(8)}),
    "raw_tp_13_args": Req(ProgType.RAW_TRACEPOINT, READ_ARG1, {"ctx_in": bytes(13 * 8)}),
    "raw_tp_no_ctx": Req(ProgType.RAW_TRACEPOINT, RETURN_7, {}),
    "raw_tp_data_in": Req(ProgType.RAW_TRACEPOINT, RETURN_7, {"data_in": bytes(20), "ctx_in": ARGS}),
    "raw_tp_repeat": Req(ProgType.RAW_TRACEPOINT, RETURN_7, {"ctx_in": ARGS, "repeat": 5}),
    "raw_tp_cpu_without_flag": Req(ProgType.RAW_TRACEPOINT, RETURN_7, {"ctx_in": ARGS, "cpu": 1}),
    "raw_tp_cpu_with_flag": Req(ProgType.RAW_TRACEPOINT, RETURN_7, {"ctx_in": ARGS, "cpu": 1, "flags": 1}),
    "raw_tp_runs_on_that_cpu": Req(  # the VM's task sits on CPU 1; the run moves to CPU 0
        ProgType.RAW_TRACEPOINT, "call 8\nexit", {"ctx_in": ARGS, "cpu": 0, "flags": 1}
    ),
    "raw_tp_cpu_not_online": Req(ProgType.RAW_TRACEPOINT, RETURN_7, {"ctx_in": ARGS, "cpu": 64, "flags": 1}),
    "tracepoint": Req(ProgType.TRACEPOINT, RETURN_7, {"ctx_in": bytes(16)}),
    "kprobe": Req(ProgType.KPROBE, RETURN_7, {"ctx_in": bytes(16)}),
    "perf_event": Req(ProgType.PERF_EVENT, RETURN_7, {"ctx_in": bytes(16)}),
}


def _outcome(run: Any) -> tuple[str, int]:
    try:
        return ("retval", run().retval)
    except KernelError as exc:
        return ("errno", exc.errno)


def _kernel_run(req: Req) -> tuple[str, int]:
    prog = kernel.load_program(assemble(req.text, syntax="c"), req.prog_type)
    kw = dict(req.kw)
    kw.setdefault("repeat", 1)
    if req.prog_type is ProgType.RAW_TRACEPOINT:  # what the kernel backend sends for one run
        kw["repeat"] = 0 if kw["repeat"] == 1 else kw["repeat"]
        kw["ctx_size_out"] = 0
    try:
        return _outcome(lambda: prog.test_run(**kw))
    finally:
        prog.close()


@pytest.mark.kernel
@pytest.mark.parametrize("name", list(REQUESTS))
def test_vm_test_run_answers_like_the_kernel(name: str):
    req = REQUESTS[name]
    vm = _outcome(lambda: vm_test_run(program(req.text, req.prog_type), **req.kw))
    assert vm == _kernel_run(req)


def test_types_without_test_run_are_enotsupp_and_run_with_trigger():
    for prog_type in (ProgType.TRACEPOINT, ProgType.KPROBE, ProgType.PERF_EVENT):
        prog = program(READ_ARG1, prog_type)
        with pytest.raises(TestRunError) as info:
            vm_test_run(prog, ctx_in=ARGS)
        assert info.value.errno == ENOTSUPP and "trigger" in str(info.value)
        assert trigger(prog, ARGS).retval == 99


def test_raw_tp_short_ctx_names_what_the_program_reads():
    prog = program("r0 = *(u64 *)(r1 + 40)\nexit", ProgType.RAW_TRACEPOINT)
    assert prog.ctx_end == 48
    with pytest.raises(TestRunError, match="reads 48 bytes"):
        vm_test_run(prog, ctx_in=bytes(40))


def test_tracing_test_run_is_refused_with_the_reason():
    prog = program(RETURN_7, ProgType.TRACING)
    with pytest.raises(TestRunError):
        vm_test_run(prog, ctx_in=ARGS)  # the kernel refuses ctx_in for TRACING: EINVAL
    with pytest.raises(NotSupportedError, match="bpf_fentry_test"):
        vm_test_run(prog)
    assert trigger(prog, ARGS).retval == 7


def test_trigger_is_for_tracing_types_and_vm_only():
    with pytest.raises(NotSupportedError, match="test_run"):
        trigger(program("r0 = 2\nexit", ProgType.XDP), b"")
    prog = Program.__new__(Program)
    prog._backend = type("NoTrigger", (), {"name": "kernel"})()
    with pytest.raises(NotSupportedError, match="attach"):
        prog.trigger(b"")
    with pytest.raises(BPFError):
        trigger(program(RETURN_7, ProgType.TRACEPOINT), b"")  # a tracepoint needs its record


def test_perf_event_context_regs_sample_period_addr():
    from pybpf.progtypes.tracing import perf_event_data_bytes

    text = """
        r2 = *(u64 *)(r1 + 128)
        r3 = *(u32 *)(r1 + 168)
        r4 = *(u64 *)(r1 + 176)
        r0 = r2
        r0 += r3
        r0 += r4
        exit
    """  # regs->rip + (u32)sample_period + addr
    ctx = perf_event_data_bytes({"rip": 0x1000}, sample_period=(7 << 32) | 20, addr=0x300)
    assert len(ctx) == 184
    assert trigger(program(text, ProgType.PERF_EVENT), ctx).retval == 0x1000 + 20 + 0x300
    with pytest.raises(TestRunError) as info:  # bytes past the struct must be zero
        trigger(program(text, ProgType.PERF_EVENT), ctx + b"\x01")
    assert info.value.errno == 7
