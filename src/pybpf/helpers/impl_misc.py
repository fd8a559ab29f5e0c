"""Control helpers: loops and callbacks, tail calls, locks, strings, random numbers, probe info."""

from __future__ import annotations

import errno

from ..errors import HelperArgumentError, MapError, VMError
from ..runtime.state import MAX_TAIL_CALL_CNT, runtime_of
from ..uapi import MapType
from ..vm.context import CallContext, ProgramExit
from ..vm.memory import Perm
from .impl_common import A, HelperDef, R, neg, proto

BPF_MAX_LOOPS = 1 << 23


def _callback(ctx: CallContext, fn: int, *args: int) -> int:
    runner = runtime_of(ctx).callback_runner
    if runner is None:
        raise VMError("this VM cannot run BPF callbacks (no callback runner: load through pybpf.load)")
    return runner(ctx, fn, args)


def loop(ctx: CallContext, nr_loops: int, fn: int, cb_ctx: int, flags: int, r5: int) -> int:
    """Call ``fn(i, cb_ctx)`` up to nr_loops times; a non-zero return stops. Returns the iterations run."""
    if flags:
        return neg(errno.EINVAL)
    if nr_loops > BPF_MAX_LOOPS:
        return neg(errno.E2BIG)
    for i in range(nr_loops):
        if _callback(ctx, fn, i, cb_ctx, 0, 0, 0) & 0xFFFFFFFFFFFFFFFF:
            return i + 1
    return nr_loops


def for_each_map_elem(ctx: CallContext, map_handle: int, fn: int, cb_ctx: int, flags: int, r5: int) -> int:
    """Call ``fn(map, &key, &value, cb_ctx)`` per element; 1 stops. Returns the elements visited."""
    if flags:
        return neg(errno.EINVAL)
    runtime = runtime_of(ctx)
    binding = runtime.binding_of(map_handle)
    bpf_map = binding.map
    keys = list(bpf_map.iter_keys())
    scratch = ctx.memory.add("for_each_map_elem key", max(1, bpf_map.key_size), Perm.READ)
    visited = 0
    try:
        for key in keys:
            if getattr(bpf_map, "percpu", False):
                offset = bpf_map.value_offset_cpu(key, runtime.task.cpu)
            else:
                offset = bpf_map.value_offset(key)
            if offset is None:
                continue
            scratch.buffer[: len(key)] = key
            visited += 1
            if _callback(ctx, fn, map_handle, scratch.base, binding.region.base + offset, cb_ctx, 0):
                break
    finally:
        ctx.memory.remove(scratch)
    return visited


def tail_call(ctx: CallContext, prog_ctx: int, map_handle: int, index: int, r4: int, r5: int) -> int:
    """Jump to the program at ``index`` of a prog array; returns (a negative errno) only on failure."""
    runtime = runtime_of(ctx)
    bpf_map = runtime.map_of(map_handle)
    if bpf_map.map_type is not MapType.PROG_ARRAY:
        raise HelperArgumentError(
            f"bpf_tail_call needs a program array, got a {bpf_map.map_type.uapi_name} map"
        )
    index &= 0xFFFFFFFF
    if index >= bpf_map.max_entries or runtime.run.tail_calls >= MAX_TAIL_CALL_CNT:
        return neg(errno.ENOENT)
    try:
        value = bpf_map.lookup(index.to_bytes(4, "little"))
    except MapError:
        return neg(errno.ENOENT)
    prog_id = int.from_bytes(value[:4], "little")
    if prog_id == 0 or runtime.tail_call_runner is None:
        return neg(errno.ENOENT)
    runtime.run.tail_calls += 1
    r0 = runtime.tail_call_runner(prog_id, prog_ctx)
    raise ProgramExit(r0, "tail call")


def spin_lock(ctx: CallContext, lock: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """Take the lock word; the VM runs one program at a time, so a held lock is a deadlock."""
    if ctx.memory.load(lock, 4):
        raise VMError("bpf_spin_lock on a lock this program already holds (deadlock)", address=lock)
    ctx.memory.store(lock, 4, 1)
    return 0


def spin_unlock(ctx: CallContext, lock: int, r2: int, r3: int, r4: int, r5: int) -> int:
    ctx.memory.store(lock, 4, 0)
    return 0


def get_func_ip(ctx: CallContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """Address of the traced function (the run's ``func_ip``)."""
    return runtime_of(ctx).run.func_ip


def get_attach_cookie(ctx: CallContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """The cookie given when the program was attached (the run's ``attach_cookie``)."""
    return runtime_of(ctx).run.attach_cookie


def strncmp(ctx: CallContext, s1: int, s1_size: int, s2: int, r4: int, r5: int) -> int:
    """Compare at most ``s1_size`` bytes of two strings: -1, 0 or 1, as the kernel's strncmp."""
    a = ctx.memory.read(s1, s1_size)
    b = ctx.memory.read_cstring(s2, 1 << 16) + b"\0"
    for i in range(s1_size):
        c1 = a[i]
        c2 = b[i] if i < len(b) else 0
        if c1 != c2:
            return -1 if c1 < c2 else 1
        if c1 == 0:
            break
    return 0


def get_prandom_u32(ctx: CallContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """A pseudo-random u32 from the runtime's generator (seedable for reproducible runs)."""
    return runtime_of(ctx).random.getrandbits(32)


HELPERS = (
    HelperDef("loop", proto(A.ANYTHING, A.PTR_TO_FUNC, A.PTR_TO_STACK, A.ANYTHING), loop),
    HelperDef(
        "for_each_map_elem",
        proto(A.CONST_MAP_PTR, A.PTR_TO_FUNC, A.PTR_TO_STACK, A.ANYTHING),
        for_each_map_elem,
    ),
    HelperDef("tail_call", proto(A.PTR_TO_CTX, A.CONST_MAP_PTR, A.ANYTHING), tail_call),
    HelperDef("spin_lock", proto(A.PTR_TO_SPIN_LOCK, ret=R.VOID), spin_lock),
    HelperDef("spin_unlock", proto(A.PTR_TO_SPIN_LOCK, ret=R.VOID), spin_unlock),
    HelperDef("get_func_ip", proto(A.PTR_TO_CTX), get_func_ip),
    HelperDef("get_attach_cookie", proto(A.PTR_TO_CTX), get_attach_cookie),
    HelperDef("strncmp", proto(A.PTR_TO_MEM, A.CONST_SIZE, A.PTR_TO_CONST_STR), strncmp),
    HelperDef("get_prandom_u32", proto(), get_prandom_u32),
)
