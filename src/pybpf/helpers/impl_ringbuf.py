"""Ring buffer and perf event output helpers.

``bpf_ringbuf_reserve`` returns a pointer into the ring buffer map's own storage
region, so the program writes the record in place and user space (a Python
callback, or another process that opened the pinned map) reads the same bytes
after ``bpf_ringbuf_submit``.
"""

from __future__ import annotations

import errno
from typing import Any

from ..errors import MapError, VMError
from ..runtime.state import MapBinding, runtime_of
from ..vm.context import CallContext
from .impl_common import U32, A, HelperDef, R, map_errno, neg, proto

BPF_F_INDEX_MASK = U32
BPF_F_CURRENT_CPU = U32
BPF_F_CTXLEN_MASK = 0xFFFFF << 32


def _ringbuf(ctx: CallContext, handle: int) -> Any:
    bpf_map = runtime_of(ctx).map_of(handle)
    if not hasattr(bpf_map, "reserve"):
        raise MapError("map is not a ring buffer", map_name=getattr(bpf_map, "name", None))
    return bpf_map


def ringbuf_output(ctx: CallContext, handle: int, data: int, size: int, flags: int, r5: int) -> int:
    bpf_map = _ringbuf(ctx, handle)
    return int(bpf_map.output(ctx.memory.read(data, size), flags))


def ringbuf_reserve(ctx: CallContext, handle: int, size: int, flags: int, r4: int, r5: int) -> int:
    binding = runtime_of(ctx).binding_of(handle)
    if not hasattr(binding.map, "reserve"):
        return 0
    offset = binding.map.reserve(size, flags)
    return 0 if offset is None else binding.region.base + offset


def _sample_owner(ctx: CallContext, sample: int) -> MapBinding:
    binding = runtime_of(ctx).binding_at(sample)
    if binding is None or not hasattr(binding.map, "submit"):
        raise VMError("bpf_ringbuf_submit/discard of a pointer that is not a reserved sample", address=sample)
    return binding


def ringbuf_submit(ctx: CallContext, sample: int, flags: int, r3: int, r4: int, r5: int) -> int:
    binding = _sample_owner(ctx, sample)
    binding.map.submit(sample - binding.region.base, flags)
    return 0


def ringbuf_discard(ctx: CallContext, sample: int, flags: int, r3: int, r4: int, r5: int) -> int:
    binding = _sample_owner(ctx, sample)
    binding.map.discard(sample - binding.region.base, flags)
    return 0


def ringbuf_query(ctx: CallContext, handle: int, flags: int, r3: int, r4: int, r5: int) -> int:
    return int(_ringbuf(ctx, handle).query(flags))


def perf_event_output(ctx: CallContext, prog_ctx: int, handle: int, flags: int, data: int, size: int) -> int:
    """Send ``size`` bytes to the perf buffer of the CPU in ``flags`` (BPF_F_CURRENT_CPU: the task's)."""
    runtime = runtime_of(ctx)
    bpf_map = runtime.map_of(handle)
    if flags & ~(BPF_F_INDEX_MASK | BPF_F_CTXLEN_MASK):
        return neg(errno.EINVAL)
    index = flags & BPF_F_INDEX_MASK
    cpu = runtime.task.cpu if index == BPF_F_CURRENT_CPU else index
    payload = ctx.memory.read(data, size)
    ctx_len = (flags & BPF_F_CTXLEN_MASK) >> 32
    if ctx_len:
        packet = runtime.run.packet
        if packet is None:
            return neg(errno.EINVAL)
        payload += bytes(packet.buf[packet.data : packet.data + ctx_len])
    output = getattr(bpf_map, "output", None)
    if output is None or hasattr(bpf_map, "reserve"):
        return neg(errno.EINVAL)
    try:
        result = output(cpu, payload)
    except MapError as exc:
        return map_errno(exc)
    return int(result or 0)


HELPERS = (
    HelperDef(
        "ringbuf_output",
        proto(A.CONST_MAP_PTR, A.PTR_TO_MEM, A.CONST_SIZE_OR_ZERO, A.ANYTHING),
        ringbuf_output,
    ),
    HelperDef(
        "ringbuf_reserve",
        proto(A.CONST_MAP_PTR, A.CONST_SIZE, A.ANYTHING, ret=R.PTR_TO_MEM_OR_NULL),
        ringbuf_reserve,
    ),
    HelperDef("ringbuf_submit", proto(A.PTR_TO_ALLOC_MEM, A.ANYTHING, ret=R.VOID), ringbuf_submit),
    HelperDef("ringbuf_discard", proto(A.PTR_TO_ALLOC_MEM, A.ANYTHING, ret=R.VOID), ringbuf_discard),
    HelperDef("ringbuf_query", proto(A.CONST_MAP_PTR, A.ANYTHING), ringbuf_query),
    HelperDef(
        "perf_event_output",
        proto(A.PTR_TO_CTX, A.CONST_MAP_PTR, A.ANYTHING, A.PTR_TO_MEM, A.CONST_SIZE_OR_ZERO),
        perf_event_output,
    ),
)
