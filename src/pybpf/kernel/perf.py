"""Reading a BPF_MAP_TYPE_PERF_EVENT_ARRAY: one perf ring per CPU.

A program's ``bpf_perf_event_output(ctx, &map, BPF_F_CURRENT_CPU, data, n)``
writes a PERF_RECORD_SAMPLE (with PERF_SAMPLE_RAW) into the ring of the perf
event stored at the current CPU's slot of the map.  The reader opens one
``PERF_COUNT_SW_BPF_OUTPUT`` software event per CPU, mmaps its ring (one
metadata page + a power-of-two number of data pages), stores the fd in the map
and enables it.  When the consumer falls behind, the kernel drops samples and
writes a PERF_RECORD_LOST carrying the count, reported to ``lost_callback``.

Ring protocol (include/uapi/linux/perf_event.h): the metadata page holds
``data_head`` (kernel writes) and ``data_tail`` (we write) at fixed offsets;
records are ``struct perf_event_header {u32 type; u16 misc; u16 size}`` and may
wrap around the end of the data area.  On x86-64 (TSO) plain loads are ordered.
"""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import select
import struct
from collections.abc import Callable

from ..errors import BPFError, NotSupportedError
from ..uapi import MapType
from . import syscall
from .attr import PerfEventAttr
from .cpus import possible_cpus
from .fd import OwnedFD
from .maps import KernelMap

PERF_TYPE_SOFTWARE = 1
PERF_COUNT_SW_BPF_OUTPUT = 10
PERF_SAMPLE_RAW = 1 << 10
PERF_FLAG_FD_CLOEXEC = 1 << 3
PERF_EVENT_IOC_ENABLE = 0x2400
PERF_EVENT_IOC_DISABLE = 0x2401
PERF_RECORD_LOST = 2
PERF_RECORD_SAMPLE = 9

_DATA_HEAD = 1024  # offsetof(struct perf_event_mmap_page, data_head)
_DATA_TAIL = 1032
_HEADER = struct.Struct("<IHH")
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")

SampleCallback = Callable[[int, bytes], object]
"""(cpu, raw sample bytes) -> ignored."""
LostCallback = Callable[[int, int], object]
"""(cpu, number of lost samples) -> ignored."""


class PerfBufferError(BPFError):
    """The perf buffer could not be set up (bad page count, map of the wrong type)."""


class _CpuRing:
    """One CPU's perf event and its mmap'ed ring."""

    __slots__ = ("cpu", "data_size", "event", "ring")

    def __init__(self, cpu: int, pages: int) -> None:
        attr = PerfEventAttr(
            type=PERF_TYPE_SOFTWARE,
            config=PERF_COUNT_SW_BPF_OUTPUT,
            sample_period=1,
            sample_type=PERF_SAMPLE_RAW,
            wakeup_events=1,
        )
        attr.size = ctypes.sizeof(PerfEventAttr)
        self.cpu = cpu
        self.event = OwnedFD(syscall.perf_event_open(attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC), "perf_event")
        self.data_size = pages * mmap.PAGESIZE
        try:
            self.ring = mmap.mmap(
                self.event.fd,
                mmap.PAGESIZE + self.data_size,
                mmap.MAP_SHARED,
                mmap.PROT_READ | mmap.PROT_WRITE,
            )
        except OSError as exc:
            self.event.close()
            raise PerfBufferError(f"mmap of the perf ring for cpu {cpu} failed: {exc.strerror}") from None

    def enable(self) -> None:
        syscall.ioctl(self.event.fd, PERF_EVENT_IOC_ENABLE, 0, command="perf_event_ioc_enable")

    def read(self, on_sample: SampleCallback, on_lost: LostCallback | None) -> int:
        """Consume every complete record; returns how many samples were delivered."""
        ring = self.ring
        head = _U64.unpack_from(ring, _DATA_HEAD)[0]
        tail = _U64.unpack_from(ring, _DATA_TAIL)[0]
        size = self.data_size
        base = mmap.PAGESIZE
        count = 0
        while tail < head:
            start = tail % size
            header = self._bytes(base, start, _HEADER.size)
            rtype, _misc, rsize = _HEADER.unpack(header)
            if rsize < _HEADER.size:
                break  # corrupt; stop rather than spin
            record = self._bytes(base, start, rsize)
            if rtype == PERF_RECORD_SAMPLE:
                raw_size = _U32.unpack_from(record, _HEADER.size)[0]
                at = _HEADER.size + 4
                on_sample(self.cpu, record[at : at + raw_size])
                count += 1
            elif rtype == PERF_RECORD_LOST and on_lost is not None:
                lost = _U64.unpack_from(record, _HEADER.size + 8)[0]
                on_lost(self.cpu, lost)
            tail += rsize
            _U64.pack_into(ring, _DATA_TAIL, tail)
        return count

    def _bytes(self, base: int, start: int, n: int) -> bytes:
        end = start + n
        if end <= self.data_size:
            return self.ring[base + start : base + end]
        first = self.ring[base + start : base + self.data_size]
        return first + self.ring[base : base + end - self.data_size]

    def close(self) -> None:
        if not self.event.closed:
            with contextlib.suppress(BPFError):
                syscall.ioctl(self.event.fd, PERF_EVENT_IOC_DISABLE, 0, command="perf_event_ioc_disable")
        self.ring.close()
        self.event.close()


