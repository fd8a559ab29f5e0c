"""Network namespaces for kernel tests: a veth pair between two namespaces we create.

Addresses come from 10.0.0.0/8 and exist only inside the namespaces; IPv6 is off
and neighbours are static, so the only packets are the ones a test sends (with
:data:`PING`, an ICMP echo client: this machine has no ping binary).
"""

from __future__ import annotations

import ctypes
import os
import random
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

CLONE_NEWNET = 0x40000000

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


def run_in_netns(ns: str, *args: str) -> None:
    subprocess.run(["ip", "netns", "exec", ns, *args], check=True, capture_output=True, timeout=30)


@contextmanager
def in_netns(name: str) -> Iterator[None]:
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


@contextmanager
def netns_veth_pair() -> Iterator[tuple[str, str, str, str]]:
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
            run_in_netns(ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
            run_in_netns(ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
            run_in_netns(ns, "ip", "addr", "add", f"{addr}/24", "dev", dev)
            run_in_netns(ns, "ip", "link", "set", dev, "arp", "off")
            run_in_netns(ns, "ip", "neigh", "add", peer, "lladdr", peer_mac, "dev", dev, "nud", "permanent")
            run_in_netns(ns, "ip", "link", "set", dev, "up")
            run_in_netns(ns, "ip", "link", "set", "lo", "up")
        yield ns_a, ns_b, addr_a, addr_b
    finally:
        for ns in (ns_a, ns_b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
