"""BPF_PROG_TEST_RUN in the VM, with the kernel's semantics per program type.

The rules follow ``net/bpf/test_run.c``:

* XDP: the frame sits after 256 bytes of headroom in a 4096-byte page, so
  ``xdp_adjust_head`` can grow it; ``ctx_in`` (xdp_md) may only say where the
  data starts after the metadata (``data``), must give ``data_end <= len(data_in)``
  (a smaller one means fragments, which the VM refuses as not supported)
  and ``data_meta == 0``, ``egress_ifindex == 0``; ``data_out`` is the frame from
  ``data_meta`` as the program left it; ``ctx_out`` has data/data_end relative to
  data_meta.  The same frame is reused across ``repeat`` runs, as in the kernel.
* SCHED_CLS / SCHED_ACT / SOCKET_FILTER / CGROUP_SKB: an skb built with
  ``eth_type_trans`` (protocol, pkt_type); tc types see the Ethernet header,
  the others start at the network header and get 14 zero bytes in front of
  ``data_out``.  ``ctx_in`` (__sk_buff) may only set mark, priority,
  ingress_ifindex, ifindex, cb, tstamp, wire_len, gso_segs, gso_size, hwtstamp.
* RAW_TRACEPOINT (``bpf_prog_test_run_raw_tp``): a context only (the u64
  arguments), at least as long as the furthest byte the program reads and at
  most 12 arguments; no data_in, no ctx_out, no repeat (the kernel wants 0: 0
  and 1 both run once here), no duration; a cpu only with BPF_F_TEST_RUN_ON_CPU.
* TRACEPOINT, KPROBE and PERF_EVENT: the kernel has no test_run for them and
  answers ENOTSUPP (524); so does the VM.  TRACING's test_run calls the kernel's
  ``bpf_fentry_test*`` functions, which the VM does not have.  To run any tracing
  program on a context of your choosing (a tracepoint record, pt_regs, perf
  sample, argument array), the VM fires the event: :func:`trigger`.

Invalid requests raise :class:`TestRunError` (a KernelError with the errno the
kernel would return), so callers handle both backends alike.
"""

from __future__ import annotations

import errno
import os
import socket
import time
from collections.abc import Sequence

from ..backends.testrun import TestRun
from ..errors import KernelError, NotSupportedError, VerifierError
from ..maps.flags import ENOTSUPP
from ..progtypes.skb import ETH_HLEN, SK_BUFF_SIZE
from ..progtypes.tracing import MAX_BPF_FUNC_ARGS, PERF_EVENT_DATA, PT_REGS_SIZE
from ..progtypes.xdp import XDP_METADATA_MAX, XDP_PACKET_HEADROOM
from ..uapi import AttachType, ProgType
from .contexts import (
    SKB_SHARED_INFO_SIZE,
    XDP_FRAME_BYTES,
    XDP_FRAME_SIZE,
    XdpContext,
    make_plain_ctx,
    make_skb_context,
    make_xdp_context,
)
from .program import VmProgram
from .state import RunState

BPF_F_TEST_RUN_ON_CPU = 1 << 0
BPF_F_TEST_XDP_LIVE_FRAMES = 1 << 1
BPF_F_TEST_SKB_CHECKSUM_COMPLETE = 1 << 2
PAGE_SIZE = 4096
XDP_MAX_DATA = XDP_FRAME_BYTES - XDP_PACKET_HEADROOM - SKB_SHARED_INFO_SIZE
SKB_MAX_DATA = PAGE_SIZE - 64 - SKB_SHARED_INFO_SIZE
GSO_LEGACY_MAX_SIZE = 65536
GSO_MAX_SEGS = 65535
_XDP_CACHE = "testrun.xdp"
#: Metadata a test run may bring: 4-byte multiples, leaving struct xdp_frame room in the headroom.
_XDP_TEST_META_MAX = min(XDP_METADATA_MAX, XDP_PACKET_HEADROOM - XDP_FRAME_SIZE)

SKB_TYPES = (ProgType.SCHED_CLS, ProgType.SCHED_ACT, ProgType.SOCKET_FILTER, ProgType.CGROUP_SKB)
L2_TYPES = (ProgType.SCHED_CLS, ProgType.SCHED_ACT)
TRACING_TYPES = (
    ProgType.TRACEPOINT,
    ProgType.RAW_TRACEPOINT,
    ProgType.TRACING,
    ProgType.KPROBE,
    ProgType.PERF_EVENT,
)
#: Types whose BPF_PROG_TEST_RUN the kernel does not implement (it returns ENOTSUPP).
NO_TEST_RUN_TYPES = (ProgType.TRACEPOINT, ProgType.KPROBE, ProgType.PERF_EVENT)

