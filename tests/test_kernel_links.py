"""Attaching programs for real and watching them fire."""

from __future__ import annotations

import ctypes
import errno
import os
import struct
import subprocess
from pathlib import Path

import pytest

from kernel_asm import counter, return_imm
from netns_util import in_netns, netns_veth_pair
from pybpf.errors import KernelError, NotSupportedError
from pybpf.kernel import (
    Link,
    attach_cgroup,
    attach_kprobe,
    attach_raw_tracepoint,
    attach_tcx,
    attach_tracepoint,
    attach_tracing,
    attach_uprobe,
    attach_xdp,
    create_map,
    ensure_bpffs,
    get_pinned,
    load_program,
)
from pybpf.kernel import inspect as kinspect
from pybpf.kernel.info import PerfEventLinkType
from pybpf.kernel.links import vmlinux_func_id
from pybpf.kernel.maps import KernelMap
from pybpf.uapi import AttachType, LinkType, MapType, ProgType

pytestmark = pytest.mark.kernel

ZERO = b"\0" * 4


def count(m: KernelMap) -> int:
    return int(struct.unpack("<Q", m.lookup(ZERO))[0])


@pytest.fixture
def counter_map() -> object:
    with create_map(MapType.ARRAY, 4, 8, 1, name="hits") as m:
        yield m


def test_tracepoint_fires_on_getppid(counter_map: KernelMap) -> None:
    with load_program(counter(counter_map.fd), ProgType.TRACEPOINT, name="tp_getppid") as prog:
        link = attach_tracepoint(prog, "syscalls", "sys_enter_getppid")
        with link:
            for _ in range(20):
                os.getppid()
            assert count(counter_map) >= 20
            info = link.info()
            assert info.type == LinkType.PERF_EVENT
            assert info.perf_event_type == PerfEventLinkType.TRACEPOINT
            assert info.target_name == "sys_enter_getppid"
            assert info.prog_id == prog.info().id
        before = count(counter_map)
        os.getppid()
        assert count(counter_map) == before  # detached on close


def test_raw_tracepoint_and_detach(counter_map: KernelMap) -> None:
    with load_program(counter(counter_map.fd), ProgType.RAW_TRACEPOINT, name="raw_enter") as prog:
        link = attach_raw_tracepoint(prog, "sys_enter")
        os.getppid()
        assert count(counter_map) >= 1
        info = link.info()
        assert info.type == LinkType.RAW_TRACEPOINT and info.target_name == "sys_enter"
        link.detach()
        assert link.closed


def test_fentry_by_btf_name(counter_map: KernelMap) -> None:
    btf_id = vmlinux_func_id("bpf_fentry_test1")
    try:
        prog = load_program(
            counter(counter_map.fd),
            ProgType.TRACING,
            name="fentry_t1",
            expected_attach_type=AttachType.TRACE_FENTRY,
            attach_btf_id=btf_id,
        )
    except KernelError as e:
        # This machine (lockdown=integrity) refuses every tracing program, bpftool
        # included: assert the refusal is the kernel's and reported as such.
        assert e.errno == errno.EPERM and e.command == "prog_load", e
        assert e.hint and "trampoline" in e.hint
        assert _bpftool_refuses_fentry_with_eperm()
        return
    with prog, attach_tracing(prog) as link:
        # BPF_PROG_TEST_RUN of a tracing program calls bpf_fentry_test1..N.
        prog.test_run()
        assert count(counter_map) >= 1
        info = link.info()
        assert info.type == LinkType.TRACING and info.target_btf_id == btf_id


def _bpftool_refuses_fentry_with_eperm() -> bool:
    """bpftool (libbpf) loading the trampoline fixture fails the same way: EPERM on tr_fentry."""
    pin = f"/sys/fs/bpf/pybpf_i5_tramp_{os.getpid()}"
    fixture = Path(__file__).resolve().parent / "bpf" / "sections_trampoline.v3.o"
    proc = subprocess.run(["bpftool", "prog", "loadall", str(fixture), pin], capture_output=True, text=True)
    if os.path.isdir(pin):
        for name in os.listdir(pin):
            os.unlink(os.path.join(pin, name))
        os.rmdir(pin)
    return proc.returncode != 0 and "'tr_fentry': BPF program load failed: Operation not permitted" in (
        proc.stderr
    )


