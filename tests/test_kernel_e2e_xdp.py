"""End to end: the XDP source-ip fixture attached to a veth inside namespaces we create.

Two network namespaces joined by a veth pair, addresses from 10.0.0.0/8 only
inside them, IPv6 off and static neighbours so the only packets are our ICMP
echo requests.  The program (generic/SKB mode) logs each sender with
bpf_printk, read back from tracefs, and counts packets in an array map.
Everything is removed at the end, even on failure.
"""

from __future__ import annotations

import ctypes
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pybpf.kernel.pin import ensure_tracefs
from pybpf.loaded import load

pytestmark = pytest.mark.kernel

FIXTURES = Path(__file__).resolve().parent / "bpf"
CLONE_NEWNET = 0x40000000
PINGS = 3

# An ICMP echo client (no ping binary on this machine): COUNT requests, each
# waiting up to a second for the reply; exits 0 when all were answered.
PING = r"""
import socket, struct, sys, os, time
dst, count = sys.argv[1], int(sys.argv[2])
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF); s += s >> 16
    return ~s & 0xFFFF
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
sock.settimeout(1.0)
ok = 0
for seq in range(count):
    body = struct.pack("!HH", os.getpid() & 0xFFFF, seq) + b"pybpf-xdp-e2e!!!"
    pkt = struct.pack("!BBH", 8, 0, 0) + body
    pkt = struct.pack("!BBH", 8, 0, csum(pkt)) + body
    sock.sendto(pkt, (dst, 0))
    try:
        while True:
            data, _ = sock.recvfrom(2048)
            if data[20] == 0 and data[24:28] == body[:4]:
                ok += 1
                break
    except socket.timeout:
        pass
sys.exit(0 if ok == count else 1)
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def _ns(ns: str, *args: str) -> None:
    subprocess.run(["ip", "netns", "exec", ns, *args], check=True, capture_output=True, timeout=30)


@contextmanager
def _in_netns(name: str) -> Iterator[None]:
    """Run this thread inside netns ``name`` for the block (setns, then back)."""
    libc = ctypes.CDLL(None, use_errno=True)
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
        try:
            yield
        finally:
            if libc.setns(home, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back")
    finally:
        os.close(home)
        os.close(target)


@pytest.fixture()
def veth_pair() -> Iterator[tuple[str, str, str, str]]:
    """(sender ns, receiver ns, sender address, receiver address); torn down afterwards."""
    tag = uuid.uuid4().hex[:8]
    ns_a, ns_b = f"pybpf-a-{tag}", f"pybpf-b-{tag}"
    net = f"10.{random.randint(64, 250)}.{random.randint(1, 250)}"
    addr_a, addr_b = f"{net}.1", f"{net}.2"
    mac_a, mac_b = "02:00:00:00:00:0a", "02:00:00:00:00:0b"
    try:
        _ip("netns", "add", ns_a)
        _ip("netns", "add", ns_b)
        _ip("link", "add", "va", "netns", ns_a, "address", mac_a, "type", "veth",
            "peer", "name", "vb", "netns", ns_b, "address", mac_b)  # fmt: skip
        for ns, dev, addr, peer, peer_mac in (
            (ns_a, "va", addr_a, addr_b, mac_b),
            (ns_b, "vb", addr_b, addr_a, mac_a),
        ):
            _ns(ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
            _ns(ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
            _ns(ns, "ip", "addr", "add", f"{addr}/24", "dev", dev)
            _ns(ns, "ip", "link", "set", dev, "arp", "off")
            _ns(ns, "ip", "neigh", "add", peer, "lladdr", peer_mac, "dev", dev, "nud", "permanent")
            _ns(ns, "ip", "link", "set", dev, "up")
            _ns(ns, "ip", "link", "set", "lo", "up")
        yield ns_a, ns_b, addr_a, addr_b
    finally:
        for ns in (ns_a, ns_b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)


def test_xdp_srcip_logs_pinger_and_counts(veth_pair: tuple[str, str, str, str]) -> None:
    ns_a, ns_b, addr_a, addr_b = veth_pair
    trace = Path(ensure_tracefs()) / "trace"
    with load(FIXTURES / "xdp_srcip.v3.o", backend="kernel") as obj:
        with _in_netns(ns_b):
            link = obj.programs["xdp_srcip"].attach("vb")  # generic (SKB) mode by default
        try:
            _ns(ns_a, sys.executable, "-c", PING, addr_b, str(PINGS))
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
