"""Kernel differential for the deterministic helpers packet programs can call.

Each case is ONE C-syntax assembled program run through BPF_PROG_TEST_RUN
semantics twice: by the VM and by the running kernel (pybpf.kernel.load_program
+ test_run).  Map references are written ``{map:NAME}``; the VM gets the bound
map's handle in the lddw, the kernel gets ``src=BPF_PSEUDO_MAP_FD, imm=fd``.
retval, data_out and the full contents of every map must be equal.
"""

from __future__ import annotations

import errno
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import pytest

from pybpf import kernel
from pybpf.backends.vm import VmBackend
from pybpf.isa import assemble
from pybpf.kernel.progs import KernelVerifierError
from pybpf.maps import create_map as vm_create_map
from pybpf.progtypes import spec_for
from pybpf.runtime.program import VmProgram
from pybpf.runtime.testrun import test_run as vm_test_run
from pybpf.uapi import MapType, ProgType

pytestmark = pytest.mark.kernel

XDP, TC = ProgType.XDP, ProgType.SCHED_CLS
_SENTINEL = 0x5EED_0000_0000


def _ipv4_udp(payload: bytes = b"pybpf-payload!!!") -> bytes:
    """Ethernet + IPv4 (valid header checksum) + UDP (valid checksum) + payload."""
    src, dst = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    udp_len = 8 + len(payload)
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, 1, 0, 64, 17, 0, src, dst))
    ip[10:12] = _csum(bytes(ip)).to_bytes(2, "big")
    pseudo = src + dst + struct.pack("!BBH", 0, 17, udp_len)
    udp = bytearray(struct.pack("!HHHH", 1234, 53, udp_len, 0) + payload)
    udp[6:8] = (_csum(pseudo + bytes(udp)) or 0xFFFF).to_bytes(2, "big")
    eth = bytes.fromhex("0200000000020200000000010800")
    return eth + bytes(ip) + bytes(udp)


def _csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


UDP4 = _ipv4_udp()
RAW = bytes(range(14, 78))  # 64 bytes, EtherType 0x1a1b: not IP
PACKETS = (UDP4, RAW)


@dataclass
class MapDef:
    map_type: MapType
    key_size: int
    value_size: int
    max_entries: int
    init: dict[bytes, bytes] = field(default_factory=dict)
    flags: int = 0
    freeze: bool = False


@dataclass
class Case:
    name: str
    prog_type: ProgType
    text: str
    maps: dict[str, MapDef] = field(default_factory=dict)
    packets: tuple[bytes, ...] = PACKETS
    #: The kernel checks a constant bpf_snprintf format at load; the VM (no verifier) at run time.
    format_checked_at_load: bool = False


def _assemble(text: str, names: list[str]) -> list:  # type: ignore[type-arg]
    def sub(m: re.Match[str]) -> str:
        names.append(m.group(2)) if m.group(2) not in names else None
        value = 32 if m.group(1) == "mapval" else 0  # bit 5: a pointer to value 0, not the map
        return f"{_SENTINEL + value + names.index(m.group(2))} ll"

    return assemble(re.sub(r"\{(map|mapval):(\w+)\}", sub, text), syntax="c")


def _patch(insns: list, values: dict[int, tuple[int, int]]) -> list:  # type: ignore[type-arg]
    """Replace each sentinel lddw by (src, imm) from ``values`` keyed by map index."""
    out = []
    for insn in insns:
        if insn.is_lddw and _SENTINEL <= insn.imm < _SENTINEL + 64:
            index = insn.imm - _SENTINEL
            src, imm = values[index & 31]
            if index & 32:  # value 0 of the map: VM address / BPF_PSEUDO_MAP_VALUE
                src, imm = (0, imm + values[index & 31 | 64][1]) if src == 0 else (2, imm)
            insn = replace(insn, src=src, imm=imm)
        out.append(insn)
    return out


