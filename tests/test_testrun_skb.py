"""BPF_PROG_TEST_RUN for sk_buff program types, and the skb packet helpers."""

from __future__ import annotations

import errno
import socket
import struct

import dpkt
import pytest

from progtype_util import program
from pybpf.progtypes.skb import TC_SKB
from pybpf.runtime.testrun import TestRunError
from pybpf.runtime.testrun import test_run as run_test
from pybpf.uapi import ProgType


def udp_frame(payload: bytes = b"hello", dst: str = "10.0.0.2") -> bytes:
    udp = dpkt.udp.UDP(sport=1234, dport=53, data=payload)
    ip = dpkt.ip.IP(src=socket.inet_aton("10.0.0.1"), dst=socket.inet_aton(dst), p=17, data=udp)
    ip.len = 20 + len(bytes(udp))
    eth = dpkt.ethernet.Ethernet(dst=b"\x02" * 6, src=b"\x04" * 6, type=0x0800, data=ip)
    return bytes(eth)


FRAME = udp_frame()
LEN_PROTO = """
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 16)
r3 <<= 16
r0 = r2
r0 |= r3
exit
"""


def off(name: str) -> int:
    return TC_SKB.field(name).offset


def test_tc_sees_ethernet_header_and_protocol():
    res = run_test(program(LEN_PROTO, ProgType.SCHED_CLS), data_in=FRAME)
    assert res.retval & 0xFFFF == len(FRAME)
    assert res.retval >> 16 == 0x0008  # bpf_htons(ETH_P_IP) as the program reads it
    assert res.data_out == FRAME


def test_socket_filter_starts_at_network_header():
    res = run_test(program(LEN_PROTO, ProgType.SOCKET_FILTER), data_in=FRAME)
    assert res.retval & 0xFFFF == len(FRAME) - 14
    assert res.data_out == bytes(14) + FRAME[14:]
    ld_abs = program("r0 = *(u8 *)skb[9]\nexit", ProgType.SOCKET_FILTER)
    assert run_test(ld_abs, data_in=FRAME).retval == 17  # IPPROTO_UDP at offset 9 of the IP header
    out_of_bounds = program("r0 = *(u32 *)skb[4000]\nr0 = 5\nexit", ProgType.SOCKET_FILTER)
    assert run_test(out_of_bounds, data_in=FRAME).retval == 0


def test_cgroup_skb_direct_packet_access():
    prog = program(
        """
        r2 = *(u32 *)(r1 + 76)
        r3 = *(u32 *)(r1 + 80)
        r4 = r2
        r4 += 20
        if r4 > r3 goto +4
        r0 = *(u8 *)(r2 + 9)
        if r0 != 17 goto +2
        r0 = 1
        exit
        r0 = 0
        exit
        """,
        ProgType.CGROUP_SKB,
    )
    assert run_test(prog, data_in=FRAME).retval == 1  # the IPv4 header's protocol byte is UDP


def test_ctx_in_and_ctx_out():
    prog = program(
        """
        r2 = *(u32 *)(r1 + 8)
        r2 += 1
        *(u32 *)(r1 + 8) = r2
        r3 = 77
        *(u32 *)(r1 + 48) = r3
        r0 = *(u32 *)(r1 + 32)
        exit
        """,
        ProgType.SCHED_CLS,
    )
    ctx = bytearray(192)
    struct.pack_into("<I", ctx, off("mark"), 41)
    struct.pack_into("<I", ctx, off("priority"), 6)
    res = run_test(prog, data_in=FRAME, ctx_in=bytes(ctx))
    assert res.retval == 6
    assert struct.unpack_from("<I", res.ctx_out, off("mark"))[0] == 42
    assert struct.unpack_from("<I", res.ctx_out, off("cb"))[0] == 77
    assert struct.unpack_from("<I", res.ctx_out, off("ifindex"))[0] == 1  # loopback
    assert struct.unpack_from("<I", res.ctx_out, off("wire_len"))[0] == len(FRAME)


@pytest.mark.parametrize(
    ("field", "value", "err"),
    [
        ("len", 5, errno.EINVAL),
        ("protocol", 8, errno.EINVAL),
        ("ifindex", 999999, errno.ENODEV),
        ("wire_len", 3, errno.EINVAL),
        ("gso_segs", 70000, errno.EINVAL),
    ],
)
def test_ctx_in_rejections(field, value, err):
    ctx = bytearray(192)
    struct.pack_into("<I", ctx, off(field), value)
    with pytest.raises(TestRunError) as info:
        run_test(program(LEN_PROTO, ProgType.SCHED_CLS), data_in=FRAME, ctx_in=bytes(ctx))
    assert info.value.errno == err


