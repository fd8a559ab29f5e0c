"""Differential: the VM and the kernel run the same packet programs on the same packets.

For every packet-type fixture program, hypothesis (derandomized) generates
Ethernet frames -- IPv4/IPv6 with UDP/TCP headers, plus arbitrary bytes -- and
both backends run them through BPF_PROG_TEST_RUN semantics.  Return value (XDP:
its low 32 bits, as the kernel reports it), data_out and the full contents of
every map must be equal after every packet.

For skb programs both refuse (EINVAL) a frame whose EtherType is IPv4/IPv6 but
which is shorter than 14 + 20 / 14 + 40 bytes (test_vm_refuses_short_l3_like_kernel);
the random comparison leaves those frames to that test.

Not compared: helpers_mix, whose program reads bpf_ktime_get_ns,
bpf_ktime_get_boot_ns, jiffies, bpf_get_prandom_u32 and bpf_get_smp_processor_id
-- values that legitimately differ between the two runtimes.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybpf.errors import BPFError, KernelError
from pybpf.loaded import LoadedObject, load
from pybpf.uapi import ProgType

pytestmark = pytest.mark.kernel

FIXTURES = Path(__file__).resolve().parent / "bpf"
EXAMPLES = int(os.environ.get("PYBPF_DIFF_EXAMPLES", "150"))

PROGRAMS = [
    ("xdp_pass", "xdp_pass"),
    ("xdp_srcip", "xdp_srcip"),
    ("xdp_parse_count", "xdp_parse_count"),
    ("loop_hash", "loop_hash"),
    ("tc_sockfilter", "tc_mark"),
    ("tc_sockfilter", "sock_trunc"),
    ("tc_sockfilter", "sock_ld_abs"),
]

ETH_P_IP, ETH_P_IPV6, ETH_P_ARP = 0x0800, 0x86DD, 0x0806
IPPROTO_TCP, IPPROTO_UDP = 6, 17


@st.composite
def l4(draw: st.DrawFn, proto: int) -> bytes:
    payload = draw(st.binary(max_size=64))
    sport, dport = (
        draw(st.integers(0, 0xFFFF)),
        draw(st.sampled_from([53, 80, 443, 4789, draw(st.integers(0, 0xFFFF))])),
    )
    if proto == IPPROTO_UDP:
        return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    if proto == IPPROTO_TCP:
        seq, ack = draw(st.integers(0, 2**32 - 1)), draw(st.integers(0, 2**32 - 1))
        flags = draw(st.integers(0, 0x3F))
        return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 1024, 0, 0) + payload
    return payload


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    dst, src = draw(st.binary(min_size=6, max_size=6)), draw(st.binary(min_size=6, max_size=6))
    kind = draw(st.sampled_from(["ipv4", "ipv6", "raw", "raw"]))
    if kind == "raw":
        ethertype = draw(st.sampled_from([ETH_P_IP, ETH_P_IPV6, ETH_P_ARP, draw(st.integers(0, 0xFFFF))]))
        body = draw(st.binary(max_size=200))
    else:
        proto = draw(st.sampled_from([IPPROTO_UDP, IPPROTO_TCP, 1, draw(st.integers(0, 255))]))
        payload = draw(l4(proto))
        if kind == "ipv4":
            ethertype = ETH_P_IP
            ihl = draw(st.sampled_from([5, 5, 5, 6, draw(st.integers(0, 15))]))
            options = bytes(max(0, ihl - 5) * 4)
            ident = draw(st.integers(0, 0xFFFF))
            frag = draw(st.sampled_from([0, 0x4000, 0x2000, 0x0001]))
            saddr, daddr = draw(st.binary(min_size=4, max_size=4)), draw(st.binary(min_size=4, max_size=4))
            total = 20 + len(options) + len(payload)
            header = struct.pack(
                "!BBHHHBBH4s4s", (4 << 4) | ihl, 0, total, ident, frag, 64, proto, 0, saddr, daddr
            )
            body = header + options + payload
        else:
            ethertype = ETH_P_IPV6
            saddr, daddr = (
                draw(st.binary(min_size=16, max_size=16)),
                draw(st.binary(min_size=16, max_size=16)),
            )
            header = struct.pack("!IHBB16s16s", 6 << 28, len(payload), proto, 64, saddr, daddr)
            body = header + payload
        cut = draw(st.integers(0, len(body)))
        body = body[:cut] if draw(st.booleans()) and draw(st.booleans()) else body
    frame = dst + src + struct.pack("!H", ethertype) + body
    return frame.ljust(14, b"\0")


def _kernel_refuses_short_l3(frame: bytes) -> bool:
    """skb test_run: the kernel wants the whole IPv4/IPv6 header when the EtherType says so."""
    ethertype = int.from_bytes(frame[12:14], "big")
    need = {ETH_P_IP: 20, ETH_P_IPV6: 40}.get(ethertype, 0)
    return len(frame) - 14 < need


def _contents(bpf_map: object) -> dict[bytes, bytes]:
    out: dict[bytes, bytes] = {}
    key = bpf_map.next_key(None)  # type: ignore[attr-defined]
    while key is not None:
        out[bytes(key)] = bytes(bpf_map.lookup(key))  # type: ignore[attr-defined]
        key = bpf_map.next_key(key)  # type: ignore[attr-defined]
    return out


CASES = [(f, p, v) for f, p in PROGRAMS for v in ("v1", "v3", "v4")]


@pytest.fixture(params=CASES, ids=[f"{f}.{v}:{p}" for f, p, v in CASES])
def pair(request: pytest.FixtureRequest) -> Iterator[tuple[str, LoadedObject, LoadedObject]]:
    fixture, program, version = request.param
    path = FIXTURES / f"{fixture}.{version}.o"
    with load(path, backend="kernel", programs=[program]) as kobj, load(path, programs=[program]) as vobj:
        yield program, kobj, vobj


def test_vm_matches_kernel(pair: tuple[str, LoadedObject, LoadedObject]) -> None:
    name, kobj, vobj = pair
    kprog, vprog = kobj.programs[name], vobj.programs[name]
    skb = kprog.spec.prog_type != ProgType.XDP
    map_names = sorted(vobj.maps)
    assert map_names == sorted(n for n in kobj.maps if n in vobj.maps)
    seen = [0]

    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(frame=frames())
    def check(frame: bytes) -> None:
        seen[0] += 1
        if skb and _kernel_refuses_short_l3(frame):
            return
        k = kprog.test_run(data_in=frame)
        v = vprog.test_run(data_in=frame)
        assert (v.retval & 0xFFFFFFFF, v.data_out) == (k.retval, k.data_out), frame.hex()
        for map_name in map_names:
            assert _contents(vobj.maps[map_name]) == _contents(kobj.maps[map_name]), (map_name, frame.hex())

    check()
    assert seen[0] >= EXAMPLES


@pytest.mark.parametrize("ethertype,length", [(ETH_P_IP, 33), (ETH_P_IPV6, 53)])
def test_vm_refuses_short_l3_like_kernel(ethertype: int, length: int) -> None:
    frame = (bytes(12) + struct.pack("!H", ethertype)).ljust(length, b"\x45")
    path = FIXTURES / "tc_sockfilter.v3.o"
    with load(path, backend="kernel", programs=["sock_trunc"]) as kobj, pytest.raises(KernelError):
        kobj.programs["sock_trunc"].test_run(data_in=frame)
    with load(path, programs=["sock_trunc"]) as vobj, pytest.raises(BPFError):
        vobj.programs["sock_trunc"].test_run(data_in=frame)
