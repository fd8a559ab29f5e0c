"""BPF_MAP_TYPE_PERF_EVENT_ARRAY: per-CPU perf rings for bpf_perf_event_output.

Each index holds a :class:`PerfRing`, laid out as the kernel's perf mmap: one
metadata page (``data_head`` at 1024, ``data_tail`` at 1032, ``data_offset`` and
``data_size`` after them, as in ``struct perf_event_mmap_page``) followed by a
power-of-two number of data pages.  Samples are PERF_RECORD_SAMPLE with
PERF_SAMPLE_RAW (``u32 size`` + data padded to 8 bytes); when a sample does not
fit it is counted as lost, and the next sample that fits is preceded by a
PERF_RECORD_LOST record, as the kernel does.  :class:`PerfBuffer` is the reader
(libbpf's perf_buffer): one ring per CPU, callbacks per sample and per loss.
"""

from __future__ import annotations

import errno
import mmap
import struct
from collections.abc import Callable
from typing import Any, ClassVar

from pybpf.errors import MapError
from pybpf.maps.array import SparseArrayMap
from pybpf.maps.base import MapSpec
from pybpf.maps.flags import BPF_ANY, BPF_F_CURRENT_CPU, BPF_F_INDEX_MASK, ENOTSUPP
from pybpf.maps.prog_array import check_fd_array_spec
from pybpf.maps.storage import PAGE_SIZE, Storage
from pybpf.uapi import MapType

PERF_RECORD_LOST = 2
PERF_RECORD_SAMPLE = 9
_HEAD_OFF = 1024
_TAIL_OFF = 1032
_DOFF_OFF = 1040
_DSIZE_OFF = 1048
_U64 = struct.Struct("<Q")
_EVHDR = struct.Struct("<IHH")


class PerfRing:
    """One CPU's perf ring: a metadata page and ``page_cnt`` data pages."""

    def __init__(self, page_cnt: int = 8) -> None:
        if page_cnt <= 0 or page_cnt & (page_cnt - 1):
            raise MapError(f"perf ring page count {page_cnt} must be a power of 2")
        self.mm = mmap.mmap(-1, (1 + page_cnt) * PAGE_SIZE)
        self.data_size = page_cnt * PAGE_SIZE
        _U64.pack_into(self.mm, _DOFF_OFF, PAGE_SIZE)
        _U64.pack_into(self.mm, _DSIZE_OFF, self.data_size)
        self.lost = 0
        self.lost_total = 0

    def _get(self, off: int) -> int:
        return int(_U64.unpack_from(self.mm, off)[0])

    @property
    def data_head(self) -> int:
        return self._get(_HEAD_OFF)

    @property
    def data_tail(self) -> int:
        return self._get(_TAIL_OFF)

    def _write(self, pos: int, data: bytes) -> None:
        start = pos % self.data_size
        first = min(len(data), self.data_size - start)
        base = PAGE_SIZE
        self.mm[base + start : base + start + first] = data[:first]
        if first < len(data):
            self.mm[base : base + len(data) - first] = data[first:]

    def _read(self, pos: int, n: int) -> bytes:
        start = pos % self.data_size
        first = min(n, self.data_size - start)
        base = PAGE_SIZE
        out = self.mm[base + start : base + start + first]
        if first < n:
            out += self.mm[base : base + n - first]
        return out

    def write_sample(self, data: bytes) -> int:
        """Append a raw sample: 0, -ENOSPC when full (counted lost) or -E2BIG."""
        raw = (len(data) + 4 + 7) // 8 * 8 - 4
        size = _EVHDR.size + 4 + raw
        if size > 0xFFFF:
            return -errno.E2BIG
        need = size + (24 if self.lost else 0)
        head, tail = self.data_head, self.data_tail
        if self.data_size - (head - tail) < need:
            self.lost += 1
            self.lost_total += 1
            return -errno.ENOSPC
        if self.lost:
            rec = _EVHDR.pack(PERF_RECORD_LOST, 0, 24) + _U64.pack(0) + _U64.pack(self.lost)
            self._write(head, rec)
            head += 24
            self.lost = 0
        rec = _EVHDR.pack(PERF_RECORD_SAMPLE, 0, size) + struct.pack("<I", raw) + data
        self._write(head, rec + bytes(size - len(rec)))
        _U64.pack_into(self.mm, _HEAD_OFF, head + size)
        return 0

    def read(self, on_sample: Callable[[bytes], Any], on_lost: Callable[[int], Any] | None = None) -> int:
        """Hand over every record between tail and head; returns the number of samples."""
        head, tail = self.data_head, self.data_tail
        count = 0
        while tail < head:
            rtype, _misc, size = _EVHDR.unpack(self._read(tail, 8))
            if size < 8:
                raise MapError(f"corrupt perf record of size {size} at {tail}")
            rec = self._read(tail, size)
            if rtype == PERF_RECORD_SAMPLE:
                (raw,) = struct.unpack_from("<I", rec, 8)
                on_sample(rec[12 : 12 + raw])
                count += 1
            elif rtype == PERF_RECORD_LOST and on_lost is not None:
                on_lost(_U64.unpack_from(rec, 16)[0])
            tail += size
        _U64.pack_into(self.mm, _TAIL_OFF, tail)
        return count


