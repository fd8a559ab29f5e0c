"""Loading hand-assembled programs, BPF_PROG_TEST_RUN and verifier rejections."""

from __future__ import annotations

import errno
import struct

import pytest

from kernel_asm import (
    add_imm,
    counter,
    exit_,
    jgt_reg,
    ldx_b,
    ldx_w,
    mov_imm,
    mov_reg,
    return_imm,
    stx_b,
)
from pybpf.backends.testrun import TestRun
from pybpf.errors import KernelError, VerifierError
from pybpf.isa import encode
from pybpf.kernel import KernelArgumentError, KernelVerifierError, create_map, load_program
from pybpf.uapi import MapType, ProgType

pytestmark = pytest.mark.kernel

XDP_DROP, XDP_PASS = 1, 2

# XDP: if the packet is non-empty, return XDP_PASS when byte 0 is 0x42 (after
# overwriting it with 0xff), else XDP_DROP.
XDP_FIRST_BYTE = [
    ldx_w(2, 1, 0),  # r2 = ctx->data
    ldx_w(3, 1, 4),  # r3 = ctx->data_end
    mov_reg(4, 2),
    add_imm(4, 1),
    jgt_reg(4, 3, 7),  # packet shorter than 1 byte -> drop
    ldx_b(5, 2, 0),
    mov_imm(0, XDP_DROP),
    mov_imm(6, 0xFF),
    stx_b(2, 6, 0),
    # if r5 != 0x42 goto exit
    __import__("pybpf.isa", fromlist=["Instruction"]).Instruction(0x55, 5, 0, 1, 0x42),
    mov_imm(0, XDP_PASS),
    exit_(),
    mov_imm(0, XDP_DROP),
    exit_(),
]


def test_xdp_test_run_retval_data_out_and_duration() -> None:
    with load_program(XDP_FIRST_BYTE, ProgType.XDP, name="first_byte") as prog:
        run = prog.test_run(b"\x42" + b"\x00" * 63)
        assert isinstance(run, TestRun)
        assert run.retval == XDP_PASS
        assert run.data_out == b"\xff" + b"\x00" * 63
        # Repetitions share one buffer: after the first run byte 0 is 0xff -> drop.
        again = prog.test_run(b"\x42" * 64, repeat=1000)
        assert again.retval == XDP_DROP
        assert 0 < again.duration_ns < 1_000_000
        info = prog.info()
        assert info.type == ProgType.XDP and info.name == "first_byte" and info.xlated_len > 0
        assert len(info.tag) == 16


def test_socket_filter_returns_skb_len() -> None:
    prog = load_program([ldx_w(0, 1, 0), exit_()], ProgType.SOCKET_FILTER, name="len")
    try:
        assert (
            prog.test_run(b"\x00" * 100, repeat=5).retval == 100 - 14
        )  # skb->len excludes the Ethernet header
    finally:
        prog.close()
    assert prog.closed


def test_program_from_encoded_bytes_and_xlated_round_trip() -> None:
    code = encode(return_imm(7))
    with load_program(code, ProgType.SOCKET_FILTER) as prog:
        assert prog.test_run(b"\x00" * 64).retval == 7
        assert encode(prog.xlated()) == code


def test_verifier_rejection_carries_log_and_summary() -> None:
    with pytest.raises(VerifierError) as exc:
        load_program([exit_()], ProgType.XDP, name="no_r0")
    err = exc.value
    assert isinstance(err, KernelVerifierError)
    assert err.summary == "R0 !read_ok"
    assert "processed 1 insns" in err.log
    assert err.errno == errno.EACCES and err.command == "prog_load"
    assert isinstance(err.__cause__, KernelError)


def test_out_of_bounds_packet_read_is_rejected() -> None:
    insns = [ldx_w(2, 1, 0), ldx_b(0, 2, 0), exit_()]  # no data_end check
    with pytest.raises(VerifierError) as exc:
        load_program(insns, ProgType.XDP)
    assert "packet" in exc.value.summary


def test_log_buffer_grows_until_the_log_fits() -> None:
    with create_map(MapType.ARRAY, 4, 8, 1) as m:
        prog = load_program(counter(m.fd), ProgType.SOCKET_FILTER, log_level=2, log_size=256)
        with prog:
            assert len(prog.log) > 256 and "processed" in prog.log


def test_argument_errors() -> None:
    with pytest.raises(KernelArgumentError):
        load_program(b"\x00" * 7, ProgType.XDP)
    with pytest.raises(KernelArgumentError):
        load_program(return_imm(0), ProgType.XDP, name="a" * 20)
    with pytest.raises(KernelError) as exc:
        load_program(return_imm(0), 9999)
    assert exc.value.errno == errno.EINVAL and exc.value.hint


def test_counter_program_updates_a_map_through_test_run() -> None:
    with (
        create_map(MapType.ARRAY, 4, 8, 1, name="cnt") as m,
        load_program(counter(m.fd, ret=0), ProgType.SOCKET_FILTER, name="count") as prog,
    ):
        prog.test_run(b"\x00" * 64, repeat=25)
        assert struct.unpack("<Q", m.lookup(b"\0" * 4))[0] == 25
        assert prog.info().map_ids == (m.info().id,)
