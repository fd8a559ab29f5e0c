"""BPF_PROG_TEST_RUN semantics for XDP in the VM."""

from __future__ import annotations

import errno
import struct

import pytest

from progtype_util import program
from pybpf import kernel
from pybpf.errors import KernelError, NotSupportedError
from pybpf.isa import assemble
from pybpf.runtime.testrun import TestRunError
from pybpf.runtime.testrun import test_run as run_test
from pybpf.uapi import ProgType

FRAME = bytes(range(64))

# returns data_end - data, so the result shows what the program saw
LENGTH = """
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r0 = r3
r0 -= r2
exit
"""


def test_program_sees_the_frame_and_data_out_is_unchanged():
    res = run_test(program(LENGTH, ProgType.XDP), data_in=FRAME, repeat=3)
    assert res.retval == 64
    assert res.data_out == FRAME
    assert res.ctx_out is None
    assert res.duration_ns > 0


def test_adjust_head_grows_into_headroom():
    prog = program(
        """
        r6 = r1
        r2 = -4
        call 44
        r2 = *(u32 *)(r6 + 0)
        r3 = *(u32 *)(r6 + 4)
        r4 = r2
        r4 += 4
        if r4 > r3 goto +3
        r5 = 0x11223344
        *(u32 *)(r2 + 0) = r5
        r0 = 2
        exit
        """,
        ProgType.XDP,
    )
    res = run_test(prog, data_in=FRAME)
    assert res.retval == 2
    assert res.data_out == struct.pack("<I", 0x11223344) + FRAME


def test_adjust_tail_and_meta():
    prog = program(
        """
        r6 = r1
        r2 = -8
        call 65
        r1 = r6
        r2 = -4
        call 54
        r0 = 2
        exit
        """,
        ProgType.XDP,
    )
    md = struct.pack("<6I", 0, len(FRAME), 0, 0, 0, 0)
    res = run_test(prog, data_in=FRAME, ctx_in=md)
    # data_out starts at data_meta: 4 bytes of (zeroed) metadata, then the shortened frame
    assert res.data_out == bytes(4) + FRAME[:-8]
    data, data_end = struct.unpack_from("<II", res.ctx_out)
    assert (data, data_end) == (4, 4 + 56)


def test_adjust_head_limits():
    shrink_too_much = program("r2 = 60\ncall 44\nexit", ProgType.XDP)  # would leave < 14 bytes
    assert run_test(shrink_too_much, data_in=FRAME).retval == (-errno.EINVAL) & 0xFFFFFFFF
    grow_too_much = program("r2 = -300\ncall 44\nexit", ProgType.XDP)  # past the xdp_frame reserve
    assert run_test(grow_too_much, data_in=FRAME).retval == (-errno.EINVAL) & 0xFFFFFFFF
    ok = program("r2 = -216\ncall 44\nexit", ProgType.XDP)  # 256 - 40 bytes of xdp_frame
    assert run_test(ok, data_in=FRAME).retval == 0


def test_metadata_from_ctx_in():
    prog = program(
        """
        r2 = *(u32 *)(r1 + 8)
        r3 = *(u32 *)(r1 + 0)
        r0 = r3
        r0 -= r2
        exit
        """,
        ProgType.XDP,
    )
    md = struct.pack("<6I", 8, len(FRAME), 0, 0, 0, 0)
    res = run_test(prog, data_in=FRAME, ctx_in=md)
    assert res.retval == 8
    assert res.data_out == FRAME
    assert struct.unpack_from("<II", res.ctx_out) == (8, 64)


EINVAL_CASES = pytest.mark.parametrize(
    ("data", "ctx", "err"),
    [
        (bytes(10), None, errno.EINVAL),  # shorter than an Ethernet header
        (FRAME, struct.pack("<6I", 0, 65, 0, 0, 0, 0), errno.EINVAL),  # data_end past data_in
        (FRAME, struct.pack("<6I", 8, 4, 0, 0, 0, 0), errno.EINVAL),  # data after data_end
        (FRAME, struct.pack("<6I", 0, 64, 4, 0, 0, 0), errno.EINVAL),  # data_meta set
        (FRAME, struct.pack("<6I", 6, 64, 0, 0, 0, 0), errno.EINVAL),  # metadata not a multiple of 4
        (bytes(300), struct.pack("<6I", 220, 300, 0, 0, 0, 0), errno.EINVAL),  # no room for xdp_frame
        (FRAME, struct.pack("<6I", 0, 64, 0, 0, 0, 3), errno.EINVAL),  # egress_ifindex
        (FRAME, struct.pack("<6I", 0, 64, 0, 0, 1, 0), errno.EINVAL),  # rx queue without ifindex
        (FRAME, struct.pack("<6I", 0, 64, 0, 999999, 0, 0), errno.ENODEV),
        (FRAME, struct.pack("<6I", 0, 64, 0, 0, 0, 0) + b"\x01", errno.E2BIG),
    ],
)