#: __sk_buff members a test_run ctx_in may set (convert___skb_to_skb); everything else must be zero.
SKB_CTX_IN_FIELDS = (
    "mark", "priority", "ingress_ifindex", "ifindex", "cb", "tstamp",
    "wire_len", "gso_segs", "gso_size", "hwtstamp",
)  # fmt: skip
#: Members the kernel copies back into ctx_out (convert_skb_to___skb).
SKB_CTX_OUT_FIELDS = (
    "mark", "priority", "ingress_ifindex", "ifindex", "tstamp", "cb", "wire_len", "gso_segs", "hwtstamp",
)  # fmt: skip


class TestRunError(KernelError):
    """A test run the kernel would refuse, with its errno (command BPF_PROG_TEST_RUN)."""

    __test__ = False

    def __init__(self, err: int, detail: str) -> None:
        super().__init__("BPF_PROG_TEST_RUN", err, detail=detail)


def _check_tail_zero(ctx_in: bytes, size: int) -> bytes:
    """bpf_ctx_init: bytes past the struct must be zero (E2BIG); a short ctx is zero-extended."""
    if len(ctx_in) > size and any(ctx_in[size:]):
        raise TestRunError(errno.E2BIG, f"ctx_in has non-zero bytes past the {size}-byte struct")
    return ctx_in[:size].ljust(size, b"\0")


def _interface_exists(ifindex: int) -> str | None:
    try:
        return socket.if_indextoname(ifindex)
    except OSError:
        return None


def _rx_queues(ifname: str) -> int:
    try:
        return sum(1 for n in os.listdir(f"/sys/class/net/{ifname}/queues") if n.startswith("rx-")) or 1
    except OSError:
        return 1


def _finish_data(data: bytes, data_size_out: int | None) -> bytes:
    if data_size_out is not None and data_size_out < len(data):
        raise TestRunError(
            errno.ENOSPC, f"data_out needs {len(data)} bytes, data_size_out is {data_size_out}"
        )
    return data


def _timed(program: VmProgram, run: RunState, repeat: int) -> tuple[int, int]:
    count = max(repeat, 1)
    r0 = 0
    start = time.perf_counter_ns()
    for _ in range(count):
        run.tail_calls = 0
        r0 = program.execute(run)
    elapsed = time.perf_counter_ns() - start
    return r0 & 0xFFFFFFFF, elapsed // count


def test_run(
    program: VmProgram,
    *,
    data_in: bytes = b"",
    ctx_in: bytes | None = None,
    repeat: int = 1,
    flags: int = 0,
    data_size_out: int | None = None,
    cpu: int = 0,
) -> TestRun:
    """Run ``program`` the way BPF_PROG_TEST_RUN would; see the module docstring."""
    if not isinstance(repeat, int) or repeat < 0:
        raise TestRunError(errno.EINVAL, f"repeat must be a non-negative integer, got {repeat!r}")
    data_in = bytes(data_in)
    ctx = None if ctx_in is None else bytes(ctx_in)
    prog_type = program.spec.prog_type
    if prog_type is ProgType.XDP:
        return _xdp(program, data_in, ctx, repeat, flags, data_size_out)
    if prog_type in SKB_TYPES:
        return _skb(program, data_in, ctx, repeat, flags, data_size_out)
    if prog_type is ProgType.RAW_TRACEPOINT:
        return _raw_tp(program, data_in, ctx, repeat, flags, data_size_out, cpu)
    if prog_type in NO_TEST_RUN_TYPES:
        raise TestRunError(
            ENOTSUPP,
            f"the kernel has no test_run for {prog_type.uapi_name} programs; "
            "in the VM, run it on a context with Program.trigger(ctx_in)",
        )
    if prog_type is ProgType.TRACING:
        if ctx is not None or data_in:
            raise TestRunError(errno.EINVAL, "TRACING test runs take no data_in or ctx_in")
        raise NotSupportedError(
            "a TRACING test_run calls the kernel's bpf_fentry_test functions, which the VM does not have; "
            "run it on an argument array with Program.trigger(ctx_in)"
        )
    raise NotSupportedError(f"test_run of {prog_type.uapi_name} programs is not supported by the VM")