def _dump(m: object) -> dict[bytes, bytes]:
    keys, key = [], None
    while True:
        try:
            key = m.next_key(key)  # type: ignore[attr-defined]
        except (KeyError, LookupError, OSError):
            break
        if key is None:
            break
        keys.append(bytes(key))
    return {k: bytes(m.lookup(k)) for k in keys}  # type: ignore[attr-defined]


def _run_both(case: Case) -> Iterator[tuple[bytes, object, object, dict, dict]]:  # type: ignore[type-arg]
    names: list[str] = []
    insns = _assemble(case.text, names)
    backend = VmBackend()
    try:
        vm_maps = {}
        k_maps = {}
        for n in names:
            d = case.maps[n]
            vm_maps[n] = vm_create_map(
                d.map_type, d.key_size, d.value_size, d.max_entries, flags=d.flags, name=n
            )
            k_maps[n] = kernel.create_map(
                d.map_type, d.key_size, d.value_size, d.max_entries, flags=d.flags, name=n
            )
            for k, v in d.init.items():
                vm_maps[n].update(k, v)
                k_maps[n].update(k, v)
            if d.freeze:
                vm_maps[n].freeze()
                k_maps[n].freeze()
        vm_values = {i: (0, backend.runtime.bind_map(vm_maps[n], n).handle) for i, n in enumerate(names)}
        for i, n in enumerate(names):
            if case.maps[n].map_type is MapType.ARRAY:
                vm_values[i | 64] = (0, vm_maps[n].value_offset(bytes(4)))
        vm_insns = _patch(insns, vm_values)
        k_insns = _patch(insns, {i: (1, k_maps[n].fd) for i, n in enumerate(names)})
        vm_prog = VmProgram(
            case.name, vm_insns, spec_for(case.prog_type, None), backend.runtime, backend.helpers
        )
        try:
            k_prog = kernel.load_program(k_insns, case.prog_type, name=re.sub(r"\W", "_", case.name)[:15])
        except KernelVerifierError as exc:
            if not (case.format_checked_at_load and "Invalid format string" in str(exc)):
                raise
            k_prog = None  # refused at load: the VM must refuse the same format when it runs
        for pkt in case.packets:
            vm_res = vm_test_run(vm_prog, data_in=pkt)
            k_res = k_prog.test_run(pkt) if k_prog is not None else None
            vm_state = {
                n: _dump(m) for n, m in vm_maps.items() if case.maps[n].map_type is not MapType.DEVMAP
            }
            k_state = {n: _dump(m) for n, m in k_maps.items() if case.maps[n].map_type is not MapType.DEVMAP}
            yield pkt, vm_res, k_res, vm_state, k_state
        if k_prog is not None:
            k_prog.close()
        for m in k_maps.values():
            m.close()
    finally:
        backend.close()


def _compare(case: Case) -> list[int]:
    retvals = []
    for pkt, vm_res, k_res, vm_state, k_state in _run_both(case):
        where = f"{case.name} on {pkt[:16].hex()}..."
        if k_res is None:  # the kernel refused the format at load: bpf_snprintf's -EINVAL, buffer untouched
            assert vm_res.retval == (-errno.EINVAL) & 0xFFFFFFFF, f"{where}: vm accepted a refused format"
            assert vm_res.data_out == bytes(_PRINTF_OUT) + pkt[_PRINTF_OUT:], f"{where}: buffer written"
            retvals.append(vm_res.retval)
            continue
        assert vm_res.retval == k_res.retval, (
            f"{where}: retval vm={vm_res.retval:#x} kernel={k_res.retval:#x}"
        )
        assert vm_res.data_out == k_res.data_out, (
            f"{where}: data_out\nvm={vm_res.data_out.hex()}\nk ={k_res.data_out.hex()}"
        )
        assert vm_state == k_state, f"{where}: maps"
        retvals.append(k_res.retval)
    return retvals


def _xdp_call(helper: str, *args: int | str) -> str:
    """r1 = ctx, r2.. = args; return the helper's r0."""
    regs = "\n".join(f"r{i} = {a}" for i, a in enumerate(args, start=2))
    return f"r6 = r1\n{regs}\ncall bpf_{helper}\nexit"


