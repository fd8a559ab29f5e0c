"""Kernel objects never leak: every fd a load opens is closed when the object closes."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from pybpf.errors import BPFError
from pybpf.kernel import syscall
from pybpf.kernel.inspect import program_by_id
from pybpf.loaded import load
from pybpf.object.spec import ObjectSpec
from pybpf.uapi import Cmd

pytestmark = pytest.mark.kernel

FIXTURES = Path(__file__).resolve().parent / "bpf"


def _fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_load_close_1000_times_leaves_fds_unchanged() -> None:
    spec = ObjectSpec.from_file(FIXTURES / "xdp_parse_count.v3.o")  # BTF, 2 maps, 1 program
    with load(spec, backend="kernel"):
        pass  # warm caches (vmlinux BTF index, kconfig) before counting
    calls: Counter[str] = Counter()

    def count(cmd: Cmd, attr: ctypes._CData, size: int) -> int:
        calls[cmd.name] += 1
        return syscall._real_bpf(cmd, attr, size)

    before = _fd_count()
    with syscall.hooked(bpf_hook=count):
        for _ in range(1000):
            with load(spec, backend="kernel") as obj:
                assert obj.programs["xdp_parse_count"].handle.fd >= 0
    assert _fd_count() == before
    # Each cycle really created the whole object in the kernel (nothing cached or reused).
    assert calls == {"BTF_LOAD": 1000, "MAP_CREATE": 2000, "PROG_LOAD": 1000}


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
    _assert_freed(prog_id, "after the object closed")


def _assert_freed(prog_id: int, when: str) -> None:
    """Nothing holds the program any more: the kernel frees it (RCU, so allow a moment)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            program_by_id(prog_id).close()
        except BPFError:
            return
        time.sleep(0.05)
    pytest.fail(f"program {prog_id} still alive {when}")


SHUTDOWN = """
import sys
from pybpf.loaded import load
obj = load(sys.argv[1], backend="kernel")
links = obj.attach_all()
print(obj.programs["trace_openat"].handle.id, flush=True)
# exit without closing anything: finalizers and process exit must release it all quietly
"""


def test_interpreter_shutdown_releases_links_and_programs_quietly() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SHUTDOWN, str(FIXTURES / "openat_ringbuf.v3.o")],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONWARNINGS": "error"},
    )  # fmt: skip
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    _assert_freed(int(proc.stdout.strip()), "after its process exited")