# -- XDP -------------------------------------------------------------------------


def _xdp(
    program: VmProgram, data: bytes, ctx_in: bytes | None, repeat: int, flags: int, data_size_out: int | None
) -> TestRun:
    if flags & ~BPF_F_TEST_XDP_LIVE_FRAMES:
        raise TestRunError(errno.EINVAL, f"unknown flags {flags:#x} for an XDP test run")
    if program.expected_attach_type in (AttachType.XDP_DEVMAP, AttachType.XDP_CPUMAP):
        # The kernel's XDP test run refuses these hooks: they run on redirected frames only.
        raise TestRunError(errno.EINVAL, "XDP devmap/cpumap programs cannot be test-run (as in the kernel)")
    if flags & BPF_F_TEST_XDP_LIVE_FRAMES:
        raise NotSupportedError(
            "live-frame XDP test runs (BPF_F_TEST_XDP_LIVE_FRAMES) need the kernel backend"
        )
    if len(data) < ETH_HLEN:
        raise TestRunError(errno.EINVAL, f"data_in of {len(data)} bytes is shorter than an Ethernet header")
    if len(data) > XDP_MAX_DATA:
        raise NotSupportedError(
            f"XDP frames over {XDP_MAX_DATA} bytes (multi-buffer, with fragments) are not supported by the VM"
        )
    meta_len = ingress = rxq = 0
    layout = program.spec.ctx
    if ctx_in is not None:
        md = _check_tail_zero(ctx_in, layout.size)
        d, d_end, d_meta, ingress, rxq, egress = (
            int.from_bytes(md[i : i + 4], "little") for i in range(0, 24, 4)
        )
        if d_meta or d_end > len(data) or d > d_end or d % 4 or d > _XDP_TEST_META_MAX:
            raise TestRunError(
                errno.EINVAL,
                "xdp_md in ctx_in must have data_meta == 0, data_end <= len(data_in) and data a multiple "
                f"of 4 up to {_XDP_TEST_META_MAX} (the metadata length)",
            )
        if d_end < len(data):
            # Linux 6.18 takes a smaller data_end as the linear part and puts the rest in
            # fragments (a multi-buffer frame), which the VM does not model.
            raise NotSupportedError(
                f"xdp_md.data_end {d_end} < len(data_in) {len(data)} asks for a fragmented (multi-buffer) "
                "frame, which the VM does not model; set data_end to len(data_in)"
            )
        if egress:
            raise TestRunError(errno.EINVAL, "xdp_md.egress_ifindex must be 0 in ctx_in")
        if not ingress and rxq:
            raise TestRunError(errno.EINVAL, "xdp_md.rx_queue_index needs an ingress_ifindex")
        if ingress:
            name = _interface_exists(ingress)
            if name is None:
                raise TestRunError(errno.ENODEV, f"no interface with index {ingress}")
            if rxq >= _rx_queues(name):
                raise TestRunError(errno.EINVAL, f"{name} has no rx queue {rxq}")
        meta_len = d
    xdp = program.run_cache.pop(_XDP_CACHE, None)
    if isinstance(xdp, XdpContext) and xdp.reusable():
        xdp.reset(data, meta_len=meta_len, ingress_ifindex=ingress, rx_queue_index=rxq)
    else:
        xdp = make_xdp_context(
            program.runtime.memory, program.spec, data, meta_len=meta_len, ingress_ifindex=ingress,
            rx_queue_index=rxq,
        )  # fmt: skip
    run = RunState(
        spec=program.spec, ctx_address=xdp.ctx.address, ctx_region=xdp.ctx.region, packet=xdp.packet
    )
    try:
        retval, duration = _timed(program, run, repeat)
        data_out = _finish_data(xdp.packet.with_meta(), data_size_out)
        ctx_out = xdp.xdp_md_out(ctx_in[: layout.size]) if ctx_in is not None else None
    finally:
        _park(program, _XDP_CACHE, xdp)
    return TestRun(retval, data_out, ctx_out, duration)


def _park(program: VmProgram, key: str, context: XdpContext) -> None:
    """Keep a run's context for the next run of the program (released when the program closes).

    Taken out of the cache while a run uses it, so a nested run builds its own.
    """
    if program.closed or not context.reusable() or key in program.run_cache:
        context.close()
    else:
        program.run_cache[key] = context


# -- sk_buff ---------------------------------------------------------------------


