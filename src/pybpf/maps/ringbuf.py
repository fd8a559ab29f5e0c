"""BPF_MAP_TYPE_RINGBUF: the kernel's single-ring, multi-producer record buffer.

Layout of the data region (what the kernel lets user space mmap)::

    page 0   consumer page: u64 consumer_pos (written by the reader)
    page 1   producer page: u64 producer_pos; u64 pending_pos (ours, for reserve)
    page 2.. data area, max_entries bytes, followed by a second max_entries bytes

Records are 8-byte aligned: an 8-byte header (u32 len | BUSY bit 31 | DISCARD bit
30, u32 pg_off) then the sample.  The kernel maps the data pages twice in a row
so a record that wraps is contiguous; here the data area is simply allocated
twice as long and every record is accessed linearly from ``pos & mask``, which
gives the same view (the tail of a wrapped record lives past the first copy).
A reserved record stays BUSY until submit/discard, and the consumer stops at the
first BUSY record, so order is preserved exactly as in the kernel.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable
from typing import ClassVar

from pybpf.maps.base import Map, MapSpec, einval
from pybpf.maps.flags import (
    BPF_RB_FORCE_WAKEUP,
    BPF_RB_NO_WAKEUP,
    BPF_RINGBUF_BUSY_BIT,
    BPF_RINGBUF_DISCARD_BIT,
    BPF_RINGBUF_HDR_SZ,
    MapFlag,
    RingbufQuery,
)
from pybpf.maps.storage import PAGE_SIZE, Layout, Storage, round8
from pybpf.uapi import MapType

RINGBUF_CREATE_FLAG_MASK = int(MapFlag.NUMA_NODE)
RINGBUF_MAX_RECORD_SZ = 0xFFFFFFFF // 4
_U64 = struct.Struct("<Q")
_HDR = struct.Struct("<II")


class RingBufMap(Map):
    """RINGBUF: reserve/submit/discard/output/query for producers, consume() for readers."""

    map_types: ClassVar[tuple[MapType, ...]] = (MapType.RINGBUF,)

    def __init__(self, spec: MapSpec, storage: Storage) -> None:
        super().__init__(spec, storage)
        base = storage.data_offset
        self._cons = base
        self._prod = base + PAGE_SIZE
        self._pend = base + PAGE_SIZE + 8
        self._data = base + 2 * PAGE_SIZE
        self._mask = spec.max_entries - 1
        #: Wakeups a real kernel would have sent (a reader can poll on this).
        self.wakeups = 0

    @classmethod
    def check_spec(cls, spec: MapSpec) -> MapSpec:
        unknown = spec.flags & ~RINGBUF_CREATE_FLAG_MASK
        if unknown:
            raise einval(spec, f"flags {unknown:#x} not valid for ring buffers")
        n = spec.max_entries
        if spec.key_size or spec.value_size:
            raise einval(spec, "ring buffers need key_size 0 and value_size 0")
        if n == 0 or n & (n - 1) or n % PAGE_SIZE:
            raise einval(spec, f"ring buffer size {n} must be a power of 2 multiple of {PAGE_SIZE}")
        return spec

    @classmethod
    def layout(cls, spec: MapSpec) -> Layout:
        return cls._layout(spec, 2 * PAGE_SIZE + 2 * spec.max_entries, journal=64)

    # -- positions ------------------------------------------------------------------

    def _get(self, off: int) -> int:
        return int(_U64.unpack_from(self._mm, off)[0])

    def _set(self, off: int, v: int) -> None:
        _U64.pack_into(self._mm, off, v)

    @property
    def consumer_pos(self) -> int:
        return self._get(self._cons)

    @property
    def producer_pos(self) -> int:
        return self._get(self._prod)

    @property
    def data_offset(self) -> int:
        """Offset of the data area inside ``storage``."""
        return self._data

    # -- producer side (the helpers) -----------------------------------------------------

    def reserve(self, size: int, flags: int = 0) -> int | None:
        """bpf_ringbuf_reserve: offset in ``storage`` of the sample, or None (no room/bad flags)."""
        if flags or size < 0 or size > RINGBUF_MAX_RECORD_SZ:
            return None
        length = round8(size + BPF_RINGBUF_HDR_SZ)
        if length > self.max_entries:
            return None
        cons = self._get(self._cons)
        prod = self._get(self._prod)
        pend = self._get(self._pend)
        mm = self._mm
        while pend < prod:
            hdr_len = _HDR.unpack_from(mm, self._data + (pend & self._mask))[0]
            if hdr_len & BPF_RINGBUF_BUSY_BIT:
                break
            pend += round8((hdr_len & ~BPF_RINGBUF_DISCARD_BIT) + BPF_RINGBUF_HDR_SZ)
        self._set(self._pend, pend)
        new_prod = prod + length
        if new_prod - cons > self._mask or new_prod - pend > self._mask:
            return None
        hdr = self._data + (prod & self._mask)
        pg_off = (hdr - self._cons) // PAGE_SIZE
        _HDR.pack_into(mm, hdr, size | BPF_RINGBUF_BUSY_BIT, pg_off)
        self._set(self._prod, new_prod)
        return hdr + BPF_RINGBUF_HDR_SZ

    def _commit(self, sample_off: int, flags: int, discard: bool) -> None:
        hdr = sample_off - BPF_RINGBUF_HDR_SZ
        if not self._data <= hdr < self._data + self.max_entries:
            raise self._err(f"offset {sample_off:#x} is not a reserved ring buffer sample")
        length, pg_off = _HDR.unpack_from(self._mm, hdr)
        if not length & BPF_RINGBUF_BUSY_BIT:
            raise self._err(f"sample at {sample_off:#x} is not reserved (already submitted?)")
        new_len = length ^ BPF_RINGBUF_BUSY_BIT
        if discard:
            new_len |= BPF_RINGBUF_DISCARD_BIT
        _HDR.pack_into(self._mm, hdr, new_len, pg_off)
        # The kernel wakes the reader when the record it waits on is committed.
        waiting_on = self._get(self._cons) & self._mask
        if flags & BPF_RB_FORCE_WAKEUP or (not flags & BPF_RB_NO_WAKEUP and waiting_on == hdr - self._data):
            self.wakeups += 1

    def submit(self, sample_off: int, flags: int = 0) -> None:
        """bpf_ringbuf_submit."""
        self._commit(sample_off, flags, discard=False)

    def discard(self, sample_off: int, flags: int = 0) -> None:
        """bpf_ringbuf_discard: the consumer skips the record."""
        self._commit(sample_off, flags, discard=True)

    def output(self, data: bytes, flags: int = 0) -> int:
        """bpf_ringbuf_output: 0, -EINVAL (flags) or -EAGAIN (no room)."""
        if flags & ~(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP):
            return -errno.EINVAL
        off = self.reserve(len(data))
        if off is None:
            return -errno.EAGAIN
        self._mm[off : off + len(data)] = bytes(data)
        self.submit(off, flags)
        return 0

    def query(self, flags: int) -> int:
        """bpf_ringbuf_query: AVAIL_DATA, RING_SIZE, CONS_POS, PROD_POS; 0 otherwise."""
        if flags == RingbufQuery.AVAIL_DATA:
            return self.producer_pos - self.consumer_pos
        if flags == RingbufQuery.RING_SIZE:
            return self.max_entries
        if flags == RingbufQuery.CONS_POS:
            return self.consumer_pos
        if flags == RingbufQuery.PROD_POS:
            return self.producer_pos
        return 0

    # -- consumer side (libbpf's ring_buffer__consume) ------------------------------------

    def consume(self, callback: Callable[[bytes], int | None], limit: int | None = None) -> int:
        """Hand each submitted record, in order, to ``callback``; skip discarded ones.

        Stops at the first record still being written (BUSY).  A negative return
        from ``callback`` stops consumption and is returned (the record counts as
        consumed, as in libbpf).  Otherwise returns the number of records handed over.
        """
        mm = self._mm
        cons = self._get(self._cons)
        count = 0
        while True:
            got_new = False
            prod = self._get(self._prod)
            while cons < prod:
                hdr = self._data + (cons & self._mask)
                length = _HDR.unpack_from(mm, hdr)[0]
                if length & BPF_RINGBUF_BUSY_BIT:
                    self._set(self._cons, cons)
                    return count
                got_new = True
                size = length & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT)
                cons += round8(size + BPF_RINGBUF_HDR_SZ)
                if not length & BPF_RINGBUF_DISCARD_BIT:
                    sample = mm[hdr + BPF_RINGBUF_HDR_SZ : hdr + BPF_RINGBUF_HDR_SZ + size]
                    rc = callback(sample)
                    if rc is not None and rc < 0:
                        self._set(self._cons, cons)
                        return rc
                    count += 1
                self._set(self._cons, cons)
                if limit is not None and count >= limit:
                    return count
            if not got_new:
                return count

    def drain(self) -> list[bytes]:
        """Consume everything available and return the samples."""
        out: list[bytes] = []
        self.consume(out.append)
        return out