def test_short_packet_and_bad_flags():
    prog = program(LEN_PROTO, ProgType.SCHED_CLS)
    with pytest.raises(TestRunError):
        run_test(prog, data_in=bytes(13))
    with pytest.raises(TestRunError):
        run_test(prog, data_in=FRAME, flags=1)


def test_store_bytes_then_l3_and_l4_csum_replace_keep_checksums_valid():
    new_dst = socket.inet_aton("192.168.1.9")
    old_dst = socket.inet_aton("10.0.0.2")
    old_v = int.from_bytes(old_dst, "little")
    new_v = int.from_bytes(new_dst, "little")
    prog = program(
        f"""
        r6 = r1
        r1 = {new_v}
        *(u32 *)(r10 - 4) = r1
        r1 = r6
        r2 = 30
        r3 = r10
        r3 += -4
        r4 = 4
        r5 = 0
        call 9
        r1 = r6
        r2 = 24
        r3 = {old_v}
        r4 = {new_v}
        r5 = 4
        call 10
        r1 = r6
        r2 = 40
        r3 = {old_v}
        r4 = {new_v}
        r5 = 0x14
        call 11
        r0 = 0
        exit
        """,
        ProgType.SCHED_CLS,
    )
    frame = udp_frame()
    ip_before = dpkt.ethernet.Ethernet(frame).data
    assert ip_before.data.sum != 0
    res = run_test(prog, data_in=frame)
    ip = dpkt.ethernet.Ethernet(res.data_out).data
    assert ip.dst == new_dst
    want = dpkt.ethernet.Ethernet(udp_frame(dst="192.168.1.9")).data
    assert ip.sum == want.sum
    assert ip.data.sum == want.data.sum


def test_change_tail_and_adjust_room():
    grow = program("r2 = 100\nr3 = 0\ncall 38\nr0 = *(u32 *)(r1 + 0)\nexit", ProgType.SCHED_CLS)
    res = run_test(grow, data_in=FRAME)
    assert res.retval == 100 and res.data_out == FRAME + bytes(100 - len(FRAME))
    room = program("r2 = 8\nr3 = 1\nr4 = 0\ncall 50\nr0 = *(u32 *)(r1 + 0)\nexit", ProgType.SCHED_CLS)
    res = run_test(room, data_in=FRAME)
    assert res.retval == len(FRAME) + 8
    assert res.data_out == FRAME[:14] + bytes(8) + FRAME[14:]
    shrink = program("r2 = -8\nr3 = 0\nr4 = 0\ncall 50\nexit", ProgType.SCHED_CLS)
    res = run_test(shrink, data_in=FRAME)
    assert res.retval == 0 and res.data_out == FRAME[:34] + FRAME[42:]


def test_vlan_push_pop_and_hash():
    push = program(
        """
        r6 = r1
        r2 = 0x81
        r3 = 5
        call 18
        r0 = *(u32 *)(r6 + 24)
        r1 = *(u32 *)(r6 + 20)
        r1 <<= 16
        r0 |= r1
        exit
        """,
        ProgType.SCHED_CLS,
    )
    res = run_test(push, data_in=FRAME)
    assert res.retval == (1 << 16) | 5  # the tag sits in skb metadata, not in the packet
    assert res.data_out == FRAME
    double = program(
        "r6 = r1\nr2 = 0x81\nr3 = 5\ncall 18\nr1 = r6\nr2 = 0x81\nr3 = 6\ncall 18\nexit", ProgType.SCHED_CLS
    )
    res = run_test(double, data_in=FRAME)
    assert res.data_out == FRAME[:12] + b"\x81\x00\x00\x05" + FRAME[12:]
    pop = program("call 19\nr0 = 0\nexit", ProgType.SCHED_CLS)
    tagged = FRAME[:12] + b"\x81\x00\x00\x05" + FRAME[12:]
    assert run_test(pop, data_in=tagged).data_out == FRAME
    hashed = program("call 34\nexit", ProgType.SCHED_CLS)
    assert run_test(hashed, data_in=FRAME).retval != 0