def _skb_ctx_in(program: VmProgram, ctx_in: bytes, length: int) -> bytes:
    layout = program.spec.ctx
    raw = _check_tail_zero(ctx_in, SK_BUFF_SIZE)
    allowed = bytearray(SK_BUFF_SIZE)
    for name in SKB_CTX_IN_FIELDS:
        f = layout.field(name)
        allowed[f.offset : f.end] = raw[f.offset : f.end]
    if allowed != raw:
        bad = next(i for i in range(SK_BUFF_SIZE) if allowed[i] != raw[i])
        member = layout.field_at(bad)
        what = member.name if member is not None else "padding"
        raise TestRunError(errno.EINVAL, f"__sk_buff.{what} may not be set in ctx_in (offset {bad})")

    def u32(name: str) -> int:
        return int.from_bytes(raw[layout.field(name).offset :][:4], "little")

    ifindex = u32("ifindex")
    if ifindex > 1 and _interface_exists(ifindex) is None:
        raise TestRunError(errno.ENODEV, f"no interface with index {ifindex}")
    wire_len = u32("wire_len")
    if wire_len and (wire_len < length or wire_len > GSO_LEGACY_MAX_SIZE):
        raise TestRunError(errno.EINVAL, f"wire_len {wire_len} is below the packet length or above 64 KiB")
    if u32("gso_segs") > GSO_MAX_SEGS:
        raise TestRunError(errno.EINVAL, "gso_segs above GSO_MAX_SEGS")
    return raw


# The kernel's skb test run pulls the whole IPv4/IPv6 header the EtherType announces
# and fails with EINVAL when the frame is shorter (observed on Linux 6.18).
_L3_HEADER_LEN = {0x0800: 20, 0x86DD: 40}


def _skb(
    program: VmProgram, data: bytes, ctx_in: bytes | None, repeat: int, flags: int, data_size_out: int | None
) -> TestRun:
    if flags & ~BPF_F_TEST_SKB_CHECKSUM_COMPLETE:
        raise TestRunError(errno.EINVAL, f"unknown flags {flags:#x} for an skb test run")
    if len(data) < ETH_HLEN or len(data) > SKB_MAX_DATA:
        raise TestRunError(errno.EINVAL, f"data_in must be {ETH_HLEN}..{SKB_MAX_DATA} bytes, got {len(data)}")
    l3_need = _L3_HEADER_LEN.get(int.from_bytes(data[12:14], "big"), 0)
    if len(data) - ETH_HLEN < l3_need:
        raise TestRunError(
            errno.EINVAL, f"the EtherType announces a {l3_need}-byte L3 header but data_in is too short"
        )
    is_l2 = program.spec.prog_type in L2_TYPES
    length = len(data) if is_l2 else len(data) - ETH_HLEN
    init = _skb_ctx_in(program, ctx_in, length) if ctx_in is not None else b""
    runtime = program.runtime
    skb = make_skb_context(runtime.memory, program.spec, data, is_l2=is_l2, ctx_in=init)
    run = RunState(
        spec=program.spec, ctx_address=skb.ctx.address, ctx_region=skb.ctx.region, packet=skb.packet
    )
    run.extra["skb"] = skb
    try:
        retval, duration = _timed(program, run, repeat)
        _check_return(program, retval)
        out = skb.packet.payload()
        if not is_l2:
            out = bytes(ETH_HLEN) + out
        data_out = _finish_data(out, data_size_out)
        ctx_out = None
        if ctx_in is not None:
            merged = bytearray(init)
            for name in SKB_CTX_OUT_FIELDS:
                f = skb.ctx.layout.field(name)
                merged[f.offset : f.end] = skb.ctx.buf[f.offset : f.end]
            ctx_out = bytes(merged)
    finally:
        skb.packet.close()
        runtime.memory.remove(skb.ctx.region)
    return TestRun(retval, data_out, ctx_out, duration)


def _check_return(program: VmProgram, retval: int) -> None:
    """A return value outside the type's range: a program the kernel's verifier refuses at load.

    The VM has no verifier yet, so it catches the value when the program returns it.
    """
    rule = program.spec.returns
    if not rule.accepts(retval) and rule.allowed_range is not None:
        lo, hi = rule.allowed_range
        raise VerifierError(
            f"{program.name}: at program exit R0 = {retval}, should have been in [{lo}, {hi}] for "
            f"{program.spec.prog_type.uapi_name} programs (the kernel refuses this program at load)"
        )


# -- tracing ---------------------------------------------------------------------


