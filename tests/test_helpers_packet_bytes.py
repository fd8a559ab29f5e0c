"""xdp_load_bytes / xdp_store_bytes / skb_load_bytes, and tc_mark's skb_load_bytes on a real object."""

from __future__ import annotations

from pathlib import Path

import pybpf
from pybpf.backends.vm import VmBackend
from pybpf.runtime.testrun import test_run as vm_test_run
from pybpf.uapi import ProgType
from test_helpers_control import make_prog

BPF = Path(__file__).parent / "bpf"
FRAME = bytes(range(64))


def test_xdp_load_and_store_bytes():
    backend = VmBackend()
    # load 4 bytes at offset 10, store them back at offset 0 reversed order of words? keep simple:
    # copy bytes 10..13 to 0..3, return the load's result | (store's result << 8)
    prog = make_prog(
        backend,
        """
        r6 = r1
        r1 = r6
        r2 = 10
        r3 = r10
        r3 += -8
        r4 = 4
        call 189
        r7 = r0
        r1 = r6
        r2 = 0
        r3 = r10
        r3 += -8
        r4 = 4
        call 190
        r0 <<= 8
        r0 |= r7
        exit
    """,
    )
    res = vm_test_run(prog, data_in=FRAME)
    assert res.retval == 0
    assert res.data_out[:4] == FRAME[10:14] and res.data_out[4:] == FRAME[4:]
    out_of_range = make_prog(backend, "r2 = 62\nr3 = r10\nr3 += -8\nr4 = 4\ncall 189\nexit")
    assert vm_test_run(out_of_range, data_in=FRAME).retval == (-22) & 0xFFFFFFFF  # -EINVAL
    backend.close()


def test_skb_load_bytes_bounds():
    backend = VmBackend()
    prog = make_prog(
        backend,
        """
        r2 = 12
        r3 = r10
        r3 += -8
        r4 = 2
        call 26
        if r0 != 0 goto +2
        r0 = *(u16 *)(r10 - 8)
        exit
        r0 = 0xdead
        exit
    """,
        prog_type=ProgType.SCHED_CLS,
    )
    frame = bytearray(FRAME)
    frame[12:14] = b"\x08\x00"
    assert vm_test_run(prog, data_in=bytes(frame)).retval == 0x0008
    beyond = make_prog(
        backend, "r2 = 63\nr3 = r10\nr3 += -8\nr4 = 2\ncall 26\nexit", prog_type=ProgType.SCHED_CLS
    )
    assert vm_test_run(beyond, data_in=FRAME).retval == (-14) & 0xFFFFFFFF  # -EFAULT
    backend.close()


def test_tc_mark_fixture_uses_skb_load_bytes():
    frame = bytearray(FRAME)
    frame[12:14] = b"\x86\xdd"
    with pybpf.load(BPF / "tc_sockfilter.v3.o") as obj:
        assert obj.programs["tc_mark"].test_run(data_in=bytes(frame)).retval == 0  # TC_ACT_OK
        assert obj.global_bytes("last_proto") == (0x86DD).to_bytes(4, "little")
