"""Getting data out of programs: ring buffer and perf buffer readers for any backend.

``pybpf.RingBuffer(obj.maps["events"], callback).poll(timeout_ms)`` works the same
whether the map lives in the userspace VM (a :class:`pybpf.maps.RingBufMap` whose
native buffer the reader walks directly) or in the kernel (a
:class:`pybpf.kernel.maps.KernelMap`, read through its mmap'ed pages by
:class:`pybpf.kernel.ringbuf.RingBufferReader`).  The reader picks the
implementation from the map it is given, so programs and tests never branch on
the backend.

Callbacks follow libbpf's: a ring buffer callback gets the record's bytes and may
return a negative number to stop consuming; a perf buffer callback gets
``(cpu, data)`` and the lost callback ``(cpu, count)``.
"""

from __future__ import annotations

import importlib
import inspect
import time
from collections.abc import Callable
from typing import Any

from .errors import MapError, NotSupportedError
from .uapi import MapType

RingCallback = Callable[[bytes], "int | None"]
SampleCallback = Callable[[int, bytes], object]
LostCallback = Callable[[int, int], object]

_POLL_STEP_S = 0.0005  # VM maps have no fd to wait on: re-check the producer this often


def unwrap_map(bpf_map: Any) -> Any:
    """The raw map behind a typed view (``.raw``), or the object itself."""
    seen = 0
    while not _is_raw_map(bpf_map) and hasattr(bpf_map, "raw") and seen < 4:
        bpf_map = bpf_map.raw
        seen += 1
    return bpf_map


def _is_raw_map(bpf_map: Any) -> bool:
    from .maps.base import Map

    return isinstance(bpf_map, Map) or _is_kernel_map(bpf_map)


def _is_kernel_map(bpf_map: Any) -> bool:
    try:
        from .kernel.maps import KernelMap
    except ImportError:  # pragma: no cover - the kernel package is part of pybpf
        return False
    return isinstance(bpf_map, KernelMap)


def _map_type(bpf_map: Any) -> MapType | None:
    try:
        return MapType(int(bpf_map.map_type))
    except (AttributeError, TypeError, ValueError):
        return None


class _VmRing:
    """A VM ring buffer: consumption walks the map's native buffer in place."""

    def __init__(self, ring: Any, callback: RingCallback) -> None:
        self.ring = ring
        self.callback = callback

    def consume(self) -> int:
        return int(self.ring.consume(self.callback))

    def pending(self) -> bool:
        return bool(self.ring.producer_pos != self.ring.consumer_pos)

    def close(self) -> None:
        """Nothing to release: the map owns its buffer."""


class _KernelRing:
    """A kernel ring buffer read through :class:`pybpf.kernel.ringbuf.RingBufferReader`."""

    def __init__(self, ring: Any, callback: RingCallback) -> None:
        from .kernel.ringbuf import RingBufferReader

        self.reader = RingBufferReader(ring)
        self.callback = callback

    def consume(self) -> int:
        # Records are fresh bytes already (an mmap slice copies): straight to the callback.
        return int(self.reader.consume_into(self.callback))

    def wait(self, timeout_s: float) -> None:
        self.reader._epoll.poll(timeout_s)

    def close(self) -> None:
        self.reader.close()