CASES: list[Case] = []
BPF_F_RDONLY_PROG = 0x80


def _rodata(text: bytes, size: int = 16) -> MapDef:
    """A frozen, program-read-only array holding ``text``: what ARG_PTR_TO_CONST_STR requires."""
    return MapDef(MapType.ARRAY, 4, size, 1, {bytes(4): text.ljust(size, bytes(1))}, BPF_F_RDONLY_PROG, True)


def case(name: str, prog_type: ProgType, text: str, **kw: object) -> None:
    CASES.append(Case(name, prog_type, text, **kw))  # type: ignore[arg-type]


# --- XDP -------------------------------------------------------------------------
for off in (14, -4, -256, -257, 60, 65, 100000):
    case(f"xdp_adjust_head_{off}", XDP, _xdp_call("xdp_adjust_head", off))
for off in (-4, -50, -64, 8, 100000):
    case(f"xdp_adjust_tail_{off}", XDP, _xdp_call("xdp_adjust_tail", off))
for off in (-8, -3, 4, -36, -33):
    case(f"xdp_adjust_meta_{off}", XDP, _xdp_call("xdp_adjust_meta", off))
case("xdp_get_buff_len", XDP, "call bpf_xdp_get_buff_len#188\nexit")
for off, n in ((10, 4), (0, 64), (60, 4), (61, 4), (0, 65)):
    case(
        f"xdp_load_store_{off}_{n}",
        XDP,
        f"""
        r6 = r1
        r2 = {off}
        r3 = r10
        r3 += -128
        r4 = {n}
        call bpf_xdp_load_bytes#189
        if r0 != 0 goto +9
        r1 = *(u32 *)(r10 - 128)
        r1 ^= -1
        *(u32 *)(r10 - 128) = r1
        r1 = r6
        r2 = 0
        r3 = r10
        r3 += -128
        r4 = {n}
        call bpf_xdp_store_bytes#190
        exit
        """,
    )
case(
    "csum_diff",
    XDP,
    """
    r1 = 0x0102030405060708 ll
    *(u64 *)(r10 - 8) = r1
    r1 = 0x0a0b0c0d
    *(u32 *)(r10 - 12) = r1
    r1 = r10
    r1 += -8
    r2 = 8
    r3 = r10
    r3 += -12
    r4 = 4
    r5 = 0x1234
    call bpf_csum_diff#28
    r6 = r0
    r1 = 0
    r2 = 0
    r3 = r10
    r3 += -8
    r4 = 8
    r5 = 0
    call bpf_csum_diff#28
    r0 ^= r6
    exit
    """,
)
case(
    "csum_diff_odd_size",
    XDP,
    "r1 = r10\nr1 += -8\nr2 = 6\nr3 = 0\nr4 = 0\nr5 = 0\n*(u64 *)(r10 - 8) = r2\ncall bpf_csum_diff#28\nexit",
)
for ifindex, flags in ((1, 0), (1, 1)):
    case(f"xdp_redirect_{flags}", XDP, f"r1 = {ifindex}\nr2 = {flags}\ncall bpf_redirect#23\nexit")
for key, flags in ((0, 2), (3, 0), (1, 1)):
    case(
        f"redirect_map_empty_{key}_{flags}",
        XDP,
        f"r1 = {{map:dev}}\nr2 = {key}\nr3 = {flags}\ncall bpf_redirect_map#51\nexit",
        maps={"dev": MapDef(MapType.DEVMAP, 4, 4, 4)},
    )

# --- SCHED_CLS -----------------------------------------------------------------------
SKB_HASH, SKB_VLAN_PRESENT, SKB_VLAN_TCI, SKB_PROTOCOL = 68, 20, 24, 16
for off, n in ((12, 2), (0, 64), (63, 2), (40, 8)):
    case(
        f"skb_load_bytes_{off}_{n}",
        TC,
        f"r2 = {off}\nr3 = r10\nr3 += -64\nr4 = {n}\ncall bpf_skb_load_bytes#26\n"
        f"if r0 != 0 goto +1\nr0 = *(u{min(n, 4) * 8} *)(r10 - 64)\nexit",
    )
