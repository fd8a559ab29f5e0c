"""XDP attaches in generic (SKB) and native (driver) mode through a bpf_link.

A veth pair (made and removed by the test, no addresses) supports both modes;
`ip -d link show` tells which one the kernel used: `xdpgeneric` or `xdp`.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pybpf.loaded import load

FIXTURES = Path(__file__).resolve().parent / "bpf"
pytestmark = pytest.mark.kernel


@pytest.fixture
def veth() -> Iterator[str]:
    name = f"pbx{os.getpid() % 100000}"
    made = subprocess.run(
        ["ip", "link", "add", name, "type", "veth", "peer", "name", name + "p"], capture_output=True
    )
    if made.returncode != 0:
        pytest.fail(f"cannot create a veth pair: {made.stderr.decode().strip()}")
    try:
        subprocess.run(["ip", "link", "set", name, "up"], check=True)
        subprocess.run(["ip", "link", "set", name + "p", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "link", "del", name], capture_output=True)


def _xdp_state(dev: str) -> str:
    out = subprocess.run(["ip", "-d", "link", "show", "dev", dev], capture_output=True, text=True, check=True)
    return out.stdout


@pytest.mark.parametrize(("generic", "word"), [(True, "xdpgeneric"), (False, "xdp ")])
def test_xdp_link_modes(veth: str, generic: bool, word: str) -> None:
    with load(FIXTURES / "xdp_pass.v3.o", backend="kernel") as obj:
        link = obj.programs["xdp_pass"].attach(veth, generic=generic)
        state = _xdp_state(veth)
        assert word in state, state
        if not generic:
            assert "xdpgeneric" not in state
        link.detach()
        assert "xdp" not in _xdp_state(veth).replace("xdp_", "")
