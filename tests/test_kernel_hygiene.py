"""Kernel objects never leak: every fd a load opens is closed when the object closes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pybpf.errors import BPFError
from pybpf.kernel.inspect import program_by_id
from pybpf.loaded import load
from pybpf.object.spec import ObjectSpec

pytestmark = pytest.mark.kernel

FIXTURES = Path(__file__).resolve().parent / "bpf"


def _fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_load_close_1000_times_leaves_fds_unchanged() -> None:
    spec = ObjectSpec.from_file(FIXTURES / "xdp_parse_count.v3.o")  # BTF, 2 maps, 1 program
    with load(spec, backend="kernel"):
        pass  # warm caches (vmlinux BTF index, kconfig) before counting
    before = _fd_count()
    start = time.perf_counter()
    for _ in range(1000):
        with load(spec, backend="kernel") as obj:
            assert obj.programs["xdp_parse_count"].handle.fd >= 0
    elapsed = time.perf_counter() - start
    assert _fd_count() == before
    assert elapsed < 60


def test_failed_load_closes_what_it_opened() -> None:
    spec = ObjectSpec.from_file(FIXTURES / "sections_trampoline.v3.o")
    before = _fd_count()
    for _ in range(20):
        with pytest.raises(BPFError):
            load(spec, backend="kernel")
    assert _fd_count() == before


def test_links_and_programs_close_on_exit() -> None:
    before = _fd_count()
    with load(FIXTURES / "openat_ringbuf.v3.o", backend="kernel") as obj:
        links = obj.attach_all()
        prog_id = obj.programs["trace_openat"].handle.id
        assert _fd_count() > before
    assert all(link.closed for link in links)
    assert obj.programs["trace_openat"].handle.closed
    assert _fd_count() == before
    # Nothing holds the program any more: the kernel frees it (RCU, so allow a moment).
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            program_by_id(prog_id).close()
        except BPFError:
            return
        time.sleep(0.05)
    pytest.fail(f"program {prog_id} still alive after the object closed")
