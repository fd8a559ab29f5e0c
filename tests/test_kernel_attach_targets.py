"""Attachments that fire for real: uprobes by ELF symbol, cgroup and tcx links, pinned links.

Each test makes the hook fire and reads the effect back from a map; network
traffic stays inside a namespace the test creates, and the cgroup is a child
cgroup of our own, removed afterwards.
"""

from __future__ import annotations

import ctypes
import json
import os
import struct
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from kernel_asm import counter
from netns_util import PING, in_netns, netns_veth_pair
from pybpf.backends.kernel import elf_symbol_offset
from pybpf.errors import NotSupportedError
from pybpf.kernel import Link, attach_cgroup, attach_tcx, create_map, ensure_bpffs, get_pinned, load_program
from pybpf.kernel import inspect as kinspect
from pybpf.kernel.maps import KernelMap
from pybpf.kernel.progs import KernelProgram
from pybpf.loaded import load
from pybpf.uapi import AttachType, LinkType, MapType, ProgType

pytestmark = pytest.mark.kernel

FIXTURES = Path(__file__).resolve().parent / "bpf"
CGROUP2 = "/sys/fs/cgroup/unified" if os.path.isdir("/sys/fs/cgroup/unified") else "/sys/fs/cgroup"
ZERO = bytes(4)


def _libc_path() -> str:
    with open("/proc/self/maps") as maps:
        return next(line.split()[-1] for line in maps if "/libc.so" in line or "/libc-" in line)


def _count(m: KernelMap) -> int:
    return int(struct.unpack("<Q", m.lookup(ZERO))[0])


def test_elf_symbol_offset_matches_the_loaded_library() -> None:
    """The file offset we compute maps to the address the dynamic loader gave getppid."""
    path = _libc_path()
    offset = elf_symbol_offset(path, "getppid")
    libc = ctypes.CDLL(path)
    address = ctypes.cast(libc.getppid, ctypes.c_void_p).value
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            if fields[-1] == path and lo <= (address or 0) < hi:
                assert address - lo + int(fields[2], 16) == offset
                return
    pytest.fail("getppid's page not found in /proc/self/maps")


def test_uprobe_and_uretprobe_by_symbol_fire() -> None:
    """The kprobe fixture's programs, attached as uprobe/uretprobe on libc's getppid by name."""
    path = _libc_path()
    libc = ctypes.CDLL(path)
    tgid = struct.pack("<I", os.getpid())
    with load(FIXTURES / "kprobe.v3.o", backend="kernel") as obj:
        entry = obj.programs["count_unlinkat"].attach(binary=path, symbol="getppid", pid=os.getpid())
        ret = obj.programs["unlinkat_ret"].attach(binary=path, symbol="getppid", retprobe=True)
        assert "uprobe" in entry.description and "uretprobe" in ret.description
        for _ in range(7):
            libc.getppid()
        assert struct.unpack("<Q", obj.maps["calls"].lookup(tgid))[0] >= 7
        # The uretprobe saw getppid's return value in rax.
        assert struct.unpack("<q", obj.maps["last_ret"].lookup(tgid))[0] == os.getppid()
        ret.detach()
        assert ret.closed
    with pytest.raises(NotSupportedError, match="not found"):
        elf_symbol_offset(path, "pybpf_no_such_symbol")


@contextmanager
def counting_program(
    prog_type: ProgType, attach_type: AttachType, *, ret: int
) -> Iterator[tuple[KernelMap, KernelProgram]]:
    """A program that counts its runs in slot 0 of an array map, and returns ``ret``."""
    with (
        create_map(MapType.ARRAY, 4, 8, 1, name="hits") as hits,
        load_program(
            counter(hits.fd, ret=ret), prog_type, name="count", expected_attach_type=attach_type
        ) as prog,
    ):
        yield hits, prog


@pytest.fixture
def veth_pair() -> Iterator[tuple[str, str, str, str]]:
    with netns_veth_pair() as pair:
        yield pair


@pytest.fixture
def child_cgroup() -> Iterator[str]:
    path = os.path.join(CGROUP2, f"pybpf_i5_{uuid.uuid4().hex[:8]}")
    os.mkdir(path)
    try:
        yield path
    finally:
        os.rmdir(path)


