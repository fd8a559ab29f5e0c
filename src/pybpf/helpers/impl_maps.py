"""Map helpers: lookup hands out a pointer into the map's native storage region.

The map argument is a handle the loader put in the program (the base address of
the map's storage region, see :meth:`pybpf.runtime.state.Runtime.bind_map`).
A lookup returns ``region base + value offset``, so the program reads and writes
the very bytes the Python API and other processes see.  Failures return the
kernel's negative errno.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable
from typing import Any

from ..errors import MapError
from ..runtime.state import RUNTIME_KEY, Runtime, runtime_of
from ..uapi import MapType
from ..vm.context import CallContext
from ..vm.memory import OFFSET_MASK, SLOT_BITS
from .impl_common import A, HelperDef, R, map_errno, neg, proto

_U32 = struct.Struct("<I")


def _key(ctx: CallContext, bpf_map: Any, key_ptr: int) -> bytes:
    return ctx.memory.read(key_ptr, bpf_map.key_size)


LookupPlan = Callable[[CallContext, int], int]


def _array_plan(bpf_map: Any, base: int) -> LookupPlan | None:
    """A direct index computation for a plain ARRAY: the hot path of packet counters.

    The value of index ``i`` lives at ``base + first + i * stride``; both come from the
    map's public ``value_offset``, so the plan follows the map's own layout.
    """
    if bpf_map.map_type is not MapType.ARRAY or getattr(bpf_map, "percpu", False) or bpf_map.key_size != 4:
        return None
    first = bpf_map.value_offset(bytes(4))
    if first is None:
        return None
    n = bpf_map.max_entries
    stride = (bpf_map.value_offset((1).to_bytes(4, "little")) - first) if n > 1 else 0
    start = base + first

    def lookup(ctx: CallContext, key_ptr: int) -> int:
        memory = ctx.memory
        buf = memory.readable.get(key_ptr >> SLOT_BITS)
        off = key_ptr & OFFSET_MASK
        if buf is None or off + 4 > len(buf):
            raise memory.fault(key_ptr, 4, "read")
        i = _U32.unpack_from(buf, off)[0]
        return 0 if i >= n else start + i * stride

    return lookup


def _generic_plan(runtime: Runtime, bpf_map: Any, base: int) -> LookupPlan:
    key_size = bpf_map.key_size
    inner_map = getattr(bpf_map, "inner_map", None)
    percpu = bool(getattr(bpf_map, "percpu", False))
    value_offset = bpf_map.value_offset
    value_offset_cpu = getattr(bpf_map, "value_offset_cpu", value_offset)

    def lookup(ctx: CallContext, key_ptr: int) -> int:
        key = ctx.memory.read(key_ptr, key_size)
        if inner_map is not None:  # map-in-map: the program gets the inner map itself
            inner = inner_map(key)
            return 0 if inner is None else runtime.handle_of(inner)
        try:
            offset = value_offset_cpu(key, runtime.task.cpu) if percpu else value_offset(key)
        except MapError:
            return 0
        return 0 if offset is None else base + offset

    return lookup


def _plan(runtime: Runtime, map_handle: int) -> LookupPlan:
    plans: dict[int, LookupPlan] = runtime.lookup_plans
    plan = plans.get(map_handle)
    if plan is None:
        binding = runtime.binding_of(map_handle)
        base = binding.region.base
        plan = _array_plan(binding.map, base) or _generic_plan(runtime, binding.map, base)
        plans[map_handle] = plan
    return plan


def map_lookup_elem(ctx: CallContext, map_handle: int, key_ptr: int, r3: int, r4: int, r5: int) -> int:
    """Pointer to the value, or NULL (0) when the key is absent.

    Each map gets a lookup plan once (per runtime and handle): arrays compute the
    address directly, other maps go through ``value_offset``; this is the helper
    every packet counter calls, so it avoids per-call attribute and type lookups.
    """
    runtime = ctx.state.get(RUNTIME_KEY)
    if runtime is None:
        runtime = runtime_of(ctx)
    plan = runtime.lookup_plans.get(map_handle)
    if plan is None:
        plan = _plan(runtime, map_handle)
    return plan(ctx, key_ptr)


def map_lookup_percpu_elem(
    ctx: CallContext, map_handle: int, key_ptr: int, cpu: int, r4: int, r5: int
) -> int:
    """Pointer to ``cpu``'s copy of the value of a per-CPU map, or NULL."""
    binding = runtime_of(ctx).binding_of(map_handle)
    bpf_map = binding.map
    if not getattr(bpf_map, "percpu", False):
        return 0
    key = _key(ctx, bpf_map, key_ptr)
    try:
        offset = bpf_map.value_offset_cpu(key, cpu & 0xFFFFFFFF)
    except MapError:
        return 0
    return 0 if offset is None else binding.region.base + offset