def _raw_tp(
    program: VmProgram,
    data: bytes,
    ctx_in: bytes | None,
    repeat: int,
    flags: int,
    data_size_out: int | None,
    cpu: int,
) -> TestRun:
    if data or data_size_out:
        raise TestRunError(errno.EINVAL, "raw_tracepoint test runs take no data_in or data_out")
    if repeat > 1:
        raise TestRunError(errno.EINVAL, "raw_tracepoint test runs run once (the kernel takes repeat 0)")
    if flags & ~BPF_F_TEST_RUN_ON_CPU:
        raise TestRunError(errno.EINVAL, f"unknown flags {flags:#x}")
    if cpu and not flags & BPF_F_TEST_RUN_ON_CPU:
        raise TestRunError(errno.EINVAL, "a cpu needs BPF_F_TEST_RUN_ON_CPU")
    ctx = ctx_in or b""
    if len(ctx) < program.ctx_end or len(ctx) > 8 * MAX_BPF_FUNC_ARGS:
        raise TestRunError(
            errno.EINVAL,
            f"ctx_in of {len(ctx)} bytes: the program reads {program.ctx_end} bytes of arguments, "
            f"at most {8 * MAX_BPF_FUNC_ARGS} may be given",
        )
    runtime = program.runtime
    task = runtime.task
    if flags & BPF_F_TEST_RUN_ON_CPU:
        if cpu >= runtime.num_cpus:
            raise TestRunError(errno.ENXIO, f"cpu {cpu} is not online ({runtime.num_cpus} CPUs)")
        runtime.task = task.with_(cpu=cpu)  # the kernel runs the program on that CPU
    try:
        result = _run_on_ctx(program, ctx.ljust(8 * MAX_BPF_FUNC_ARGS, b"\0"), 1)
    finally:
        runtime.task = task
    return TestRun(result.retval, b"", None, 0)


def trigger(program: VmProgram, ctx_in: bytes = b"", *, repeat: int = 1) -> TestRun:
    """Fire the event a tracing program is attached to, with ``ctx_in`` as its context.

    What the kernel does when a tracepoint hits, a kprobe fires or a perf sample is
    taken, with a context of your choosing: a tracepoint record (see
    :meth:`~pybpf.progtypes.tracing.TracepointFormat.build_record`), x86-64 pt_regs,
    ``bpf_perf_event_data``, or up to 12 u64 arguments.  A short context is
    zero-extended; bytes past the type's context must be zero (E2BIG).
    """
    prog_type = program.spec.prog_type
    if prog_type not in TRACING_TYPES:
        raise NotSupportedError(
            f"trigger runs tracing programs; a {prog_type.uapi_name} program runs with test_run(data_in=...)"
        )
    if not isinstance(repeat, int) or repeat < 0:
        raise TestRunError(errno.EINVAL, f"repeat must be a non-negative integer, got {repeat!r}")
    ctx = bytes(ctx_in or b"")
    if prog_type in (ProgType.RAW_TRACEPOINT, ProgType.TRACING):
        if len(ctx) > 8 * MAX_BPF_FUNC_ARGS or len(ctx) % 8:
            raise TestRunError(errno.EINVAL, f"ctx_in must be up to {MAX_BPF_FUNC_ARGS} u64 arguments")
        ctx = ctx.ljust(8 * MAX_BPF_FUNC_ARGS, b"\0")
    elif prog_type is ProgType.KPROBE:
        ctx = _check_tail_zero(ctx, PT_REGS_SIZE)
    elif prog_type is ProgType.PERF_EVENT:
        ctx = _check_tail_zero(ctx, PERF_EVENT_DATA.size)
    elif not ctx:
        raise TestRunError(errno.EINVAL, "a tracepoint needs its event record as ctx_in")
    return _run_on_ctx(program, ctx, repeat)


def _run_on_ctx(program: VmProgram, ctx: bytes, repeat: int) -> TestRun:
    runtime = program.runtime
    region = make_plain_ctx(runtime.memory, ctx, program.spec.ctx.name)
    run = RunState(spec=program.spec, ctx_address=region.address, ctx_region=region.region)
    try:
        retval, duration = _timed(program, run, repeat)
    finally:
        runtime.memory.remove(region.region)
    return TestRun(retval, b"", None, duration)


def run_many(program: VmProgram, packets: Sequence[bytes]) -> list[int]:
    """Return codes of one run per packet (convenience for pcap replay)."""
    return [test_run(program, data_in=p).retval for p in packets]