def test_cgroup_skb_link_counts_egress_and_survives_as_a_pin(
    child_cgroup: str, veth_pair: tuple[str, str, str, str]
) -> None:
    ns_a, _ns_b, _addr_a, addr_b = veth_pair
    ensure_bpffs()
    pin = f"/sys/fs/bpf/pybpf_i5_cglink_{os.getpid()}"
    with counting_program(ProgType.CGROUP_SKB, AttachType.CGROUP_INET_EGRESS, ret=1) as (hits, prog):
        link = attach_cgroup(prog, child_cgroup)
        link.pin(pin)
        link.close()  # our fd is gone; the pin keeps the program attached
        try:
            pings = 3

            def join_cgroup() -> None:
                with open(os.path.join(child_cgroup, "cgroup.procs"), "w") as procs:
                    procs.write(str(os.getpid()))

            subprocess.run(
                ["ip", "netns", "exec", ns_a, sys.executable, "-c", PING, addr_b, str(pings)],
                check=True, timeout=30, preexec_fn=join_cgroup,
            )  # fmt: skip
            assert _count(hits) >= pings  # every echo request left through our cgroup
            with Link.from_fd(get_pinned(pin).release()) as again:
                info = again.info()
                assert info.type == LinkType.CGROUP and info.attach_type == AttachType.CGROUP_INET_EGRESS
                assert info.cgroup_id == os.stat(child_cgroup).st_ino
                assert info.id in kinspect.link_ids()
                again.detach()
            before = _count(hits)
            subprocess.run(
                ["ip", "netns", "exec", ns_a, sys.executable, "-c", PING, addr_b, "1"],
                check=True, timeout=30, preexec_fn=join_cgroup,
            )  # fmt: skip
            assert _count(hits) == before  # detached through the pinned link
        finally:
            os.unlink(pin)


def test_tcx_ingress_link_counts_packets_in_netns(veth_pair: tuple[str, str, str, str]) -> None:
    ns_a, ns_b, _addr_a, addr_b = veth_pair
    with counting_program(ProgType.SCHED_CLS, AttachType.TCX_INGRESS, ret=0) as (hits, prog):
        with in_netns(ns_b):
            link = attach_tcx(prog, "vb", AttachType.TCX_INGRESS)
        with link:
            info = link.info()
            assert info.type == LinkType.TCX and info.attach_type == AttachType.TCX_INGRESS
            subprocess.run(
                ["ip", "netns", "exec", ns_a, sys.executable, "-c", PING, addr_b, "4"], check=True, timeout=30
            )
            assert _count(hits) == 4  # TC_ACT_OK: the replies came back, each request counted once
        subprocess.run(
            ["ip", "netns", "exec", ns_a, sys.executable, "-c", PING, addr_b, "1"], check=True, timeout=30
        )
        assert _count(hits) == 4  # closed: detached


def test_tcx_auto_attach_from_section_direction(veth_pair: tuple[str, str, str, str]) -> None:
    _ns_a, ns_b, _addr_a, _addr_b = veth_pair
    with load(FIXTURES / "sections_new.v3.o", backend="kernel", programs=["new_tcx_egress"]) as obj:
        with in_netns(ns_b):
            link = obj.programs["new_tcx_egress"].attach("vb")
        assert link.info().attach_type == AttachType.TCX_EGRESS


def _net_show_tc(ns: str) -> list[dict[str, object]]:
    command = [sys.executable, "-m", "pybpf", "--backend", "kernel", "-j", "net", "show"]
    out = subprocess.run(
        ["ip", "netns", "exec", ns, *command], check=True, capture_output=True, text=True, timeout=60
    )
    tc: list[dict[str, object]] = json.loads(out.stdout)[0]["tc"]
    return tc


def _ifindex_in(ns: str, dev: str) -> int:
    out = subprocess.run(
        ["ip", "netns", "exec", ns, "cat", f"/sys/class/net/{dev}/ifindex"], check=True, capture_output=True
    )
    return int(out.stdout)


def test_net_show_lists_tcx_of_its_own_namespace_only(veth_pair: tuple[str, str, str, str]) -> None:
    """`net show` answers for the namespace it runs in, even where another one reuses the ifindex.

    A tcx link's info names an ifindex but no namespace: listing links globally
    would show vb's program on va, which has the same ifindex in its namespace.
    """
    ns_a, ns_b, _addr_a, _addr_b = veth_pair
    assert _ifindex_in(ns_a, "va") == _ifindex_in(ns_b, "vb")  # the case that tells them apart
    with counting_program(ProgType.SCHED_CLS, AttachType.TCX_INGRESS, ret=0) as (_hits, prog):
        with in_netns(ns_b):
            link = attach_tcx(prog, "vb", AttachType.TCX_INGRESS)
        with link:
            mine = _net_show_tc(ns_b)
            assert [(t["devname"], t["kind"], t["prog_id"], t["link_id"]) for t in mine] == [
                ("vb", "tcx/ingress", prog.info().id, link.id)
            ]
            assert _net_show_tc(ns_a) == []