def _libc_symbol_offset(symbol: str) -> tuple[str, int]:
    from elftools.elf.elffile import ELFFile

    with open("/proc/self/maps") as maps:
        path = next(line.split()[-1] for line in maps if "libc.so" in line or "libc-" in line)
    with open(path, "rb") as f:
        elf = ELFFile(f)
        table = elf.get_section_by_name(".dynsym")
        sym = table.get_symbol_by_name(symbol)[0]
        vaddr = sym["st_value"]
        for seg in elf.iter_segments():
            if seg["p_type"] == "PT_LOAD" and seg["p_vaddr"] <= vaddr < seg["p_vaddr"] + seg["p_memsz"]:
                return path, vaddr - seg["p_vaddr"] + seg["p_offset"]
    raise AssertionError(f"{symbol} not in a PT_LOAD segment")


def test_uprobe_on_libc_getppid(counter_map: KernelMap) -> None:
    path, offset = _libc_symbol_offset("getppid")
    with (
        load_program(counter(counter_map.fd), ProgType.KPROBE, name="up_getppid") as prog,
        attach_uprobe(prog, path, offset, pid=os.getpid()),
    ):
        libc = ctypes.CDLL(None)
        for _ in range(5):
            libc.getppid()
        assert count(counter_map) >= 5


def test_kprobe_attach_or_clear_not_supported(counter_map: KernelMap) -> None:
    """Fires where the kernel has a kprobe PMU; here (CONFIG_KPROBES unset) a typed refusal."""
    has_pmu = os.path.exists("/sys/bus/event_source/devices/kprobe")
    with load_program(counter(counter_map.fd), ProgType.KPROBE, name="kp") as prog:
        for retprobe in (False, True):
            if not has_pmu:
                with pytest.raises(NotSupportedError, match="kprobe PMU is missing"):
                    attach_kprobe(prog, "__x64_sys_getppid", retprobe=retprobe)
                continue
            with attach_kprobe(prog, "__x64_sys_getppid", retprobe=retprobe):
                before = count(counter_map)
                os.getppid()
                assert count(counter_map) >= before + 1
    if not has_pmu:  # the kernel itself has no kprobes (no kprobe_events in tracefs either)
        from pybpf.kernel.pin import ensure_tracefs

        assert not os.path.exists(os.path.join(ensure_tracefs(), "kprobe_events"))


def test_xdp_and_tcx_links_on_loopback() -> None:
    """On the loopback of a namespace of our own (the host's lo is shared with other tests)."""
    with netns_veth_pair() as (_ns_a, ns_b, _addr_a, _addr_b), in_netns(ns_b):
        with (
            load_program(return_imm(2), ProgType.XDP, name="xdp_pass") as prog,
            attach_xdp(prog, "lo") as link,
        ):
            info = link.info()
            assert info.type == LinkType.XDP and info.ifindex == 1
        with (
            load_program(return_imm(0), ProgType.SCHED_CLS, name="tcx_ok") as prog,
            attach_tcx(prog, "lo", AttachType.TCX_EGRESS) as link,
        ):
            info = link.info()
            assert info.type == LinkType.TCX and info.ifindex == 1
            assert info.attach_type == AttachType.TCX_EGRESS


def test_cgroup_skb_link_pin_and_reopen() -> None:
    cgroup = "/sys/fs/cgroup/unified"
    if not os.path.isdir(cgroup):
        pytest.skip("no cgroup2 mount at /sys/fs/cgroup/unified")
    ensure_bpffs()
    pin = f"/sys/fs/bpf/pybpf_test_link_{os.getpid()}"
    prog = load_program(
        return_imm(1),
        ProgType.CGROUP_SKB,
        name="cg_allow",
        expected_attach_type=AttachType.CGROUP_INET_INGRESS,
    )
    with prog, attach_cgroup(prog, cgroup) as link:
        link.pin(pin)
        try:
            reopened = Link.from_fd(get_pinned(pin).release())
            with reopened:
                assert reopened.info().type == LinkType.CGROUP
                assert reopened.id in kinspect.link_ids()
                assert any(i.id == reopened.id for i in kinspect.iter_link_infos())
                with kinspect.link_by_id(reopened.id) as again:
                    assert again.info().attach_type == AttachType.CGROUP_INET_INGRESS
        finally:
            os.unlink(pin)
        link.detach()
