"""Pinning by name mounts bpffs when it is absent, as libbpf's users expect /sys/fs/bpf to work.

Run in a private mount namespace (``unshare --mount``) where /sys/fs/bpf is
unmounted first, so the host's bpffs and other users' pins are never touched;
the namespace, its bpffs and the pin vanish with the child process.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.kernel

FIXTURES = Path(__file__).resolve().parent / "bpf"

CHILD = r"""
import os, subprocess, sys
from pybpf.kernel.pin import fs_type_of
from pybpf.loaded import load
subprocess.run(["umount", "/sys/fs/bpf"], check=True)
assert fs_type_of("/sys/fs/bpf") != "bpf", fs_type_of("/sys/fs/bpf")
assert not os.path.exists("/sys/fs/bpf/pybpf_fixture_pinned")
with load(sys.argv[1], backend="kernel") as obj:
    assert fs_type_of("/sys/fs/bpf") == "bpf"
    assert os.path.exists("/sys/fs/bpf/pybpf_fixture_pinned")
    assert obj.maps["pybpf_fixture_pinned"].id > 0
print("mounted and pinned")
"""


def test_pin_by_name_mounts_bpffs_when_absent() -> None:
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.fail("unshare(1) is needed to test bpffs mounting without touching the host's")
    proc = subprocess.run(
        [unshare, "--mount", "--propagation", "private", sys.executable, "-c", CHILD,
         str(FIXTURES / "maps_btf.v3.o")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "mounted and pinned"
