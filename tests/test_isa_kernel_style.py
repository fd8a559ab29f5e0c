"""The ``kernel`` disassembly style against the running kernel's own instruction printer.

The verifier log (log_level 2) prints every instruction of the program with
kernel/bpf/disasm.c -- the printer bpftool's ``prog dump xlated`` and the
verifier share -- so a program that touches every instruction family the
kernel accepts (ALU/ALU32 in both operand forms, movsx, sdiv/smod, all byte
swaps, every load/store size, ldsx, all 64- and 32-bit atomics, load-acquire and
store-release of every size, every JMP and JMP32 comparison, goto, gotol,
may_goto, helper and bpf-to-bpf calls, lddw with a 64-bit immediate and with map
fd / map value sources, legacy LD_ABS/LD_IND) is loaded and its log compared
line by line with ``format_insn(insn, "kernel")``.

The log shows a map lddw as the resolved kernel pointer; those lines are
compared with bpftool's ``prog dump xlated`` instead, where the kernel gives
the map back as ``map[id:N]``.  (The installed bpftool 7.1 predates the v4
instructions and prints them as ``BUG_...``, so it cannot be the reference for
the rest.)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import needs_tools
from pybpf.isa import assemble, disassemble, format_insn, slot_offsets
from pybpf.kernel import create_map, load_program
from pybpf.uapi import MapType, ProgType

pytestmark = pytest.mark.kernel

PROGRAM = """
    r6 = r1
    r0 = 0
    r1 = 7
    r2 = -3
    w3 = 5
    r1 += r2
    r1 -= 4
    r1 *= r2
    r1 /= 3
    r1 |= 0x10
    r1 &= r2
    r1 <<= 3
    r1 >>= r3
    r1 %= 7
    r1 ^= r2
    r1 s>>= 2
    r1 = -r1
    w1 += w2
    w1 -= 1
    w1 *= w2
    w1 /= 5
    w1 |= w2
    w1 &= 0xff
    w1 <<= w3
    w1 >>= 1
    w1 %= 3
    w1 ^= w2
    w1 s>>= w3
    w1 = -w1
    r1 = (s8)r2
    r1 = (s16)r2
    r1 = (s32)r2
    w1 = (s8)w2
    w1 = (s16)w2
    r1 s/= 3
    r1 s%= -5
    w1 s/= w3
    w1 s%= 3
    r1 = be16 r1
    r1 = be32 r1
    r1 = be64 r1
    r1 = le16 r1
    r1 = le32 r1
    r1 = le64 r1
    r1 = bswap16 r1
    r1 = bswap32 r1
    r1 = bswap64 r1
    r4 = 0x1122334455667788 ll
    *(u64 *)(r10 -8) = r4
    *(u32 *)(r10 -12) = w4
    *(u16 *)(r10 -14) = r4
    *(u8 *)(r10 -15) = r4
    *(u64 *)(r10 -24) = 77
    *(u32 *)(r10 -28) = -1
    *(u16 *)(r10 -30) = 3
    *(u8 *)(r10 -31) = 2
    r5 = *(u64 *)(r10 -8)
    r5 = *(u32 *)(r10 -12)
    r5 = *(u16 *)(r10 -14)
    r5 = *(u8 *)(r10 -15)
    r5 = *(s32 *)(r10 -12)
    r5 = *(s16 *)(r10 -14)
    r5 = *(s8 *)(r10 -15)
    r7 = r10
    r7 += -8
    r8 = 1
    lock *(u64 *)(r7 +0) += r8
    lock *(u64 *)(r7 +0) |= r8
    lock *(u64 *)(r7 +0) &= r8
    lock *(u64 *)(r7 +0) ^= r8
    r8 = atomic64_fetch_add((u64 *)(r7 +0), r8)
    r8 = atomic64_fetch_or((u64 *)(r7 +0), r8)
    r8 = atomic64_fetch_and((u64 *)(r7 +0), r8)
    r8 = atomic64_fetch_xor((u64 *)(r7 +0), r8)
    r8 = atomic64_xchg((u64 *)(r7 +0), r8)
    r0 = atomic64_cmpxchg((u64 *)(r7 +0), r0, r8)
    lock *(u32 *)(r7 +0) += r8
    r8 = atomic_fetch_add((u32 *)(r7 +0), r8)
    r8 = atomic_xchg((u32 *)(r7 +0), r8)
    r0 = atomic_cmpxchg((u32 *)(r7 +0), r0, r8)
    r0 = 0
    if r1 == 0x3 goto +1
    r0 += 1
    if r1 != r2 goto +1
    r0 += 1
    if r1 > 0xffffffff goto +1
    r0 += 1
    if r1 >= r2 goto +1
    r0 += 1
    if r1 < 5 goto +1
    r0 += 1
    if r1 <= r2 goto +1
    r0 += 1
    if r1 s> -1 goto +1
    r0 += 1
    if r1 s>= r2 goto +1
    r0 += 1
    if r1 s< 0 goto +1
    r0 += 1
    if r1 s<= r2 goto +1
    r0 += 1
    if r1 & 0x8 goto +1
    r0 += 1
    if w1 == 0x3 goto +1
    r0 += 1
    if w1 != w2 goto +1
    r0 += 1
    if w1 s< -7 goto +1
    r0 += 1
    if w1 & w2 goto +1
    r0 += 1
    goto +0
    gotol +0
    r9 = r0
    call bpf_ktime_get_ns
    call bpf_get_prandom_u32
    call sub

    r7 = r10
    r7 += -8
    r8 = 3
    *(u64 *)(r7 +0) = r8
    r2 = load_acquire((u64 *)(r7 +0))
    w2 = load_acquire((u32 *)(r7 +0))
    w2 = load_acquire((u16 *)(r7 +0))
    w2 = load_acquire((u8 *)(r7 +0))
    store_release((u64 *)(r7 +0), r8)
    store_release((u32 *)(r7 +0), w8)
    store_release((u16 *)(r7 +0), w8)
    store_release((u8 *)(r7 +0), w8)
    may_goto +1
    r0 = 1
    if w8 > w9 goto +1
    if w8 >= 3 goto +1
    if w8 < w9 goto +1
    if w8 <= 3 goto +1
    if w8 s> w9 goto +1
    if w8 s>= 3 goto +1
    if w8 s<= w9 goto +1
    r1 = 0
    *(u32 *)(r10 -40) = r1
    r2 = r10
    r2 += -40
    r1 = map[id:MAPFD]
    call bpf_map_lookup_elem
    r1 = map[id:MAPFD][0]+4
    r7 = 1
    r0 = *(u8 *)skb[3]
    r0 = *(u16 *)skb[r7 + 1]
    r0 = *(u32 *)skb[0]
    r0 = 0
    exit
