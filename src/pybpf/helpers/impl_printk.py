"""bpf_trace_printk, bpf_trace_vprintk and bpf_snprintf over the runtime's trace log.

Formatting follows the kernel's rules (see :mod:`pybpf.helpers.bprintf`); a bad
format makes the helper return -EINVAL and print nothing, as in the kernel.
"""

from __future__ import annotations

import errno

from ..errors import MemoryAccessError
from ..runtime.state import runtime_of
from ..vm.context import CallContext
from .bprintf import MAX_BPRINTF_VARARGS, MAX_TRACE_PRINTK_ARGS, BprintfError, bprintf
from .impl_common import A, HelperDef, neg, proto, read_or_none, read_str_or_none

BPF_TRACE_PRINTK_SIZE = 1024


def _format(ctx: CallContext, fmt_ptr: int, fmt_size: int, args: list[int], max_args: int) -> str:
    if fmt_size == 0:
        raise BprintfError("empty format")
    fmt = ctx.memory.read(fmt_ptr, fmt_size)
    return bprintf(
        fmt,
        args,
        read_bytes=lambda a, n: read_or_none(ctx, a, n),
        read_string=lambda a, n: read_str_or_none(ctx, a, n),
        max_args=max_args,
    )


def _emit(ctx: CallContext, text: str) -> int:
    runtime = runtime_of(ctx)
    text = text[: BPF_TRACE_PRINTK_SIZE - 1]
    runtime.trace_log.write(runtime.task, runtime.clock.monotonic_ns(), text)
    return len(text.encode("latin-1"))


def trace_printk(ctx: CallContext, fmt: int, fmt_size: int, a1: int, a2: int, a3: int) -> int:
    """Format up to three arguments into the trace log; returns the message length or -EINVAL."""
    try:
        text = _format(ctx, fmt, fmt_size, [a1, a2, a3], MAX_TRACE_PRINTK_ARGS)
    except BprintfError as exc:
        return neg(exc.errno)
    return _emit(ctx, text)


def _varargs(ctx: CallContext, data: int, data_len: int) -> list[int] | None:
    if data_len & 7 or data_len > 8 * MAX_BPRINTF_VARARGS or (data_len and not data):
        return None
    raw = ctx.memory.read(data, data_len) if data_len else b""
    return [int.from_bytes(raw[i : i + 8], "little") for i in range(0, data_len, 8)]


def trace_vprintk(ctx: CallContext, fmt: int, fmt_size: int, data: int, data_len: int, r5: int) -> int:
    """trace_printk with up to 12 arguments passed as an array of u64."""
    args = _varargs(ctx, data, data_len)
    if args is None:
        return neg(errno.EINVAL)
    try:
        text = _format(ctx, fmt, fmt_size, args, MAX_BPRINTF_VARARGS)
    except BprintfError as exc:
        return neg(exc.errno)
    return _emit(ctx, text)


def snprintf(ctx: CallContext, out: int, out_size: int, fmt: int, data: int, data_len: int) -> int:
    """Format into ``out``; returns the bytes the full string needs including the NUL."""
    args = _varargs(ctx, data, data_len)
    if args is None:
        return neg(errno.EINVAL)
    try:
        fmt_bytes = ctx.memory.read_cstring(fmt, 1 << 16) + b"\0"
    except MemoryAccessError:
        return neg(errno.EINVAL)
    try:
        text = bprintf(
            fmt_bytes,
            args,
            read_bytes=lambda a, n: read_or_none(ctx, a, n),
            read_string=lambda a, n: read_str_or_none(ctx, a, n),
            max_args=MAX_BPRINTF_VARARGS,
        )
    except BprintfError as exc:
        return neg(exc.errno)
    encoded = text.encode("latin-1")
    if out_size:
        chunk = encoded[: out_size - 1] + b"\0"
        ctx.memory.write(out, chunk)
    return len(encoded) + 1


HELPERS = (
    HelperDef(
        "trace_printk", proto(A.PTR_TO_MEM, A.CONST_SIZE, A.ANYTHING, A.ANYTHING, A.ANYTHING), trace_printk
    ),
    HelperDef(
        "trace_vprintk",
        proto(A.PTR_TO_MEM, A.CONST_SIZE, A.PTR_TO_MEM_OR_NULL, A.CONST_SIZE_OR_ZERO),
        trace_vprintk,
    ),
    HelperDef(
        "snprintf",
        proto(
            A.PTR_TO_UNINIT_MEM,
            A.CONST_SIZE_OR_ZERO,
            A.PTR_TO_CONST_STR,
            A.PTR_TO_MEM_OR_NULL,
            A.CONST_SIZE_OR_ZERO,
        ),
        snprintf,
    ),
)
