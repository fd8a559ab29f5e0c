"""Meta-test: every helper in the default registry is called by at least one test.

A helper counts as covered when some test source (tests/**/*.py, this file
excluded) calls it in a way that actually runs it:

- assembled programs: ``call bpf_<name>`` (optionally ``#<id>``) or ``call <id>``;
- tests/kernel_asm.py-style builders: ``call("<name>")``;
- inline C: ``bpf_<name>(``;
- a ``# covers: <name>[, <name>...]`` marker next to a test that exercises the
  helper through a compiled fixture (whose C source lives in tests/bpf/).

The point is the issue's requirement that each helper has a test asserting the
kernel's semantics; this test keeps a newly added helper from slipping in untested.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from pybpf.helpers.defaults import build_default_registry

TESTS = Path(__file__).resolve().parent
_OWN_TESTS_MARKER = "# ---- VM tests for helpers " + "with no other test"


@cache
def _sources() -> str:
    me = Path(__file__).resolve()
    texts = [p.read_text() for p in sorted(TESTS.rglob("*.py")) if p.resolve() != me]
    texts.append(me.read_text().split(_OWN_TESTS_MARKER)[-1])  # this file: only its tests below
    return "\n".join(texts)


@cache
def _covers_markers() -> frozenset[str]:
    names: set[str] = set()
    for m in re.finditer(r"#\s*covers:\s*([\w ,]+)", _sources()):
        names.update(n.strip().removeprefix("bpf_") for n in m.group(1).split(",") if n.strip())
    return frozenset(names)


def _is_called(name: str, helper_id: int) -> bool:
    call = r"(?:\b|(?<=\\n))call\s+"  # also right after a "\n" escape inside a one-line string
    patterns = (
        rf"{call}bpf_{name}\b",  # C-syntax asm by name (call bpf_csum_diff#28)
        rf"{call}{helper_id}(?![\w+#.])",  # C-syntax asm by id (call 28)
        rf"\bcall\(\s*[\"']{name}[\"']\s*\)",  # kernel_asm.call("csum_diff")
        rf"\bbpf_{name}\s*\(",  # inline C
    )
    src = _sources()
    return name in _covers_markers() or any(re.search(p, src) for p in patterns)


REGISTRY = sorted(((spec.id, spec.name) for spec in build_default_registry()), key=lambda t: t[0])


def test_registry_is_large():
    assert len(REGISTRY) >= 60


@pytest.mark.parametrize(("helper_id", "name"), REGISTRY, ids=[n for _, n in REGISTRY])
def test_helper_has_a_calling_test(helper_id: int, name: str):
    assert _is_called(name, helper_id), f"no test calls bpf_{name} (#{helper_id})"


def test_scanner_rejects_unknown_names():
    assert not _is_called("no_such_helper_xyz", 987654)


# ---- VM tests for helpers with no other test (scanned like any other test file) ----
# Packet helpers that test_run can drive in the kernel (csum_diff, csum_update, set_hash,
# skb_pull_data, xdp_get_buff_len, get_socket_*, get_cgroup_classid, ...) are compared
# against the real kernel in tests/test_helpers_kernel_diff.py.

import errno  # noqa: E402

from progtype_util import REGISTRY, TASK, make_runtime  # noqa: E402
from pybpf.isa import assemble  # noqa: E402
from pybpf.maps.factory import create_map  # noqa: E402
from pybpf.progtypes import spec_for  # noqa: E402
from pybpf.runtime.clock import HZ, INITIAL_JIFFIES  # noqa: E402
from pybpf.runtime.program import VmProgram  # noqa: E402
from pybpf.uapi import MapType, ProgType  # noqa: E402


def program(text: str, prog_type: ProgType, runtime=None) -> VmProgram:  # type: ignore[no-untyped-def]
    rt = runtime if runtime is not None else make_runtime()
    return VmProgram("cov", assemble(text, syntax="c"), spec_for(prog_type), rt, REGISTRY)


EFAULT = (-errno.EFAULT) & 0xFFFFFFFFFFFFFFFF
ENOENT = (-errno.ENOENT) & 0xFFFFFFFFFFFFFFFF


def test_map_delete_elem_then_enoent():
    rt = make_runtime()
    h = create_map(MapType.HASH, 4, 8, 4, name="h")
    h.update((5).to_bytes(4, "little"), bytes(8))
    handle = rt.bind_map(h).handle
    text = f"""
        r1 = 5
        *(u32 *)(r10 - 4) = r1
        r1 = {handle} ll
        r2 = r10
        r2 += -4
        call bpf_map_delete_elem#3
        exit
    """
    prog = program(text, ProgType.KPROBE, rt)
    assert prog.vm.call(0) == 0
    assert len(h) == 0
    assert prog.vm.call(0) == ENOENT  # deleting a missing key


def test_map_lookup_percpu_elem_reads_the_named_cpu():
    rt = make_runtime()
    pc = create_map(MapType.PERCPU_ARRAY, 4, 8, 1, name="pc", num_cpus=2)
    pc.update(bytes(4), (11).to_bytes(8, "little") + (22).to_bytes(8, "little"))
    handle = rt.bind_map(pc).handle

    def prog(cpu: int):
        return program(
            f"""
            r1 = 0
            *(u32 *)(r10 - 4) = r1
            r1 = {handle} ll
            r2 = r10
            r2 += -4
            r3 = {cpu}
            call bpf_map_lookup_percpu_elem#195
            if r0 == 0 goto +2
            r0 = *(u64 *)(r0 + 0)
            exit
            r0 = 99
            exit
            """,
            ProgType.KPROBE,
            rt,
        )

    assert prog(0).vm.call(0) == 11
    assert prog(1).vm.call(0) == 22
    assert prog(2).vm.call(0) == 99  # cpu >= nr_cpu_ids: NULL


def _read_prog(helper: str, size: int, rt) -> object:  # type: ignore[no-untyped-def]
    """Call ``helper(dst=fp-16, size, src=r1)``; return r0 << 32 | first dst u32."""
    return program(
        f"""
        r3 = r1
        r1 = 0
        *(u64 *)(r10 - 16) = r1
        *(u64 *)(r10 - 8) = r1
        r1 = r10
        r1 += -16
        r2 = {size}
        call bpf_{helper}
        r0 <<= 32
        r1 = *(u32 *)(r10 - 16)
        r0 |= r1
        exit
        """,
        ProgType.KPROBE,
        rt,
    )


# covers: probe_read, probe_read_user, probe_read_kernel, copy_from_user
@pytest.mark.parametrize("helper", ["probe_read", "probe_read_user", "probe_read_kernel", "copy_from_user"])
def test_probe_read_copies_or_zeroes_on_fault(helper: str):
    rt = make_runtime()
    src = rt.memory.add("user:src", bytearray(b"ABCDEFGH"))
    prog = _read_prog(helper, 4, rt)
    assert prog.vm.call(src.base) == int.from_bytes(b"ABCD", "little")
    # a faulting source: -EFAULT and the destination zeroed (the kernel memsets it)
    assert prog.vm.call(0x10) == (EFAULT << 32 | 0) & 0xFFFFFFFFFFFFFFFF
    assert prog.vm.call(src.base + 6) >> 32 == EFAULT & 0xFFFFFFFF  # crosses the end of the region


# covers: probe_read_str, probe_read_kernel_str
@pytest.mark.parametrize("helper", ["probe_read_str", "probe_read_kernel_str"])
def test_probe_read_str_truncates_and_counts_nul(helper: str):
    rt = make_runtime()
    src = rt.memory.add("user:s", bytearray(b"hi\0zzzz"))
    long = rt.memory.add("user:l", bytearray(b"abcdefgh\0"))
    prog = _read_prog(helper, 4, rt)
    assert prog.vm.call(src.base) == (3 << 32) | int.from_bytes(b"hi\0\0", "little")
    assert prog.vm.call(long.base) == (4 << 32) | int.from_bytes(b"abc\0", "little")  # size-1 + NUL
    assert prog.vm.call(8) >> 32 == EFAULT & 0xFFFFFFFF


def test_probe_write_user_writes_writable_memory_only():
    rt = make_runtime()
    target = rt.memory.add("user:t", bytearray(8))
    prog = program(
        """
        r6 = 0x11223344 ll
        *(u64 *)(r10 - 8) = r6
        r2 = r10
        r2 += -8
        r3 = 4
        call bpf_probe_write_user#36
        exit
        """,
        ProgType.KPROBE,
        rt,
    )
    assert prog.vm.call(target.base) == 0
    assert bytes(target.buffer[:4]) == (0x11223344).to_bytes(4, "little")
    assert prog.vm.call(0x20) == EFAULT


# covers: get_numa_node_id, get_current_cgroup_id, get_current_task
# covers: ktime_get_boot_ns, ktime_get_tai_ns, ktime_get_coarse_ns, jiffies64
def test_identity_and_clock_helpers():
    rt = make_runtime()
    rt.task = TASK.with_(numa_node=1, cgroup_id=0x1234_5678_9A, task_address=0xFFFF_8880_0000_1000)
    now = 1_234_567_890_123

    def one(helper: str) -> int:
        return program(f"call bpf_{helper}\nexit", ProgType.KPROBE, rt).vm.call(0)

    assert one("get_numa_node_id") == 1
    assert one("get_current_cgroup_id") == 0x1234_5678_9A
    assert one("get_current_task") == 0xFFFF_8880_0000_1000
    assert one("ktime_get_boot_ns") == now
    assert one("ktime_get_tai_ns") == now
    coarse = one("ktime_get_coarse_ns")
    assert coarse <= now and now - coarse < 4_000_000  # tick resolution (HZ=250)
    assert one("jiffies64") == INITIAL_JIFFIES + now * HZ // 1_000_000_000


def test_get_prandom_u32_is_seeded_u32():
    def draws(seed: int) -> list[int]:
        rt = make_runtime()
        rt.random.seed(seed)
        prog = program("call bpf_get_prandom_u32#7\nexit", ProgType.KPROBE, rt)
        return [prog.vm.call(0) for _ in range(8)]

    a = draws(3)
    assert a == draws(3) and a != draws(4)
    assert all(0 <= v <= 0xFFFFFFFF for v in a) and len(set(a)) > 1


def test_get_func_ip_and_attach_cookie_report_the_run():
    rt = make_runtime()
    ip = program("call bpf_get_func_ip#173\nexit", ProgType.KPROBE, rt)
    cookie = program("call bpf_get_attach_cookie#174\nexit", ProgType.KPROBE, rt)
    assert ip.vm.call(0) == 0 and cookie.vm.call(0) == 0  # no cookie given at attach: 0
    rt.run.func_ip, rt.run.attach_cookie = 0xFFFFFFFF81000010, 0xC00C1E
    assert ip.vm.call(0) == 0xFFFFFFFF81000010
    assert cookie.vm.call(0) == 0xC00C1E


def test_ringbuf_discard_and_query():
    rt = make_runtime()
    rb = create_map(MapType.RINGBUF, 0, 0, 4096, name="rb")
    handle = rt.bind_map(rb).handle
    # reserve 8, discard it, then output 8 bytes; return AVAIL_DATA, RING_SIZE, PROD_POS, CONS_POS
    prog = program(
        f"""
        r1 = {handle} ll
        r2 = 8
        r3 = 0
        call bpf_ringbuf_reserve#131
        if r0 != 0 goto +2
        r0 = 1
        exit
        r1 = r0
        r2 = 0
        call bpf_ringbuf_discard#133
        r1 = 7
        *(u64 *)(r10 - 8) = r1
        r1 = {handle} ll
        r2 = r10
        r2 += -8
        r3 = 8
        r4 = 0
        call bpf_ringbuf_output#130
        r1 = {handle} ll
        r2 = 0
        call bpf_ringbuf_query#134
        r6 = r0
        r1 = {handle} ll
        r2 = 1
        call bpf_ringbuf_query#134
        r0 <<= 16
        r0 |= r6
        exit
        """,
        ProgType.KPROBE,
        rt,
    )
    r0 = prog.vm.call(0)
    # the discarded record still occupies the ring until consumed: 2 x (8 header + 8 data)
    assert r0 & 0xFFFF == 32
    assert r0 >> 16 == 4096
    records: list[bytes] = []
    rb.consume(lambda d: records.append(bytes(d)))
    assert records == [(7).to_bytes(8, "little")]  # the discarded sample is skipped


def test_trace_vprintk_and_snprintf_varargs():
    rt = make_runtime()
    fmt = b"a=%d b=%s".ljust(16, bytes(1))
    lo, hi = int.from_bytes(fmt[:8], "little"), int.from_bytes(fmt[8:], "little")
    text = f"""
        r1 = {lo} ll
        *(u64 *)(r10 - 16) = r1
        r1 = {hi} ll
        *(u64 *)(r10 - 8) = r1
        r1 = 0x6b6f
        *(u64 *)(r10 - 24) = r1
        r1 = -5
        *(u64 *)(r10 - 40) = r1
        r1 = r10
        r1 += -24
        *(u64 *)(r10 - 32) = r1
        r1 = r10
        r1 += -16
        r2 = 10
        r3 = r10
        r3 += -40
        r4 = 16
        call bpf_trace_vprintk#177
        r6 = r0
        r1 = r10
        r1 += -64
        r2 = 6
        r3 = r10
        r3 += -16
        r4 = r10
        r4 += -40
        r5 = 16
        call bpf_snprintf#165
        r0 <<= 8
        r0 |= r6
        exit
    """
    prog = program(text, ProgType.KPROBE, rt)
    r0 = prog.vm.call(0)
    assert r0 & 0xFF == len("a=-5 b=ok")  # trace_vprintk: bstr_printf's length, no NUL
    assert r0 >> 8 == len("a=-5 b=ok") + 1  # snprintf: the full length even when truncated
    assert rt.trace_log.messages == ["a=-5 b=ok"]
    bad = program(
        "r1 = r10\nr1 += -8\nr2 = 1\nr3 = 0\nr4 = 12\ncall bpf_trace_vprintk#177\nexit", ProgType.KPROBE, rt
    )
    assert bad.vm.call(0) == (-errno.EINVAL) & 0xFFFFFFFFFFFFFFFF  # data_len not a multiple of 8
