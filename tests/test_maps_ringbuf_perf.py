"""RINGBUF and PERF_EVENT_ARRAY: record layout, ordering, discards, loss."""

from __future__ import annotations

import errno
import struct

import pytest

from pybpf.errors import MapError
from pybpf.maps import PerfBuffer, PerfRing, RingbufQuery, create_map
from pybpf.maps.flags import BPF_RINGBUF_BUSY_BIT, BPF_RINGBUF_DISCARD_BIT, ENOTSUPP
from pybpf.maps.storage import PAGE_SIZE
from pybpf.uapi import MapType


def rb(size: int = PAGE_SIZE):  # type: ignore[no-untyped-def]
    return create_map(MapType.RINGBUF, 0, 0, size, name="rb")


def test_ringbuf_creation_rules() -> None:
    for size in (0, 3 * PAGE_SIZE, PAGE_SIZE // 2):
        with pytest.raises(MapError) as ei:
            rb(size)
        assert ei.value.errno == errno.EINVAL
    with pytest.raises(MapError):
        create_map(MapType.RINGBUF, 4, 0, PAGE_SIZE)
    m = rb()
    with pytest.raises(MapError) as ei2:
        m.lookup(None)
    assert ei2.value.errno == ENOTSUPP


def test_reserve_submit_discard_consume_in_order() -> None:
    m = rb()
    a = m.reserve(5)
    b = m.reserve(3)
    assert a is not None and b is not None and a % 8 == 0
    hdr_len, pg_off = struct.unpack_from("<II", m.storage, a - 8)
    assert hdr_len == 5 | BPF_RINGBUF_BUSY_BIT and pg_off == 2  # data starts 2 pages in
    m.storage[a : a + 5] = b"hello"
    m.storage[b : b + 3] = b"xyz"
    m.submit(b)
    assert m.drain() == []  # record a is still BUSY: nothing passes it
    m.submit(a)
    assert m.query(RingbufQuery.AVAIL_DATA) == 16 + 16
    c = m.reserve(4)
    assert c is not None
    m.discard(c)
    assert struct.unpack_from("<I", m.storage, c - 8)[0] == 4 | BPF_RINGBUF_DISCARD_BIT
    assert m.output(b"tail") == 0
    assert m.drain() == [b"hello", b"xyz", b"tail"]
    assert m.query(RingbufQuery.CONS_POS) == m.query(RingbufQuery.PROD_POS) == 64
    assert m.query(RingbufQuery.RING_SIZE) == PAGE_SIZE
    with pytest.raises(MapError):
        m.submit(a)  # already submitted


def test_ringbuf_full_wraps_and_callback_stop() -> None:
    m = rb()
    rec = 1000  # 1008 bytes with header
    assert all(m.output(bytes([i]) * rec) == 0 for i in range(4))
    assert m.output(b"x" * rec) == -errno.EAGAIN  # 5 * 1008 > 4095
    assert m.reserve(8, flags=1) is None
    got: list[bytes] = []
    assert m.consume(lambda d: (got.append(d), -7)[1]) == -7  # stops after the first
    assert len(got) == 1
    assert m.consume(got.append) == 3  # type: ignore[arg-type]
    # The next records wrap around the end of the data area and read back whole.
    for i in range(6):
        assert m.output(bytes([0x40 + i]) * rec) == 0
        assert m.drain() == [bytes([0x40 + i]) * rec]
    assert m.output(b"z" * (PAGE_SIZE)) == -errno.EAGAIN
    assert m.output(b"a", flags=8) == -errno.EINVAL


def test_perf_event_array_output_and_loss() -> None:
    m = create_map(MapType.PERF_EVENT_ARRAY, 4, 4, 2, num_cpus=2)
    samples: list[tuple[int, bytes]] = []
    lost: list[tuple[int, int]] = []
    buf = PerfBuffer(
        m, page_cnt=1, on_sample=lambda c, d: samples.append((c, d)), on_lost=lambda c, n: lost.append((c, n))
    )
    assert m.output(1, b"abc") == 0
    assert m.output(0, b"hello!") == 0
    assert buf.poll() == 2
    # raw size is padded so that u32 size + data is a multiple of 8
    assert sorted(samples) == [(0, b"hello!" + bytes(6)), (1, b"abc\0")]
    samples.clear()
    payload = b"p" * 1000
    results = [m.output(0, payload) for _ in range(6)]
    assert results.count(-errno.ENOSPC) == 2  # 4 x 1016 bytes fit in one page
    assert buf.rings[0].lost == 2
    assert buf.poll() == 4
    assert m.output(0, b"after") == 0
    assert buf.poll() == 1
    assert lost == [(0, 2)]  # a LOST record precedes the next sample
    assert samples[-1][1].startswith(b"after")
    assert m.output(0, b"x", flags=1) == -errno.EOPNOTSUPP  # ring bound to CPU 1
    assert m.output(0, b"x", flags=5) == -errno.E2BIG
    with pytest.raises(MapError) as ei:
        m.lookup(struct.pack("<I", 0))
    assert ei.value.errno == ENOTSUPP


def test_perf_ring_rejects_bad_page_count() -> None:
    with pytest.raises(MapError):
        PerfRing(3)


def test_public_perf_buffer_reports_lost_samples_per_cpu() -> None:
    """pybpf.PerfBuffer(map, callback, lost_callback): the libbpf-shaped reader over a VM map."""
    import pybpf

    m = create_map(MapType.PERF_EVENT_ARRAY, 4, 4, 2, num_cpus=2)
    samples: list[tuple[int, bytes]] = []
    lost: list[tuple[int, int]] = []
    with pybpf.PerfBuffer(
        m, lambda c, d: samples.append((c, d)), lambda c, n: lost.append((c, n)), page_cnt=1
    ) as pb:
        results = [m.output(1, b"q" * 1000) for _ in range(5)]
        assert results.count(-errno.ENOSPC) == 1
        assert pb.poll(0) == 4
        assert m.output(1, b"next") == 0
        assert pb.poll(0) == 1
    assert lost == [(1, 1)]
    assert [c for c, _ in samples] == [1] * 5 and samples[-1][1].startswith(b"next")