@EINVAL_CASES
def test_kernel_einval_cases(data, ctx, err):
    with pytest.raises(TestRunError) as info:
        run_test(program(LENGTH, ProgType.XDP), data_in=data, ctx_in=ctx)
    assert info.value.errno == err
    assert isinstance(info.value, KernelError)


@pytest.mark.kernel
@EINVAL_CASES
def test_the_kernel_refuses_the_same_requests(data, ctx, err):
    prog = kernel.load_program(assemble(LENGTH, syntax="c"), ProgType.XDP)
    try:
        with pytest.raises(KernelError) as info:
            prog.test_run(data, ctx, ctx_size_out=24 if ctx else None)
        assert info.value.errno == err
    finally:
        prog.close()


@pytest.mark.kernel
def test_a_short_linear_part_means_fragments_which_the_vm_refuses():
    """Linux 6.18 reads data_end < len(data_in) as the linear size of a multi-buffer frame."""
    md = struct.pack("<6I", 0, 40, 0, 0, 0, 0)
    prog = kernel.load_program(assemble(LENGTH, syntax="c"), ProgType.XDP)
    try:
        assert prog.test_run(FRAME, md, ctx_size_out=24).retval == 40  # the program sees 40 linear bytes
    finally:
        prog.close()
    with pytest.raises(NotSupportedError, match="fragmented"):
        run_test(program(LENGTH, ProgType.XDP), data_in=FRAME, ctx_in=md)


def test_bad_flags_and_sizes():
    prog = program(LENGTH, ProgType.XDP)
    with pytest.raises(TestRunError):
        run_test(prog, data_in=FRAME, flags=4)
    with pytest.raises(NotSupportedError):
        run_test(prog, data_in=bytes(5000))
    with pytest.raises(TestRunError) as info:
        run_test(prog, data_in=FRAME, data_size_out=10)
    assert info.value.errno == errno.ENOSPC


def test_regions_are_released_after_runs():
    # The frame and xdp_md regions are mapped once and reused by every run of the
    # program (a fresh zeroed frame each time, as in the kernel); closing the
    # program unmaps them.
    prog = program(LENGTH, ProgType.XDP)
    before = len(prog.runtime.memory)
    run_test(prog, data_in=FRAME)
    mapped = len(prog.runtime.memory)
    assert mapped <= before + 2
    for _ in range(5):
        run_test(prog, data_in=FRAME)
        run_test(prog, data_in=FRAME[:20], ctx_in=None)
    assert len(prog.runtime.memory) == mapped
    prog.close()
    assert len(prog.runtime.memory) == before


def test_reused_frame_is_fresh_each_run():
    """A run never sees bytes a previous run left in the reused frame (here: its headroom)."""
    prog = program(
        """
        r6 = r1
        r2 = -64
        call 44
        r2 = *(u32 *)(r6 + 0)
        r3 = *(u32 *)(r6 + 4)
        r4 = r2
        r4 += 1
        if r4 > r3 goto +4
        r0 = *(u8 *)(r2 + 0)
        r5 = 204
        *(u8 *)(r2 + 0) = r5
        exit
        r0 = 255
        exit
        """,
        ProgType.XDP,
    )
    first = run_test(prog, data_in=b"\xaa" * 64)
    second = run_test(prog, data_in=b"\xbb" * 14)
    assert (first.retval, second.retval) == (0, 0)
    assert first.data_out == b"\xcc" + bytes(63) + b"\xaa" * 64
    assert second.data_out == b"\xcc" + bytes(63) + b"\xbb" * 14


@pytest.mark.kernel
@pytest.mark.parametrize("meta", [4, 36, 216])
def test_metadata_lengths_the_kernel_accepts(meta: int):
    """Up to 255 bytes of metadata (u8 meta_len), as long as struct xdp_frame still fits in front."""
    text = "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 8)\nr0 = r2\nr0 -= r3\nexit"  # data - data_meta
    frame, md = bytes(300), struct.pack("<6I", meta, 300, 0, 0, 0, 0)
    prog = kernel.load_program(assemble(text, syntax="c"), ProgType.XDP)
    try:
        k = prog.test_run(frame, md, ctx_size_out=24)
    finally:
        prog.close()
    vm = run_test(program(text, ProgType.XDP), data_in=frame, ctx_in=md)
    assert (vm.retval, vm.data_out, vm.ctx_out) == (k.retval, k.data_out, k.ctx_out) == (meta, frame, md[:24])
