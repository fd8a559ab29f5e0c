"""End to end: a tracepoint program attached in the kernel reports this process's openat.

Also the perf event array reader: samples from a program run, and the kernel's
lost-sample count when a ring overflows.
"""

from __future__ import annotations

import os
import struct
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from pybpf.kernel.perf import PerfBufferReader
from pybpf.kernel.ringbuf import RingBufferReader
from pybpf.loaded import load

pytestmark = pytest.mark.kernel

FIXTURES = Path(__file__).resolve().parent / "bpf"
EVENT = struct.Struct("<IIq16s256s")  # struct openat_event


def _comm() -> bytes:
    return Path("/proc/self/comm").read_bytes().strip()


@pytest.mark.parametrize("version", ["v3", "v4"])
def test_openat_tracepoint_delivers_comm_and_path(version: str) -> None:
    with load(FIXTURES / f"openat_ringbuf.{version}.o", backend="kernel") as obj:
        links = obj.attach_all()
        assert len(links) == 1
        with RingBufferReader(obj.maps["events"]) as reader:
            path = os.path.join(tempfile.gettempdir(), f"pybpf-e2e-{uuid.uuid4().hex}")
            try:
                with open(path, "w"):
                    pass
                mine = []
                deadline = time.monotonic() + 5
                while not mine and time.monotonic() < deadline:
                    for record in reader.poll(0.2):
                        pid, tid, _flags, comm, filename = EVENT.unpack_from(record)
                        if filename.split(b"\0", 1)[0] == path.encode():
                            mine.append((pid, tid, comm.split(b"\0", 1)[0]))
            finally:
                os.unlink(path)
        assert mine, "no ring buffer record for our openat"
        pid, tid, comm = mine[0]
        assert pid == os.getpid()
        assert tid == os.getpid()  # the main thread opened it
        assert comm == _comm()[:15]


def test_links_close_with_object() -> None:
    with load(FIXTURES / "openat_ringbuf.v3.o", backend="kernel") as obj:
        link = obj.programs["trace_openat"].attach()
        assert not link.closed
    assert link.closed


@pytest.fixture()
def maps_btf(pin_root: str):
    with load(FIXTURES / "maps_btf.v3.o", backend="kernel", pin_root=pin_root) as obj:
        yield obj


def test_perf_buffer_samples(maps_btf) -> None:
    got: list[tuple[int, bytes]] = []
    with PerfBufferReader(maps_btf.maps["perf_out"], lambda cpu, data: got.append((cpu, data))) as reader:
        maps_btf.programs["xdp_use_maps"].test_run(data_in=bytes(64), repeat=5)
        delivered = reader.poll(1000)
        delivered += reader.consume()
    assert delivered == 5
    assert [data for _cpu, data in got] == [struct.pack("<I", 7)] * 5
    assert all(0 <= cpu < os.cpu_count() for cpu, _ in got)


def test_perf_buffer_lost_samples(maps_btf) -> None:
    # Stay on one CPU: a loss is reported in the ring of the CPU that dropped, on its next write.
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})
    try:
        _lost_samples(maps_btf)
    finally:
        os.sched_setaffinity(0, before)


def _lost_samples(maps_btf) -> None:
    got: list[bytes] = []
    lost: list[int] = []
    program = maps_btf.programs["xdp_use_maps"]
    with PerfBufferReader(
        maps_btf.maps["perf_out"], lambda _c, d: got.append(d), lambda _c, n: lost.append(n), pages=1
    ) as reader:
        # One 4 KiB ring holds ~170 samples of 24 bytes: the rest are dropped.
        run = 1000
        program.test_run(data_in=bytes(64), repeat=run)
        reader.consume()
        program.test_run(data_in=bytes(64), repeat=1)  # the kernel reports the loss on the next write
        reader.consume()
    total = len(got) + sum(lost)
    assert sum(lost) > 0
    assert total == run + 1