for off, hdr in ((0, 0), (9, 1), (0, 1), (60, 0)):
    case(
        f"skb_load_rel_{off}_{hdr}",
        TC,
        f"r2 = {off}\nr3 = r10\nr3 += -8\nr4 = 4\nr5 = {hdr}\ncall bpf_skb_load_bytes_relative#68\n"
        "if r0 != 0 goto +1\nr0 = *(u32 *)(r10 - 8)\nexit",
    )
for flags in (0, 1, 2):  # 0, BPF_F_RECOMPUTE_CSUM, BPF_F_INVALIDATE_HASH
    for off in (26, 62):
        case(
            f"skb_store_{flags}_{off}",
            TC,
            f"r2 = 0x0b0a0908\n*(u32 *)(r10 - 8) = r2\nr2 = {off}\nr3 = r10\nr3 += -8\nr4 = 4\nr5 = {flags}\n"
            "call bpf_skb_store_bytes#9\nexit",
        )
for frm, to, size in ((0x0A000001, 0xC0A80101, 4), (0x4000, 0x0000, 2), (1, 2, 3)):
    case(
        f"l3_csum_{size}",
        TC,
        f"r2 = 24\nr3 = {frm}\nr4 = {to}\nr5 = {size}\ncall bpf_l3_csum_replace#10\nexit",
    )
for flags in (4, 0x14, 0x34, 2):  # size 4, | BPF_F_PSEUDO_HDR, | BPF_F_MARK_MANGLED_0, size 2
    case(
        f"l4_csum_{flags:x}",
        TC,
        f"r2 = 40\nr3 = 0x0100000a\nr4 = 0x0101a8c0\nr5 = {flags}\ncall bpf_l4_csum_replace#11\nexit",
    )
case(
    "vlan_push_pop",
    TC,
    f"""
    r6 = r1
    r2 = 0x81
    r3 = 0x123
    call bpf_skb_vlan_push#18
    r7 = r0
    r8 = *(u32 *)(r6 + {SKB_VLAN_TCI})
    r9 = *(u32 *)(r6 + {SKB_VLAN_PRESENT})
    r1 = r6
    r2 = 0x81
    r3 = 0x456
    call bpf_skb_vlan_push#18
    r1 = r6
    call bpf_skb_vlan_pop#19
    r0 <<= 8
    r0 |= r7
    r8 <<= 16
    r0 |= r8
    r9 <<= 32
    r0 |= r9
    r1 = *(u32 *)(r6 + {SKB_VLAN_TCI})
    r1 <<= 40
    r0 |= r1
    exit
    """,
)
case("vlan_pop_untagged", TC, "call bpf_skb_vlan_pop#19\nexit")
for new_len in (60, 70, 14, 0):
    case(
        f"change_tail_{new_len}",
        TC,
        f"r6 = r1\nr2 = {new_len}\nr3 = 0\ncall bpf_skb_change_tail#38\n"
        "r1 = *(u32 *)(r6 + 0)\nr1 <<= 32\nr0 |= r1\nexit",
    )
for diff, mode, flags in ((8, 0, 0), (-8, 0, 0), (4, 1, 0), (8, 0, 1)):
    case(
        f"adjust_room_{diff}_{mode}_{flags}",
        TC,
        f"r6 = r1\nr2 = {diff}\nr3 = {mode}\nr4 = {flags}\ncall bpf_skb_adjust_room#50\n"
        "r1 = *(u32 *)(r6 + 0)\nr1 <<= 32\nr0 |= r1\nexit",
    )
for n in (0, 14, 64, 200):
    case(f"pull_data_{n}", TC, f"r2 = {n}\ncall bpf_skb_pull_data#39\nexit")
