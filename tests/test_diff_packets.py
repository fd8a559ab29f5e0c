"""Differential: the VM and the kernel run every packet program on the same packets.

Every program of every fixture whose type takes a packet in BPF_PROG_TEST_RUN
(XDP, socket filter, tc/sched_cls, sched_act, cgroup_skb) is compared, in all
three builds (-mcpu v1, v3, v4): the set is derived from the fixtures, so a new
fixture is compared without editing this file (``test_every_packet_program_is_compared``).

For each program, hypothesis (derandomized, no database) generates Ethernet
frames -- IPv4/IPv6 with UDP/TCP headers, truncated headers, arbitrary bytes --
and each frame runs through the three builds in both backends.  After every
run these must be equal:

* the outcome: retval (XDP: its low 32 bits, as the kernel reports it) and
  data_out, or the same refusal (the kernel refuses e.g. an skb frame shorter
  than the L3 header its EtherType announces, and any test run of an XDP
  devmap/cpumap program);
* the contents of every map: keyed maps element by element (per-CPU maps per
  CPU, the process pinned to CPU 0 so the kernel runs there as the VM does);
  program arrays and maps of maps by the name of the program / map each slot
  holds (ids differ between backends); queues and stacks by popping everything
  and pushing it back; bloom filters by membership of probe values; ring
  buffers and perf event arrays by the records a reader drains after the run.

The number of frames each program actually ran (not the setting) is counted
and must reach ``EXAMPLES`` -- 1000 by default, as CI runs it.

Not compared, each for a stated reason (asserted by the tests below):

* ``helpers_mix``: reads bpf_ktime_get_ns, bpf_get_prandom_u32 and friends,
  values that legitimately differ between the runtimes;
* ``twice``: a global function in an ``xdp`` section; its argument is an
  ``int``, so the "context" it doubles is a pointer value;
* the ``ksym_addr`` bytes of ``globals``: the address of ``_stext``, which only
  the kernel has (the VM resolves the weak ksym to 0);
* lwt_*, sk_skb and flow_dissector programs: the VM has no context model for
  them, and says so (``test_vm_refuses_types_it_cannot_model``).
"""

from __future__ import annotations

import contextlib
import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybpf.errors import BPFError, KernelError, NotSupportedError
from pybpf.kernel.maps import KernelMap
from pybpf.kernel.pin import ensure_bpffs
from pybpf.loaded import LoadedObject, load
from pybpf.object.spec import ObjectSpec
from pybpf.readers import PerfBuffer, RingBuffer
from pybpf.uapi import MapType, ProgType

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

FIXTURES = Path(__file__).resolve().parent / "bpf"
EXAMPLES = int(os.environ.get("PYBPF_DIFF_EXAMPLES", "1000"))
BUILDS = ("v1", "v3", "v4")

PACKET_TYPES = frozenset(
    {ProgType.XDP, ProgType.SOCKET_FILTER, ProgType.SCHED_CLS, ProgType.SCHED_ACT, ProgType.CGROUP_SKB}
)
VM_CANNOT_MODEL = frozenset(
    {
        ProgType.LWT_IN,
        ProgType.LWT_OUT,
        ProgType.LWT_XMIT,
        ProgType.LWT_SEG6LOCAL,
        ProgType.SK_SKB,
        ProgType.FLOW_DISSECTOR,
    }
)
NOT_COMPARED = {
    ("helpers_mix", "helpers_mix"): "reads clocks, random numbers and the CPU id",
    ("subprog_in_section", "twice"): "takes an int, not a context: doubles a pointer value",
}
# (fixture, global variable): bytes that legitimately differ, masked before comparing.
MASKED_GLOBALS = {("globals", "ksym_addr"): "address of _stext: only the kernel has one"}
BLOOM_PROBES = [struct.pack("<I", v) for v in range(16)]


def packet_programs() -> list[tuple[str, str]]:
    """(fixture, program) for every program of a packet type in the committed fixtures."""
    out = []
    for path in sorted(FIXTURES.glob("*.v3.o")):
        fixture = path.name.removesuffix(".v3.o")
        for name, prog in ObjectSpec.from_file(path).programs.items():
            if prog.prog_type in PACKET_TYPES and (fixture, name) not in NOT_COMPARED:
                out.append((fixture, name))
    return out


PROGRAMS = packet_programs()

ETH_P_IP, ETH_P_IPV6, ETH_P_ARP = 0x0800, 0x86DD, 0x0806
IPPROTO_TCP, IPPROTO_UDP = 6, 17