def map_update_elem(
    ctx: CallContext, map_handle: int, key_ptr: int, value_ptr: int, flags: int, r5: int
) -> int:
    runtime = runtime_of(ctx)
    bpf_map = runtime.map_of(map_handle)
    key = _key(ctx, bpf_map, key_ptr)
    value = ctx.memory.read(value_ptr, bpf_map.value_size)
    try:
        bpf_map.prog_update(key, value, flags, runtime.task.cpu)
    except MapError as exc:
        return map_errno(exc)
    return 0


def map_delete_elem(ctx: CallContext, map_handle: int, key_ptr: int, r3: int, r4: int, r5: int) -> int:
    bpf_map = runtime_of(ctx).map_of(map_handle)
    key = _key(ctx, bpf_map, key_ptr)
    try:
        bpf_map.prog_delete(key)
    except MapError as exc:
        return map_errno(exc)
    return 0


def map_push_elem(ctx: CallContext, map_handle: int, value_ptr: int, flags: int, r4: int, r5: int) -> int:
    """Queue, stack and bloom filter: add a value (BPF_EXIST on a full queue overwrites the oldest)."""
    bpf_map = runtime_of(ctx).map_of(map_handle)
    push = getattr(bpf_map, "push", None)
    if push is None:
        return neg(errno.EINVAL)
    try:
        push(ctx.memory.read(value_ptr, bpf_map.value_size), flags)
    except MapError as exc:
        return map_errno(exc)
    return 0


def _take(ctx: CallContext, map_handle: int, value_ptr: int, method: str) -> int:
    bpf_map = runtime_of(ctx).map_of(map_handle)
    fn = getattr(bpf_map, method, None)
    if fn is None:
        return neg(errno.EINVAL)
    try:
        if method == "peek" and bpf_map.map_type.name == "BLOOM_FILTER":
            fn(ctx.memory.read(value_ptr, bpf_map.value_size))
            return 0
        value = fn()
    except MapError as exc:
        return map_errno(exc)
    ctx.memory.write(value_ptr, value)
    return 0


def map_pop_elem(ctx: CallContext, map_handle: int, value_ptr: int, r3: int, r4: int, r5: int) -> int:
    return _take(ctx, map_handle, value_ptr, "pop")


def map_peek_elem(ctx: CallContext, map_handle: int, value_ptr: int, r3: int, r4: int, r5: int) -> int:
    return _take(ctx, map_handle, value_ptr, "peek")


HELPERS = (
    HelperDef(
        "map_lookup_elem",
        proto(A.CONST_MAP_PTR, A.PTR_TO_MAP_KEY, ret=R.PTR_TO_MAP_VALUE_OR_NULL),
        map_lookup_elem,
    ),
    HelperDef(
        "map_update_elem",
        proto(A.CONST_MAP_PTR, A.PTR_TO_MAP_KEY, A.PTR_TO_MAP_VALUE, A.ANYTHING),
        map_update_elem,
    ),
    HelperDef("map_delete_elem", proto(A.CONST_MAP_PTR, A.PTR_TO_MAP_KEY), map_delete_elem),
    HelperDef("map_push_elem", proto(A.CONST_MAP_PTR, A.PTR_TO_MAP_VALUE, A.ANYTHING), map_push_elem),
    HelperDef("map_pop_elem", proto(A.CONST_MAP_PTR, A.PTR_TO_UNINIT_MEM), map_pop_elem),
    HelperDef("map_peek_elem", proto(A.CONST_MAP_PTR, A.PTR_TO_UNINIT_MEM), map_peek_elem),
    HelperDef(
        "map_lookup_percpu_elem",
        proto(A.CONST_MAP_PTR, A.PTR_TO_MAP_KEY, A.ANYTHING, ret=R.PTR_TO_MAP_VALUE_OR_NULL),
        map_lookup_percpu_elem,
    ),
)