case("csum_update", TC, "r2 = 0x1234\ncall bpf_csum_update#40\nexit")
case(
    "set_hash",
    TC,
    f"""
    r6 = r1
    r2 = 0x1234567
    call bpf_set_hash#48
    r7 = *(u32 *)(r6 + {SKB_HASH})
    r1 = r6
    call bpf_set_hash_invalid#41
    r0 = *(u32 *)(r6 + {SKB_HASH})
    r0 <<= 32
    r0 |= r7
    exit
    """,
)
case("cgroup_classid", TC, "call bpf_get_cgroup_classid#17\nexit")
case("socket_uid", TC, "call bpf_get_socket_uid#47\nexit")

# --- maps, strings, loop (same program under XDP) ---------------------------------
case(
    "map_helpers",
    XDP,
    """
    r6 = r1
    r7 = *(u32 *)(r6 + 4)
    r1 = *(u32 *)(r6 + 0)
    r7 -= r1
    *(u32 *)(r10 - 4) = r7
    *(u64 *)(r10 - 16) = r7
    r1 = {map:h}
    r2 = r10
    r2 += -4
    r3 = r10
    r3 += -16
    r4 = 1
    call bpf_map_update_elem#2
    r8 = r0
    r1 = 1
    *(u32 *)(r10 - 4) = r1
    r1 = {map:a}
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem#1
    if r0 == 0 goto +3
    r1 = *(u64 *)(r0 + 0)
    r1 += r7
    *(u64 *)(r0 + 0) = r1
    r1 = 99
    *(u32 *)(r10 - 4) = r1
    r1 = {map:h}
    r2 = r10
    r2 += -4
    call bpf_map_delete_elem#3
    r0 <<= 8
    r0 |= r8
    exit
    """,
    maps={
        "h": MapDef(
            MapType.HASH, 4, 8, 2, {(99).to_bytes(4, "little"): bytes(8), (5).to_bytes(4, "little"): bytes(8)}
        ),
        "a": MapDef(MapType.ARRAY, 4, 8, 2),
    },
)
for a, b, n in ((b"bash", b"bash", 5), (b"bash", b"bask", 4), (b"ba", b"bash", 3), (b"bz", b"bash", 2)):
    case(
        f"strncmp_{a.decode()}_{b.decode()}_{n}",
        XDP,
        f"""
        r1 = {int.from_bytes(a.ljust(8, bytes(1)), "little")} ll
        *(u64 *)(r10 - 8) = r1
        r1 = r10
        r1 += -8
        r2 = {n}
        r3 = {{mapval:ro}}
        call bpf_strncmp#182
        exit
        """,
        maps={"ro": _rodata(b)},
    )
for size in (64, 8):
    case(
        f"snprintf_{size}",
        XDP,
        f"""
        r6 = r1
        r1 = 0x6b6f
        *(u64 *)(r10 - 24) = r1
        r1 = 0
        *(u64 *)(r10 - 80) = r1
        *(u64 *)(r10 - 72) = r1
        *(u64 *)(r10 - 64) = r1
        *(u64 *)(r10 - 56) = r1
        r1 = -42
        *(u64 *)(r10 - 48) = r1
        r1 = 0xbeef
        *(u64 *)(r10 - 40) = r1
        r1 = r10
        r1 += -24
        *(u64 *)(r10 - 32) = r1
        r1 = r10
        r1 += -80
        r2 = {size}
        r3 = {{mapval:ro}}
        r4 = r10
        r4 += -48
        r5 = 24
        call bpf_snprintf#165
        r7 = r0
        r1 = r6
        r2 = 0
        r3 = r10
        r3 += -80
        r4 = {min(size, 24)}
        call bpf_xdp_store_bytes#190
        r0 <<= 8
        r0 |= r7
        exit
        """,
        maps={"ro": _rodata(b"%d:%x:%s")},
    )


