"""A program writes records with bpf_ringbuf_output; the mmap reader gets them in order."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kernel_asm import add_imm, call, exit_, ld_map_fd, mov_imm, mov_reg, st_w
from pybpf import RingBuffer
from pybpf.errors import NotSupportedError
from pybpf.kernel import create_map, load_program
from pybpf.kernel.pin import ensure_bpffs
from pybpf.kernel.ringbuf import RingBufferReader
from pybpf.loaded import load
from pybpf.uapi import MapType, ProgType

pytestmark = pytest.mark.kernel


def ringbuf_writer(map_fd: int) -> list:  # type: ignore[type-arg]
    """Output the 8-byte record b'ybpf!!!\\0' (two u32 stack words) on every run."""
    return [
        st_w(10, -8, 0x66706279),
        st_w(10, -4, 0x00212121),
        ld_map_fd(1, map_fd),
        mov_reg(2, 10),
        add_imm(2, -8),
        mov_imm(3, 8),
        mov_imm(4, 0),
        call("ringbuf_output"),
        mov_imm(0, 0),
        exit_(),
    ]


def test_records_written_by_a_program_are_read_back() -> None:
    with (
        create_map(MapType.RINGBUF, 0, 0, 4096) as rb,
        load_program(ringbuf_writer(rb.fd), ProgType.SOCKET_FILTER, name="rb_out") as prog,
        RingBufferReader(rb) as reader,
    ):
        assert reader.consume() == []
        prog.test_run(b"\0" * 64, repeat=3)
        records = reader.poll(timeout=1.0)
        assert records == [b"ybpf!!!\0"] * 3
        # Wrap-around: far more records than fit at once, consumed in rounds.
        seen = 0
        for _ in range(20):
            prog.test_run(b"\0" * 64, repeat=100)  # 100 * 16 bytes < 4096
            seen += len(reader.consume())
        assert seen == 2000


def test_reader_refuses_other_maps() -> None:
    with create_map(MapType.ARRAY, 4, 4, 1) as m, pytest.raises(NotSupportedError):
        RingBufferReader(m)


def test_negative_callback_stops_and_leaves_the_rest_like_the_vm() -> None:
    """Both backends: the callback's negative return stops the drain, later records stay."""
    ensure_bpffs()
    pins = f"/sys/fs/bpf/pybpf_i5_rb_{os.getpid()}"  # maps_btf pins a map by name
    os.makedirs(pins, exist_ok=True)
    path = Path(__file__).resolve().parent / "bpf" / "maps_btf.v3.o"
    results = []
    try:
        for options in ({"backend": "vm"}, {"backend": "kernel", "pin_root": pins}):
            with load(path, programs=["xdp_use_maps"], **options) as obj:
                for _ in range(3):
                    obj.programs["xdp_use_maps"].test_run(data_in=bytes(64))
                seen: list[bytes] = []

                def stop(data: bytes, seen: list[bytes] = seen) -> int:
                    seen.append(data)
                    return -5

                with RingBuffer(obj.maps["rb"], stop) as rb:
                    first = rb.consume()
                with RingBuffer(obj.maps["rb"], seen.append) as rb:
                    rest = rb.consume()
                results.append((first, rest, len(seen)))
    finally:
        for name in os.listdir(pins):
            os.unlink(os.path.join(pins, name))
        os.rmdir(pins)
    assert results[0] == results[1] == (-5, 2, 3)