class RingBuffer:
    """libbpf's ring_buffer: one or more BPF_MAP_TYPE_RINGBUF maps and a callback each.

    ``consume()`` hands every available record to its callback and returns how many
    were handed over; ``poll(timeout_ms)`` waits up to ``timeout_ms`` (-1: forever,
    0: don't wait) for a record first.
    """

    def __init__(self, bpf_map: Any, callback: RingCallback) -> None:
        self._rings: list[_VmRing | _KernelRing] = []
        self.add(bpf_map, callback)

    def add(self, bpf_map: Any, callback: RingCallback) -> None:
        """Read another ring buffer map too (ring_buffer__add)."""
        if not callable(callback):
            raise MapError("RingBuffer callback must be callable")
        raw = unwrap_map(bpf_map)
        if _map_type(raw) is not MapType.RINGBUF:
            raise MapError(f"RingBuffer needs a ringbuf map, got {raw!r}")
        if _is_kernel_map(raw):
            self._rings.append(_KernelRing(raw, callback))
        elif hasattr(raw, "consume") and hasattr(raw, "producer_pos"):
            self._rings.append(_VmRing(raw, callback))
        else:
            raise NotSupportedError(f"no ring buffer reader for {type(raw).__name__}")

    def consume(self) -> int:
        """Deliver every available record of every ring; returns the number delivered."""
        total = 0
        for ring in self._rings:
            n = ring.consume()
            if n < 0:
                return n
            total += n
        return total

    def poll(self, timeout_ms: int = -1) -> int:
        """Wait up to ``timeout_ms`` for data, then consume; returns the records delivered."""
        got = self.consume()
        if got or timeout_ms == 0:
            return got
        deadline = None if timeout_ms < 0 else time.monotonic() + timeout_ms / 1000
        kernel = [r for r in self._rings if isinstance(r, _KernelRing)]
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return self.consume()
            if kernel and len(kernel) == len(self._rings):
                kernel[0].wait(-1 if remaining is None else remaining)
            else:
                step = _POLL_STEP_S if remaining is None else min(_POLL_STEP_S, remaining)
                time.sleep(step)
            got = self.consume()
            if got:
                return got

    def close(self) -> None:
        for ring in self._rings:
            ring.close()
        self._rings.clear()

    def __enter__(self) -> RingBuffer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _kernel_perf_reader() -> Any:
    """``pybpf.kernel.perf.PerfBufferReader`` when the kernel package has it."""
    try:
        module = importlib.import_module("pybpf.kernel.perf")
    except ImportError:
        return None
    return getattr(module, "PerfBufferReader", None)


def _call_with_known(factory: Any, *args: Any, **candidates: Any) -> Any:
    """Call ``factory`` passing only the keyword arguments its signature accepts."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return factory(*args)
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    kwargs = {k: v for k, v in candidates.items() if takes_any or k in params}
    return factory(*args, **kwargs)


class PerfBuffer:
    """libbpf's perf_buffer over a BPF_MAP_TYPE_PERF_EVENT_ARRAY: one ring per CPU.

    ``callback(cpu, data)`` per sample, ``lost_callback(cpu, count)`` when the
    producer dropped samples because a ring was full.
    """

    def __init__(
        self,
        bpf_map: Any,
        callback: SampleCallback,
        lost_callback: LostCallback | None = None,
        *,
        page_cnt: int = 8,
    ) -> None:
        if not callable(callback):
            raise MapError("PerfBuffer callback must be callable")
        raw = unwrap_map(bpf_map)
        if _map_type(raw) is not MapType.PERF_EVENT_ARRAY:
            raise MapError(f"PerfBuffer needs a perf_event_array map, got {raw!r}")
        self.callback = callback
        self.lost_callback = lost_callback
        self._kernel = _is_kernel_map(raw)
        self._reader: Any
        if self._kernel:
            reader_cls = _kernel_perf_reader()
            if reader_cls is None:
                raise NotSupportedError(
                    "reading kernel perf buffers needs pybpf.kernel.perf.PerfBufferReader"
                )
            self._reader = _call_with_known(
                reader_cls,
                raw,
                page_cnt=page_cnt,
                on_sample=self._sample,
                on_lost=self._lost,
                sample_callback=self._sample,
                lost_callback=self._lost,
                callback=self._sample,
            )
        else:
            from .maps.perf import PerfBuffer as VmPerfBuffer

            self._reader = VmPerfBuffer(raw, page_cnt, self._sample, self._lost)
        self.map = raw

    def _sample(self, cpu: int, data: bytes) -> None:
        self.callback(cpu, bytes(data))

    def _lost(self, cpu: int, count: int) -> None:
        if self.lost_callback is not None:
            self.lost_callback(cpu, count)

    def consume(self) -> int:
        """Deliver everything pending on every CPU; returns the number of samples."""
        if self._kernel:
            fn = getattr(self._reader, "consume", None)
            return int(fn() if fn is not None else self._reader.poll(0))
        return int(self._reader.poll())

    def poll(self, timeout_ms: int = -1) -> int:
        """Wait up to ``timeout_ms`` for a sample (-1: forever), then deliver; returns samples."""
        if self._kernel:
            return int(self._reader.poll(timeout_ms))
        got = self.consume()
        if got or timeout_ms == 0:
            return got
        deadline = None if timeout_ms < 0 else time.monotonic() + timeout_ms / 1000
        while deadline is None or time.monotonic() < deadline:
            time.sleep(_POLL_STEP_S)
            got = self.consume()
            if got:
                return got
        return 0

    def close(self) -> None:
        close = getattr(self._reader, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> PerfBuffer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