# bpf_snprintf over the kernel's format rules (bpf_bprintf_prepare): each format with its
# arguments, the output buffer stored into the packet, r0 returned.  Arguments: an int,
# "ip" (a pointer to 2001:db8::72:1 on the stack; %pI4 reads its first 4 bytes), "str"
# (a pointer to "pybpf"), "null" (a NULL pointer).
_PRINTF_OUT = 96
PRINTF_CASES: list[tuple[bytes, tuple[int | str, ...]]] = [
    (b"%d %i %u %x %X", (-5, -5, -5, -5, 0xAB)),
    (b"%ld %lld %llu %llx %lx %li %lu", (-1, -2, -3, -4, 255, 7, 8)),
    (b"%5d|%-4d|%05x|%+d|% d", (42, 42, 255, 3, 4)),
    (b"%c%c%3c|%-3c|", (65, 66, 67, 68)),
    (b"%s|%5s|%-7s|", ("str", "str", "str")),
    (b"%.2s", ("str",)),  # no precision anywhere
    (b"%pM", ("ip",)),  # the kernel's bpf_bprintf_prepare has no %pM (only pI4/pi4/pI6/pi6/pks/pus/pB/pK/px)
    (b"%s", ("null",)),
    (b"%pI4 %pi4", ("ip", "ip")),
    (b"%pI6 %pi6", ("ip", "ip")),
    (b"%pks|", ("str",)),  # %pus: the VM has one address space, the kernel's stack is not user memory
    (b"%%|%08llx|%#x|%#o|%o", (0xBEEF, 255, 8, 8)),
    (b"%.3d|%10.4x", (7, 255)),
    (b"%hd", (1,)),
    (b"%d %d", (1,)),
    (b"no conversion", (5,)),
    (b"%d" * 13, tuple(range(13))),
    (b"%n", (0,)),
    (b"%z", (0,)),
    (b"%lc %ls", (65, "str")),
    (b"%p", ("null",)),
]


