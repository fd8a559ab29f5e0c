"""End to end: the XDP source-ip fixture attached to a veth inside namespaces we create.

Two network namespaces joined by a veth pair, addresses from 10.0.0.0/8 only
inside them, IPv6 off and static neighbours so the only packets are our ICMP
echo requests.  The program (generic/SKB mode) logs each sender with
bpf_printk, read back from tracefs, and counts packets in an array map.
Everything is removed at the end, even on failure.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from netns_util import PING, in_netns, netns_veth_pair, run_in_netns
from pybpf.kernel.pin import ensure_tracefs
from pybpf.loaded import load

pytestmark = pytest.mark.kernel

FIXTURES = Path(__file__).resolve().parent / "bpf"
PINGS = 3


@pytest.fixture()
def veth_pair() -> Iterator[tuple[str, str, str, str]]:
    with netns_veth_pair() as pair:
        yield pair


def test_xdp_srcip_logs_pinger_and_counts(veth_pair: tuple[str, str, str, str]) -> None:
    ns_a, ns_b, addr_a, addr_b = veth_pair
    trace = Path(ensure_tracefs()) / "trace"
    with load(FIXTURES / "xdp_srcip.v3.o", backend="kernel") as obj:
        with in_netns(ns_b):
            link = obj.programs["xdp_srcip"].attach("vb")  # generic (SKB) mode by default
        try:
            run_in_netns(ns_a, sys.executable, "-c", PING, addr_b, str(PINGS))
            deadline = time.monotonic() + 5
            logged = 0
            while time.monotonic() < deadline:
                logged = trace.read_text(errors="replace").count(f"Received Source IP: {addr_a}")
                if logged >= PINGS:
                    break
                time.sleep(0.1)
            assert logged == PINGS
            count = int.from_bytes(obj.maps["pkt_count"].lookup(bytes(4)), "little")
            assert count == PINGS
        finally:
            link.close()