class PerfEventArrayMap(SparseArrayMap):
    """PERF_EVENT_ARRAY: index (usually the CPU) -> a :class:`PerfRing`."""

    map_types: ClassVar[tuple[MapType, ...]] = (MapType.PERF_EVENT_ARRAY,)

    def __init__(self, spec: MapSpec, storage: Storage) -> None:
        super().__init__(spec, storage)
        self._rings: dict[int, PerfRing] = {}
        self._ring_ids = 0

    @classmethod
    def check_spec(cls, spec: MapSpec) -> MapSpec:
        check_fd_array_spec(spec)
        return spec

    def _user_value(self, value: Any) -> bytes:
        if not isinstance(value, PerfRing):
            raise self._err("a perf event array value is a PerfRing", errno.EBADF)
        self._pending = value
        self._ring_ids += 1
        return self._ring_ids.to_bytes(4, "little")

    def _update(self, key: bytes, value: bytes, flags: int) -> None:
        i = self._index(key)
        if flags != BPF_ANY:
            raise self._err("perf event array updates take BPF_ANY only")
        if i >= self.max_entries:
            raise self._err(f"index {i} out of range", errno.E2BIG)
        self._set(i, value)
        self._rings[i] = self._pending

    def _lookup(self, key: bytes, flags: int) -> bytes:
        raise self._err("perf event array elements cannot be read from user space", ENOTSUPP)

    def _delete(self, key: bytes) -> None:
        i = self._index(key)
        if i >= self.max_entries:
            raise self._err(f"index {i} out of range", errno.E2BIG)
        if not self._present(i):
            raise self._enoent(f"no perf ring at index {i}")
        self._clear(i)
        self._rings.pop(i, None)

    def ring(self, index: int) -> PerfRing | None:
        return self._rings.get(index)

    def output(self, cpu: int, data: bytes, flags: int = BPF_F_CURRENT_CPU) -> int:
        """bpf_perf_event_output from ``cpu``: 0 or a negative errno, as the helper returns."""
        if flags & ~BPF_F_INDEX_MASK:
            return -errno.EINVAL
        index = flags & BPF_F_INDEX_MASK
        if index == BPF_F_CURRENT_CPU:
            index = cpu
        if index >= self.max_entries:
            return -errno.E2BIG
        ring = self._rings.get(index)
        if ring is None or not self._present(index):
            return -errno.ENOENT
        if index != cpu:
            return -errno.EOPNOTSUPP  # the event is bound to another CPU
        return ring.write_sample(bytes(data))

    def prog_update(self, key: bytes, value: bytes, flags: int = 0, cpu: int = 0) -> None:
        raise self._err("programs cannot update a perf event array")


class PerfBuffer:
    """Reader over a perf event array: one ring per CPU, like libbpf's perf_buffer."""

    def __init__(
        self,
        pmap: PerfEventArrayMap,
        page_cnt: int = 8,
        on_sample: Callable[[int, bytes], Any] | None = None,
        on_lost: Callable[[int, int], Any] | None = None,
    ) -> None:
        self.map = pmap
        self.on_sample = on_sample
        self.on_lost = on_lost
        self.rings: dict[int, PerfRing] = {}
        for cpu in range(min(pmap.max_entries, pmap.num_cpus)):
            ring = PerfRing(page_cnt)
            pmap.update(cpu.to_bytes(4, "little"), ring)
            self.rings[cpu] = ring

    def poll(self) -> int:
        """Deliver everything pending on every CPU; returns the number of samples."""
        total = 0
        for cpu, ring in self.rings.items():

            def sample(data: bytes, cpu: int = cpu) -> None:
                if self.on_sample is not None:
                    self.on_sample(cpu, data)

            def lost(n: int, cpu: int = cpu) -> None:
                if self.on_lost is not None:
                    self.on_lost(cpu, n)

            total += ring.read(sample, lost)
        return total
