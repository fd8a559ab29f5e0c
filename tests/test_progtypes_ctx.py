"""Context layouts (checked against clang's offsetof), return codes, and load-time ctx rewriting."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from pybpf.errors import NotSupportedError, VerifierError
from pybpf.isa import Instruction, assemble
from pybpf.isa.opcodes import Size
from pybpf.progtypes import spec_for
from pybpf.progtypes.ctx_rewrite import check_ctx_access, rewrite_ctx_access
from pybpf.progtypes.skb import SK_BUFF_SIZE, TC_SKB
from pybpf.progtypes.tracing import PT_REGS, PT_REGS_NAMES
from pybpf.progtypes.xdp import XDP_MD
from pybpf.uapi import ProgType

_C = r"""
#include <linux/bpf.h>
#include <stddef.h>
#include <stdio.h>
#include <asm/ptrace.h>
#define S(s, f) printf("%s.%s %zu %zu\n", #s, #f, offsetof(struct s, f), sizeof(((struct s *)0)->f));
int main(void) {
  S(xdp_md, data) S(xdp_md, data_end) S(xdp_md, data_meta) S(xdp_md, ingress_ifindex)
  S(xdp_md, rx_queue_index) S(xdp_md, egress_ifindex)
  S(__sk_buff, len) S(__sk_buff, mark) S(__sk_buff, protocol) S(__sk_buff, cb) S(__sk_buff, data)
  S(__sk_buff, data_end) S(__sk_buff, data_meta) S(__sk_buff, remote_ip6) S(__sk_buff, local_port)
  S(__sk_buff, tstamp) S(__sk_buff, wire_len) S(__sk_buff, sk) S(__sk_buff, gso_size) S(__sk_buff, hwtstamp)
  S(pt_regs, rdi) S(pt_regs, rsi) S(pt_regs, orig_rax) S(pt_regs, ss)
  printf("sizeof __sk_buff %zu\nsizeof xdp_md %zu\nsizeof pt_regs %zu\n",
         sizeof(struct __sk_buff), sizeof(struct xdp_md), sizeof(struct pt_regs));
  return 0;
}
"""


@pytest.mark.skipif(shutil.which("clang-19") is None, reason="needs clang-19 to read the UAPI headers")
def test_layouts_match_uapi_headers(tmp_path):
    src = tmp_path / "off.c"
    src.write_text(_C)
    exe = tmp_path / "off"
    subprocess.run(["clang-19", "-o", str(exe), str(src)], check=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.splitlines()
    layouts = {"xdp_md": XDP_MD, "__sk_buff": TC_SKB, "pt_regs": PT_REGS}
    for line in out:
        if line.startswith("sizeof"):
            _, name, size = line.split()
            assert layouts[name].size == int(size), name
            continue
        ref, off, size = line.split()
        struct_name, member = ref.split(".")
        f = layouts[struct_name].field(member)
        assert (f.offset, f.size) == (int(off), int(size)), ref
    assert SK_BUFF_SIZE == 192
    assert len(PT_REGS_NAMES) * 8 == PT_REGS.size


def test_return_codes_are_named():
    assert spec_for(ProgType.XDP).returns.describe(2) == "XDP_PASS"
    assert spec_for(ProgType.XDP).returns.describe(9).startswith("9 (invalid action")
    assert spec_for(ProgType.SCHED_CLS).returns.describe(0xFFFFFFFF) == "TC_ACT_UNSPEC"
    assert spec_for(ProgType.SCHED_CLS).returns.describe(2) == "TC_ACT_SHOT"
    assert spec_for(ProgType.SOCKET_FILTER).returns.describe(0) == "drop"
    assert spec_for(ProgType.SOCKET_FILTER).returns.describe(64) == "keep 64 bytes"
    assert spec_for(ProgType.CGROUP_SKB).returns.accepts(1)
    assert not spec_for(ProgType.CGROUP_SKB).returns.accepts(4)


def test_unmodelled_type_is_not_supported():
    with pytest.raises(NotSupportedError, match="sk_msg"):
        spec_for(ProgType.SK_MSG)


def test_pointer_loads_are_rewritten_through_spills():
    insns = assemble(
        """
        r6 = r1
        *(u64 *)(r10 - 8) = r6
        r7 = *(u64 *)(r10 - 8)
        r2 = *(u32 *)(r7 + 0)
        r3 = *(u32 *)(r6 + 4)
        r4 = *(u32 *)(r1 + 12)
        r0 = 2
        exit
        """
    )
    out = rewrite_ctx_access(insns, spec_for(ProgType.XDP))
    slot = XDP_MD.shadow_base
    assert out[3] == Instruction(0x79, 2, 7, slot, 0)  # 64-bit load of the data pointer slot
    assert out[4] == Instruction(0x79, 3, 6, slot + 8, 0)
    assert out[5] == insns[5]  # ingress_ifindex is a plain u32
    assert len(out) == len(insns)


def test_subprogram_receives_ctx():
    call = Instruction(0x85, 0, 1, 0, 2)  # bpf-to-bpf call to the function at pc 3
    insns = [call, *assemble("r0 = 2\nexit\nr0 = *(u32 *)(r1 + 4)\nexit")]
    out = rewrite_ctx_access(insns, spec_for(ProgType.XDP))
    assert out[3].opcode == 0x79 and out[3].off == XDP_MD.shadow_base + 8


@pytest.mark.parametrize(
    ("text", "prog_type", "message"),
    [
        ("r2 = *(u16 *)(r1 + 0)", ProgType.XDP, "pointer"),
        ("*(u32 *)(r1 + 0) = r2", ProgType.XDP, "read-only"),
        ("r1 += 4\nr2 = *(u32 *)(r1 + 0)", ProgType.XDP, "modified ctx"),
        ("r2 = *(u32 *)(r1 + 20)", ProgType.XDP, "egress_ifindex"),
        ("r2 = *(u32 *)(r1 + 24)", ProgType.XDP, "outside"),
        ("r2 = *(u32 *)(r1 + 76)", ProgType.SOCKET_FILTER, "not accessible"),
        ("*(u32 *)(r1 + 0) = r2", ProgType.SCHED_CLS, "read-only"),
        ("*(u16 *)(r1 + 8) = r2", ProgType.SCHED_CLS, "4-byte store"),
        ("r2 = *(u32 *)(r1 + 88)", ProgType.SCHED_CLS, "family"),
        ("r2 = *(u8 *)(r1 + 182)", ProgType.SCHED_CLS, "padding"),
        ("lock *(u32 *)(r1 + 8) += r2", ProgType.SCHED_CLS, "ATOMIC"),
        ("*(u64 *)(r1 + 0) = r2", ProgType.KPROBE, "read-only"),
        ("r2 = *(u64 *)(r1 + 4)", ProgType.TRACEPOINT, "outside"),
        ("call 9", ProgType.XDP, "bpf_skb_store_bytes#9"),
        ("r0 = *(u8 *)skb[0]", ProgType.XDP, "instructions not allowed"),
        ("if r2 > 0 goto +1\nr1 = 5\nr0 = *(u32 *)(r1 + 0)", ProgType.XDP, "some paths"),
    ],
)
def test_invalid_ctx_access_names_the_instruction(text, prog_type, message):
    insns = assemble(text + "\nexit")
    with pytest.raises(VerifierError, match=message) as info:
        rewrite_ctx_access(insns, spec_for(prog_type))
    assert info.value.summary.startswith("insn ")


def test_skb_access_rules():
    assert check_ctx_access(TC_SKB, 8, 4, write=True) is None  # mark
    assert check_ctx_access(TC_SKB, 48, 8, write=True) is None  # cb any size
    assert check_ctx_access(TC_SKB, 16, 2, write=False) is None  # narrow protocol read
    assert check_ctx_access(TC_SKB, 152, 4, write=False) is not None  # tstamp is u64 only
    sf = spec_for(ProgType.SOCKET_FILTER).ctx
    assert check_ctx_access(sf, 8, 4, write=True) is not None  # socket filters write cb only
    assert check_ctx_access(sf, 52, 4, write=True) is None


def test_ld_abs_allowed_for_socket_filter():
    insns = assemble("r0 = *(u8 *)skb[0]\nexit")
    assert rewrite_ctx_access(insns, spec_for(ProgType.SOCKET_FILTER)) == insns
    assert Size.B  # the opcode table is shared