@st.composite
def l4(draw: st.DrawFn, proto: int) -> bytes:
    payload = draw(st.binary(max_size=64))
    sport, dport = (
        draw(st.integers(0, 0xFFFF)),
        draw(st.sampled_from([53, 80, 443, 4789, 9, draw(st.integers(0, 0xFFFF))])),
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


# -- one backend's view of an object -----------------------------------------------------


@dataclass
class Side:
    """One loaded object plus readers, able to take a backend-neutral snapshot of its maps."""

    obj: LoadedObject
    records: list[tuple[str, Any]] = field(default_factory=list)
    readers: list[Any] = field(default_factory=list)
    masks: list[tuple[str, int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        fixture = (self.obj.spec.name or "").split(".")[0]
        for (fx, var_name), _why in MASKED_GLOBALS.items():
            var = self.obj.spec.variables.get(var_name)
            if fx == fixture and var is not None:
                self.masks.append((var.map_name, var.offset, var.size))
        for name, bpf_map in self.obj.maps.items():
            mtype = MapType(int(bpf_map.map_type))
            if mtype == MapType.RINGBUF:
                self.readers.append(RingBuffer(bpf_map, self._collector(name)))
            elif mtype == MapType.PERF_EVENT_ARRAY:
                self.readers.append(PerfBuffer(bpf_map, self._perf_collector(name)))

    def _collector(self, name: str) -> Callable[[bytes], None]:
        return lambda data: self.records.append((name, bytes(data)))

    def _perf_collector(self, name: str) -> Callable[[int, bytes], None]:
        return lambda cpu, data: self.records.append((name, (cpu, bytes(data))))

    def names_by_id(self) -> tuple[dict[int, str], dict[int, str]]:
        progs = {p.handle.id: n for n, p in self.obj.programs.items()}
        maps = {getattr(m, "raw", m).id: n for n, m in self.obj.maps.items()}
        return progs, maps

    def run(self, program: str, frame: bytes) -> tuple[Any, ...]:
        try:
            res = self.obj.programs[program].test_run(data_in=frame)
        except (KernelError, BPFError) as exc:
            return ("refused", getattr(exc, "errno", None))
        return (res.retval & 0xFFFFFFFF, res.data_out)

    def drain(self) -> list[tuple[str, Any]]:
        for reader in self.readers:
            reader.consume()
        out, self.records[:] = list(self.records), []
        return out

    def snapshot(self) -> dict[str, Any]:
        progs, maps = self.names_by_id()
        out: dict[str, Any] = {}
        for name, bpf_map in self.obj.maps.items():
            mtype = MapType(int(bpf_map.map_type))
            if mtype in (MapType.RINGBUF, MapType.PERF_EVENT_ARRAY):
                continue  # compared through the records drained by the readers
            if mtype in (MapType.QUEUE, MapType.STACK):
                out[name] = _pop_and_restore(bpf_map, stack=mtype == MapType.STACK)
            elif mtype == MapType.BLOOM_FILTER:
                out[name] = [_bloom_has(bpf_map, v) for v in BLOOM_PROBES]
            else:
                contents = _contents(bpf_map)
                names = {MapType.PROG_ARRAY: progs, MapType.ARRAY_OF_MAPS: maps, MapType.HASH_OF_MAPS: maps}
                if mtype in names:
                    by_id = names[mtype]
                    out[name] = {
                        k: by_id.get(int.from_bytes(v[:4], "little"), "?") for k, v in contents.items()
                    }
                else:
                    out[name] = contents
        for map_name, offset, size in self.masks:
            value = bytearray(out[map_name][bytes(4)])
            value[offset : offset + size] = bytes(size)
            out[map_name][bytes(4)] = bytes(value)
        return out

    def close(self) -> None:
        for reader in self.readers:
            reader.close()


_BATCHED = frozenset({MapType.ARRAY, MapType.HASH, MapType.PERCPU_ARRAY, MapType.PERCPU_HASH})


def _contents(bpf_map: Any) -> dict[bytes, bytes]:
    """Every key and its value; an empty slot of a program array / map of maps is left out."""
    raw = getattr(bpf_map, "raw", bpf_map)
    if isinstance(raw, KernelMap) and MapType(int(raw.map_type)) in _BATCHED:
        return dict(raw.lookup_all(chunk=max(raw.max_entries, 1)))  # one bpf(2) call
    out: dict[bytes, bytes] = {}
    key = bpf_map.next_key(None)
    while key is not None:
        with contextlib.suppress(KeyError):
            out[bytes(key)] = bytes(bpf_map.lookup(key))
        key = bpf_map.next_key(key)
    return out


def _u32(value: bytes) -> int:
    return int.from_bytes(value[:4], "little")


def _pop_and_restore(bpf_map: Any, *, stack: bool) -> list[bytes]:
    """Everything in a queue (oldest first) or stack (top first), left as it was."""
    items: list[bytes] = []
    while True:
        try:
            items.append(bytes(bpf_map.pop()))
        except KeyError:
            break
    for value in reversed(items) if stack else items:
        bpf_map.push(value)
    return items


def _bloom_has(bpf_map: Any, value: bytes) -> bool:
    check = getattr(bpf_map, "contains_value", None) or bpf_map.contains
    return bool(check(value))


# -- the comparison --------------------------------------------------------------------


@pytest.fixture
def on_cpu0() -> Iterator[None]:
    """Run on CPU 0, where the VM's per-CPU maps and current-CPU perf output go."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {0})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


@pytest.fixture
def pin_dirs() -> Iterator[dict[str, str]]:
    """A private bpffs directory per build for maps pinned by name (the kernel's would be shared)."""
    ensure_bpffs()
    dirs = {b: f"/sys/fs/bpf/pybpf_i5_diff_{os.getpid()}_{b}" for b in BUILDS}
    for path in dirs.values():
        os.makedirs(path, exist_ok=True)
    try:
        yield dirs
    finally:
        for path in dirs.values():
            for name in os.listdir(path):
                os.unlink(os.path.join(path, name))
            os.rmdir(path)


@pytest.mark.parametrize(("fixture", "program"), PROGRAMS, ids=[f"{f}:{p}" for f, p in PROGRAMS])
def test_vm_matches_kernel(fixture: str, program: str, on_cpu0: None, pin_dirs: dict[str, str]) -> None:
    pairs: list[tuple[str, Side, Side]] = []
    try:
        for build in BUILDS:
            path = FIXTURES / f"{fixture}.{build}.o"
            kernel = Side(load(path, backend="kernel", programs=[program], pin_root=pin_dirs[build]))
            pairs.append((build, kernel, Side(load(path, programs=[program]))))
        for build, kernel, vm in pairs:
            assert sorted(vm.obj.maps) == sorted(kernel.obj.maps), build
            assert vm.snapshot() == kernel.snapshot(), f"{build}: maps differ after loading"
        runs = dict.fromkeys(BUILDS, 0)

        @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(frame=frames())
        def check(frame: bytes) -> None:
            for build, kernel, vm in pairs:
                k_out, v_out = kernel.run(program, frame), vm.run(program, frame)
                runs[build] += 1
                assert v_out == k_out, (build, frame.hex())
                assert vm.drain() == kernel.drain(), (build, "records", frame.hex())
                assert vm.snapshot() == kernel.snapshot(), (build, "maps", frame.hex())

        check()
    finally:
        for _, kernel, vm in pairs:
            for side in (kernel, vm):
                side.close()
                side.obj.close()
    assert min(runs.values()) >= EXAMPLES, runs


def test_every_packet_program_is_compared() -> None:
    """The compared set is every packet program of every fixture but the listed exceptions."""
    compared = set(PROGRAMS)
    for fixture, name in NOT_COMPARED:
        assert name in ObjectSpec.from_file(FIXTURES / f"{fixture}.v3.o").programs
    assert {("xdp_parse_count", "xdp_parse_count"), ("tc_sockfilter", "sock_ld_abs")} <= compared
    assert {f for f, _ in compared} >= {
        "alu", "atomics", "globals", "maps_btf", "maps_legacy", "subprogs", "xdp_srcip", "loop_hash",
    }  # fmt: skip
    assert len(compared) >= 35


def test_vm_refuses_types_it_cannot_model() -> None:
    """lwt/sk_skb/flow_dissector programs load in the kernel but the VM refuses them, typed."""
    spec = ObjectSpec.from_file(FIXTURES / "sections.v3.o")
    names = [n for n, p in spec.programs.items() if p.prog_type in VM_CANNOT_MODEL]
    assert len(names) >= 6
    for name in names:
        with load(spec, backend="kernel", programs=[name]) as kobj:
            assert kobj.programs[name].handle.fd >= 0
        with pytest.raises(NotSupportedError, match="no context model"):
            load(spec, programs=[name])


@pytest.mark.parametrize("ethertype,length", [(ETH_P_IP, 33), (ETH_P_IPV6, 53)])
def test_vm_refuses_short_l3_like_kernel(ethertype: int, length: int) -> None:
    frame = (bytes(12) + struct.pack("!H", ethertype)).ljust(length, b"\x45")
    path = FIXTURES / "tc_sockfilter.v3.o"
    with load(path, backend="kernel", programs=["sock_trunc"]) as kobj, pytest.raises(KernelError):
        kobj.programs["sock_trunc"].test_run(data_in=frame)
    with load(path, programs=["sock_trunc"]) as vobj, pytest.raises(BPFError):
        vobj.programs["sock_trunc"].test_run(data_in=frame)