sub:
    r0 = 1
    exit
"""

LOG_LINE = re.compile(r"\s*(\d+): (?:[0-9.]{10} )?(\([0-9a-f]{2}\) .*?)(?:\s+;.*)?$")


def kernel_printed(log: str) -> dict[int, str]:
    """pc -> the instruction text the kernel printed first for that pc."""
    out: dict[int, str] = {}
    for line in log.splitlines():
        m = LOG_LINE.fullmatch(line)
        if m:
            out.setdefault(int(m.group(1)), m.group(2).rstrip())
    return out


def pybpf_xlated(prog_id: int, fs: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    """``pybpf [flags] --backend kernel prog dump xlated id N`` in a subprocess."""
    command = [sys.executable, "-m", "pybpf", *flags, "--backend", "kernel", "prog", "dump", "xlated"]
    return subprocess.run(
        [*command, "id", str(prog_id)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYBPF_FS": str(fs)},
    )


def test_kernel_style_is_the_kernel_printer() -> None:
    array = create_map(MapType.ARRAY, 4, 8, 1, name="i2_kstyle_map")
    map_id = array.info().id
    try:
        insns = assemble(PROGRAM.replace("MAPFD", str(array.fd)), "c")
        with load_program(insns, ProgType.SOCKET_FILTER, name="i2_kstyle", log_level=2) as prog:
            printed = kernel_printed(prog.log)
            xlated = disassemble(prog.xlated(), "kernel")
            if shutil.which("bpftool"):
                ref_xlated = subprocess.run(
                    ["bpftool", "prog", "dump", "xlated", "id", str(prog.info().id)],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            else:
                ref_xlated = None
    finally:
        array.close()

    map_loads = 0
    for pc, insn in zip(slot_offsets(insns), insns, strict=True):
        assert pc in printed, f"the kernel printed nothing for pc {pc}"
        if insn.is_lddw and insn.src:
            map_loads += 1
            assert re.fullmatch(r"\(18\) r1 = 0x[0-9a-f]+", printed[pc])  # the resolved pointer
            continue
        assert format_insn(insn, "kernel") == printed[pc], pc
    assert map_loads == 2

    ours_maps = re.findall(r"\(18\) r1 = map\[id:\d+\](?:\[0\]\+4)?", xlated)
    assert ours_maps == [f"(18) r1 = map[id:{map_id}]", f"(18) r1 = map[id:{map_id}][0]+4"]
    if ref_xlated is not None:
        assert re.findall(r"\(18\) r1 = map\[id:\d+\](?:\[0\]\+4)?", ref_xlated) == ours_maps


def test_prog_dump_xlated_reads_the_verifiers_aux_register(tmp_path: Path) -> None:
    """The kernel rewrites a signed division by a register with the hidden
    register r11 (BPF_REG_AX); ``pybpf prog dump xlated`` must show it, not refuse."""
    insns = assemble("w1 = 7\nw2 = -1\nw1 s/= w2\nw0 = w1\nexit", "c")
    with load_program(insns, ProgType.SOCKET_FILTER, name="i2_ax") as prog:
        xlated = prog.xlated()
        assert any(i.dst == 11 for i in xlated)
        proc = pybpf_xlated(prog.info().id, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == disassemble(xlated, "kernel").splitlines()
    assert "r11" in proc.stdout


V4_ONLY = (
    "(s8)",
    "(s16)",
    "(s32)",
    "s/=",
    "s%=",
    "bswap",
    "*(s",
    "gotol",
    "load_acquire",
    "store_release",
    "may_goto",
)


@needs_tools("bpftool")
def test_prog_dump_xlated_equals_bpftool(tmp_path: Path) -> None:
    """``pybpf prog dump xlated`` of a loaded program, text and JSON, is bpftool's --
    including the calls the kernel rewrote (helper address offsets, JIT symbols).
    The installed bpftool predates the v4 instructions, so the program has none."""
    v3 = "\n".join(line for line in PROGRAM.splitlines() if not any(v4 in line for v4 in V4_ONLY))
    array = create_map(MapType.ARRAY, 4, 8, 1, name="i2_xlated_map")
    try:
        insns = assemble(v3.replace("MAPFD", str(array.fd)), "c")
        with load_program(insns, ProgType.SOCKET_FILTER, name="i2_xlated") as prog:
            prog_id = prog.info().id
            outputs = {}
            for fmt in ((), ("-j",)):
                outputs[fmt] = (
                    pybpf_xlated(prog_id, tmp_path, *fmt).stdout,
                    subprocess.run(
                        ["bpftool", *fmt, "prog", "dump", "xlated", "id", str(prog_id)],
                        capture_output=True,
                        text=True,
                        check=True,
                    ).stdout,
                )
    finally:
        array.close()
    ours, ref = outputs[()]
    assert ours.split() == ref.split()
    assert "call bpf_ktime_get_ns#" in ours and re.search(r"call pc\+\d+#bpf_prog_[0-9a-f]{16}_", ours)
    ours_json, ref_json = (json.loads(text) for text in outputs[("-j",)])
    assert [r["disasm"] for r in ours_json] == [r["disasm"] for r in ref_json]
