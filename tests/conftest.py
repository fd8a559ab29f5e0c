"""Shared test configuration.

Tests marked ``kernel`` need root and a working bpf(2).  Without them they skip
with the reason; with ``PYBPF_REQUIRE_KERNEL=1`` (as CI sets it) the skip becomes
a failure, so CI can never pass while silently not running them.  The same holds
for the external tools a test compares against (:func:`needs_tools`), and for
every other skip (``pytest_runtest_makereport``): CI has every tool and the
kernel, so nothing there has a true reason to skip.
"""

from __future__ import annotations

import ctypes
import os
import platform
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "bpf"
CONFORMANCE_DIR = Path(
    os.environ.get("PYBPF_CONFORMANCE_DIR", str(REPO.parent / "shared" / "conformance" / "tests"))
)


def needs_tools(*tools: str) -> pytest.MarkDecorator:
    """Skip when a reference tool is missing -- except in CI (PYBPF_REQUIRE_KERNEL=1),
    where .ci/run installs them and a missing one must fail the test, not hide it."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    required = os.environ.get("PYBPF_REQUIRE_KERNEL") == "1"
    return pytest.mark.skipif(bool(missing) and not required, reason=f"needs {', '.join(missing)}")


_NR_BPF = {"x86_64": 321, "aarch64": 280}


def kernel_unavailable_reason() -> str | None:
    """Why the bpf(2) syscall cannot be used here, or None when it can."""
    if os.geteuid() != 0:
        return "needs root (CAP_BPF/CAP_SYS_ADMIN) for bpf(2)"
    nr = _NR_BPF.get(platform.machine())
    if nr is None:
        return f"bpf(2) syscall number unknown on {platform.machine()}"
    libc = ctypes.CDLL(None, use_errno=True)
    # BPF_PROG_LOAD with a zeroed attr fails with EINVAL when bpf(2) exists,
    # ENOSYS/EPERM when it does not.
    attr = ctypes.create_string_buffer(128)
    rc = libc.syscall(nr, 5, attr, 128)
    err = ctypes.get_errno()
    if rc < 0 and err in (38, 1):  # ENOSYS, EPERM
        return f"bpf(2) unavailable (errno {err})"
    if rc >= 0:
        os.close(rc)
    return None


_KERNEL_REASON: list[str | None] = []


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("kernel") is None:
        return
    if not _KERNEL_REASON:
        _KERNEL_REASON.append(kernel_unavailable_reason())
    reason = _KERNEL_REASON[0]
    if reason is None:
        return
    if os.environ.get("PYBPF_REQUIRE_KERNEL") == "1":
        pytest.fail(f"PYBPF_REQUIRE_KERNEL=1 but the kernel is unavailable: {reason}")
    pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """In CI (``PYBPF_REQUIRE_KERNEL=1``) a skipped test is a failed one.

    CI installs every reference tool and runs as root on a kernel with BTF, so a
    skip there can only hide something that did not run: a missing tool, a
    fixture not built, a kernel feature that vanished.  Expected failures
    (xfail) are left alone.
    """
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and os.environ.get("PYBPF_REQUIRE_KERNEL") == "1":
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under PYBPF_REQUIRE_KERNEL=1, where every test must run: {reason}"


_CONFORMANCE: dict[str, bool] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Count conformance files (runs in the controller, also under xdist)."""
    if "test_conformance.py::test_conformance[" in report.nodeid and report.when == "call":
        _CONFORMANCE[report.nodeid] = report.passed


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _CONFORMANCE:
        passed = sum(_CONFORMANCE.values())
        terminalreporter.write_line(f"conformance: {passed}/{len(_CONFORMANCE)} passed (cpu v4, callx)")


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    if not CONFORMANCE_DIR.is_dir():
        pytest.fail(f"conformance tests not found at {CONFORMANCE_DIR} (set PYBPF_CONFORMANCE_DIR)")
    return CONFORMANCE_DIR


@pytest.fixture
def pin_root() -> Iterator[str]:
    """A bpffs directory of this test's own for objects that pin by name (maps_btf does).

    Tests run in parallel (xdist) and several load the same fixture: with the
    default root they would share, and race on, /sys/fs/bpf/pybpf_fixture_pinned.
    """
    import uuid

    from pybpf.kernel.pin import ensure_bpffs

    ensure_bpffs()
    path = f"/sys/fs/bpf/pybpf_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    os.makedirs(path)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


STRUCT_OPS_NAMES = ("pybpf_cc", "pybpf_cc_link")
"""The TCP congestion controls the struct_ops fixtures define (names global to the kernel)."""


def tcp_available_congestion_control() -> list[str]:
    with open("/proc/sys/net/ipv4/tcp_available_congestion_control") as f:
        return f.read().split()


def struct_ops_maps() -> dict[str, dict[str, Any]]:
    """``bpftool -j struct_ops show`` (every struct_ops map, registered or not) of the fixtures, by name."""
    import json
    import subprocess

    out = subprocess.run(["bpftool", "-j", "struct_ops", "show"], capture_output=True, text=True, check=True)
    return {so["name"]: so for so in json.loads(out.stdout) if so["name"] in STRUCT_OPS_NAMES}


@pytest.fixture
def struct_ops_registry() -> Iterator[None]:
    """One test at a time with the struct_ops fixtures' maps, across xdist workers (a file lock),
    and none of them left behind: not registered, no map, before and after."""
    import fcntl

    with open("/tmp/pybpf-issue5-struct-ops.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert struct_ops_maps() == {}
        assert not set(STRUCT_OPS_NAMES) & set(tcp_available_congestion_control())
        yield
        assert struct_ops_maps() == {}, "a struct_ops map outlived its test"
        assert not set(STRUCT_OPS_NAMES) & set(tcp_available_congestion_control())