def test_load_bytes_and_relative():
    prog = program(
        """
        r6 = r1
        r2 = 0
        r3 = r10
        r3 += -8
        r4 = 4
        r5 = 1
        call 68
        r0 = *(u8 *)(r10 - 8)
        exit
        """,
        ProgType.SOCKET_FILTER,
    )
    assert run_test(prog, data_in=FRAME).retval == 0x45  # version/IHL of the IP header
    past_end = program("r2 = 4000\nr3 = r10\nr3 += -8\nr4 = 4\ncall 26\nexit", ProgType.SCHED_CLS)
    assert run_test(past_end, data_in=FRAME).retval == (-errno.EFAULT) & 0xFFFFFFFF


def test_redirect_verdicts():
    tc = program("r1 = 3\nr2 = 0\ncall 23\nexit", ProgType.SCHED_CLS)
    assert run_test(tc, data_in=FRAME).retval == 7  # TC_ACT_REDIRECT
    tc_bad = program("r1 = 3\nr2 = 8\ncall 23\nexit", ProgType.SCHED_CLS)
    assert run_test(tc_bad, data_in=FRAME).retval == 2  # TC_ACT_SHOT
    xdp = program("r1 = 3\nr2 = 0\ncall 23\nexit", ProgType.XDP)
    assert run_test(xdp, data_in=FRAME).retval == 4  # XDP_REDIRECT


@pytest.mark.kernel
@pytest.mark.parametrize(
    "prog_type", [ProgType.SCHED_CLS, ProgType.SOCKET_FILTER, ProgType.CGROUP_SKB, ProgType.SCHED_ACT]
)
def test_every_ctx_in_member_is_accepted_or_refused_as_the_kernel_does(prog_type):
    """Set each __sk_buff member (value 1, then 3) in ctx_in; the kernel's answer decides."""
    from pybpf import kernel
    from pybpf.errors import KernelError
    from pybpf.isa import assemble

    def outcome(run):
        try:
            res = run()
        except KernelError as exc:
            return ("errno", exc.errno)
        return ("ok", res.retval, res.ctx_out)

    # a cgroup skb program must return 0 or 1 (the verifier checks); it reads len and allows
    text = "r2 = *(u32 *)(r1 + 0)\nr0 = 1\nexit" if prog_type is ProgType.CGROUP_SKB else LEN_PROTO
    kprog = kernel.load_program(assemble(text, syntax="c"), prog_type)
    vprog = program(text, prog_type)
    try:
        for member in TC_SKB.fields:
            for value in (1, 3):
                ctx = bytearray(192)
                ctx[member.offset] = value
                k = outcome(lambda c=bytes(ctx): kprog.test_run(FRAME, c, ctx_size_out=192))
                vm = outcome(lambda c=bytes(ctx): run_test(vprog, data_in=FRAME, ctx_in=c))
                assert vm == k, f"__sk_buff.{member.name} = {value}"
    finally:
        kprog.close()


@pytest.mark.kernel
@pytest.mark.parametrize(("attach", "ret"), [(0, 1), (0, 2), (1, 3), (1, 4)])  # INGRESS=0, EGRESS=1
def test_cgroup_skb_return_range_as_the_verifier_sets_it(attach, ret):
    """[0, 1] for ingress, [0, 3] for egress (congestion notification); outside: refused."""
    from pybpf import kernel
    from pybpf.errors import BPFError, VerifierError
    from pybpf.isa import assemble
    from pybpf.progtypes import spec_for
    from pybpf.runtime.program import VmProgram
    from pybpf.uapi import AttachType

    text = f"r0 = {ret}\nexit"
    try:
        kernel.load_program(
            assemble(text, syntax="c"), ProgType.CGROUP_SKB, expected_attach_type=attach
        ).close()
        kernel_ok = True
    except BPFError:
        kernel_ok = False
    rt = program("r0 = 0\nexit", ProgType.CGROUP_SKB).runtime
    from progtype_util import REGISTRY

    vm = VmProgram(
        "ret", assemble(text, syntax="c"), spec_for(ProgType.CGROUP_SKB, AttachType(attach)), rt, REGISTRY
    )
    try:
        vm_ok = run_test(vm, data_in=FRAME).retval == ret
    except VerifierError as exc:
        assert "should have been in" in str(exc)
        vm_ok = False
    assert vm_ok == kernel_ok