class PerfBufferReader:
    """Per-CPU rings behind a perf event array map.

    ``callback(cpu, data)`` gets each sample's raw bytes; ``lost_callback(cpu, n)``
    the number of samples the kernel dropped because a ring was full.  ``pages``
    (per CPU, a power of two) sizes each ring.  Close it (or use ``with``) to
    release the events; the map slots then point at closed events and the kernel
    drops further output.
    """

    def __init__(
        self,
        perf_map: KernelMap,
        callback: SampleCallback,
        lost_callback: LostCallback | None = None,
        *,
        pages: int = 8,
        cpus: list[int] | None = None,
    ) -> None:
        if perf_map.map_type != MapType.PERF_EVENT_ARRAY:
            raise NotSupportedError(f"PerfBufferReader needs a perf_event_array map, not {perf_map.map_type}")
        if pages <= 0 or pages & (pages - 1):
            raise PerfBufferError(f"pages must be a power of two, not {pages}")
        self._callback = callback
        self._lost = lost_callback
        self._rings: dict[int, _CpuRing] = {}
        self._epoll = select.epoll()
        wanted = cpus if cpus is not None else list(range(min(possible_cpus(), perf_map.max_entries)))
        try:
            for cpu in wanted:
                if not 0 <= cpu < perf_map.max_entries:
                    raise PerfBufferError(f"cpu {cpu} outside the map's {perf_map.max_entries} slots")
                ring = _CpuRing(cpu, pages)
                self._rings[ring.event.fd] = ring
                perf_map.update(_U32.pack(cpu), _U32.pack(ring.event.fd))
                ring.enable()
                self._epoll.register(ring.event.fd, select.EPOLLIN)
        except BaseException:
            self.close()
            raise

    @property
    def cpus(self) -> list[int]:
        return sorted(r.cpu for r in self._rings.values())

    def consume(self) -> int:
        """Read every ring now, without waiting; returns the number of samples delivered."""
        return sum(ring.read(self._callback, self._lost) for ring in self._rings.values())

    def poll(self, timeout_ms: int = -1) -> int:
        """Wait up to ``timeout_ms`` (-1: forever) for a ring to have data, then read those rings."""
        events = self._epoll.poll(-1 if timeout_ms < 0 else timeout_ms / 1000.0)
        count = 0
        for fd, _mask in events:
            ring = self._rings.get(fd)
            if ring is not None:
                count += ring.read(self._callback, self._lost)
        return count

    def close(self) -> None:
        self._epoll.close()
        for ring in self._rings.values():
            ring.close()
        self._rings.clear()

    def __enter__(self) -> PerfBufferReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
