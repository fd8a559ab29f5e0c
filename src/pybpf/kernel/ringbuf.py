"""Reading a BPF_MAP_TYPE_RINGBUF map from userspace through its mmap'ed pages.

Layout (kernel/bpf/ringbuf.c, UAPI): page 0 holds ``consumer_pos`` (we write it),
page 1 ``producer_pos`` (kernel writes), then the data area of ``max_entries``
bytes mapped twice in a row so a record that wraps is still contiguous.  Each
record starts with an 8-byte header: u32 length with BUSY (bit 31) and DISCARD
(bit 30) flags, u32 page offset; records are 8-byte aligned.

Ordering: on x86-64 (TSO) plain loads of producer_pos and then the header are not
reordered, so Python's ordinary reads are sufficient there.
"""

from __future__ import annotations

import mmap
import select
import struct
from collections.abc import Callable

from ..errors import NotSupportedError
from ..uapi import MapType
from .maps import KernelMap

BUSY_BIT = 1 << 31
DISCARD_BIT = 1 << 30
HEADER_SIZE = 8
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
_LENGTH_MASK = ~(BUSY_BIT | DISCARD_BIT) & 0xFFFFFFFF


class RingBufferReader:
    """Consume records from one ring buffer map; ``poll`` waits on the map's fd with epoll."""

    def __init__(self, ring: KernelMap) -> None:
        if ring.map_type != MapType.RINGBUF:
            raise NotSupportedError(f"RingBufferReader needs a ringbuf map, not {ring.map_type}")
        self._ring = ring
        self._size = ring.max_entries
        self._mask = self._size - 1
        page = mmap.PAGESIZE
        self._consumer = mmap.mmap(ring.fd, page, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
        self._producer = mmap.mmap(
            ring.fd, page + 2 * self._size, mmap.MAP_SHARED, mmap.PROT_READ, offset=page
        )
        self._data_off = page
        self._epoll = select.epoll()
        self._epoll.register(ring.fd, select.EPOLLIN)

    def close(self) -> None:
        self._epoll.close()
        self._consumer.close()
        self._producer.close()

    def __enter__(self) -> RingBufferReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def consume(self, callback: Callable[[bytes], object] | None = None) -> list[bytes]:
        """Read every committed record (skipping discarded ones); returns them, or feeds ``callback``."""
        out: list[bytes] = []
        self.consume_into(callback if callback is not None else out.append)
        return out

    def consume_into(self, callback: Callable[[bytes], object]) -> int:
        """Hand each committed record to ``callback``; returns how many were handed over.

        A negative int from the callback stops consuming after that record and is
        returned (libbpf's convention, and the VM ring's).  consumer_pos advances
        after every record, so the producer can reuse the space while a long drain
        is still running.  This loop is the ring buffer's throughput
        (bench/bench_kernel_ringbuf.py): locals only.
        """
        data, consumer, base, mask = self._producer, self._consumer, self._data_off, self._mask
        u32_at, u64_put = _U32.unpack_from, _U64.pack_into
        cons = _U64.unpack_from(consumer, 0)[0]
        prod = _U64.unpack_from(data, 0)[0]
        count = 0
        while cons < prod:
            at = base + (cons & mask)
            length = u32_at(data, at)[0]
            if length & BUSY_BIT:
                break
            size = length & _LENGTH_MASK
            cons += (size + HEADER_SIZE + 7) & ~7
            if not length & DISCARD_BIT:
                start = at + HEADER_SIZE
                rc = callback(data[start : start + size])
                u64_put(consumer, 0, cons)
                count += 1
                if isinstance(rc, int) and rc < 0:
                    return rc
            else:
                u64_put(consumer, 0, cons)
            if cons >= prod:
                prod = _U64.unpack_from(data, 0)[0]  # the producer may have moved on meanwhile
        return count

    def poll(self, timeout: float = -1, callback: Callable[[bytes], object] | None = None) -> list[bytes]:
        """Wait up to ``timeout`` seconds (-1: forever) for data, then consume."""
        self._epoll.poll(timeout)
        return self.consume(callback)