def _printf_program(args: tuple[int | str, ...]) -> str:
    ip6 = bytes.fromhex("20010db8000000000000000000720001")
    lines = [
        "r6 = r1",
        f"r1 = {int.from_bytes(ip6[:8], 'little')} ll",
        "*(u64 *)(r10 - 16) = r1",
        f"r1 = {int.from_bytes(ip6[8:], 'little')} ll",
        "*(u64 *)(r10 - 8) = r1",
        f"r1 = {int.from_bytes(b'pybpf'.ljust(8, bytes(1)), 'little')} ll",
        "*(u64 *)(r10 - 32) = r1",
        "r1 = 0",
        "*(u64 *)(r10 - 24) = r1",
    ]
    lines += [f"*(u64 *)(r10 - {256 - 8 * i}) = r1" for i in range(_PRINTF_OUT // 8)]  # zero the output
    where = {"ip": -16, "str": -32}
    for i, arg in enumerate(args):
        if arg in where:
            lines += ["r1 = r10", f"r1 += {where[arg]}"]
        else:
            lines.append(f"r1 = {0 if arg == 'null' else arg} ll")
        lines.append(f"*(u64 *)(r10 - {160 - 8 * i}) = r1")
    lines += ["r1 = r10", "r1 += -256", f"r2 = {_PRINTF_OUT}", "r3 = {mapval:ro}"]
    lines += ["r4 = r10", "r4 += -160", f"r5 = {8 * len(args)}"] if args else ["r4 = 0", "r5 = 0"]
    lines += ["call bpf_snprintf#165", "r7 = r0"]
    lines += ["r1 = r6", "r2 = 0", "r3 = r10", "r3 += -256", f"r4 = {_PRINTF_OUT}"]
    lines += ["call bpf_xdp_store_bytes#190", "r0 = r7", "exit"]
    return "\n".join(lines)


for i, (fmt, args) in enumerate(PRINTF_CASES):
    case(
        f"printf_{i}_{re.sub(rb'[^a-z0-9]', b'', fmt).decode()[:12]}",
        XDP,
        _printf_program(args),
        maps={"ro": _rodata(fmt, 64)},
        packets=(bytes(range(128)),),
        format_checked_at_load=True,
    )


# bpf_trace_printk: the format lives on the stack (the kernel checks it when the helper
# runs, not at load), at most three arguments in r3..r5; r0 is the length written or
# -EINVAL.  "ip"/"str" are pointers to the values the snprintf cases use.
PRINTK_CASES: list[tuple[bytes, tuple[int | str, ...]]] = [
    (b"%d %u %x", (-5, -5, 255)),
    (b"%d %d %d %d", (1, 2, 3)),  # four conversions
    (b"%pI4 %s", ("ip", "str")),
    (b"%pI6", ("ip",)),
    (b"%pM", ("ip",)),
    (b"%llx %c", (0xABC, 66)),
    (b"%5d|%-3d|", (7, 8)),
    (b"%.2d", (1,)),
    (b"no args\n", ()),
]


def _printk_program(fmt: bytes, args: tuple[int | str, ...]) -> str:
    raw = fmt + b"\0"
    padded = raw.ljust(-(-len(raw) // 8) * 8, b"\0")
    ip6 = bytes.fromhex("20010db8000000000000000000720001")
    lines = [
        f"r1 = {int.from_bytes(ip6[:8], 'little')} ll",
        "*(u64 *)(r10 - 16) = r1",
        f"r1 = {int.from_bytes(ip6[8:], 'little')} ll",
        "*(u64 *)(r10 - 8) = r1",
        f"r1 = {int.from_bytes(b'pybpf'.ljust(8, bytes(1)), 'little')} ll",
        "*(u64 *)(r10 - 24) = r1",
    ]
    base = 24 + len(padded)
    for i in range(0, len(padded), 8):
        lines += [
            f"r1 = {int.from_bytes(padded[i : i + 8], 'little')} ll",
            f"*(u64 *)(r10 - {base - i}) = r1",
        ]
    where = {"ip": -16, "str": -24}
    for reg, arg in enumerate(args, start=3):
        lines += [f"r{reg} = r10", f"r{reg} += {where[arg]}"] if arg in where else [f"r{reg} = {arg} ll"]
    lines += ["r1 = r10", f"r1 += -{base}", f"r2 = {len(raw)}", "call bpf_trace_printk#6", "exit"]
    return "\n".join(lines)


for i, (fmt, args) in enumerate(PRINTK_CASES):
    case(f"printk_{i}_{re.sub(rb'[^a-z0-9]', b'', fmt).decode()[:12]}", XDP, _printk_program(fmt, args))


@pytest.mark.parametrize("c", CASES, ids=[c.name for c in CASES])
def test_vm_matches_kernel(c: Case):
    _compare(c)


def test_get_hash_recalc_and_socket_cookie_shape():
    """Not bit-equal by design (the kernel seeds its flow hash and cookie counter at boot):
    both runtimes give a stable non-zero flow hash for an IPv4/UDP frame, and the same
    non-zero, per-run-stable socket cookie."""
    prog = Case(
        "hash",
        TC,
        "r6 = r1\ncall bpf_get_hash_recalc#34\nr7 = r0\nr1 = r6\ncall bpf_get_hash_recalc#34\n"
        "if r0 != r7 goto +1\nexit\nr0 = 0\nexit",
    )
    results = [(vm.retval != 0, k.retval != 0) for _, vm, k, _, _ in _run_both(prog)]
    assert results[0] == (True, True)  # IPv4/UDP: a real flow hash, stable across calls
    # (a non-IP frame: the kernel still hashes the empty flow key, the VM returns 0: reported)
    cookie = Case(
        "cookie",
        TC,
        (
            "r6 = r1\ncall bpf_get_socket_cookie#46\nr7 = r0\nr1 = r6\ncall bpf_get_socket_cookie#46\n"
            "if r0 != r7 goto +1\nexit\nr0 = 0\nexit"
        ),
    )
    for _, vm, k, _, _ in _run_both(cookie):
        assert vm.retval != 0 and k.retval != 0  # a cookie on first use, the same on the second call
