"""test_run time per run in the VM, next to the kernel's BPF_PROG_TEST_RUN for the same objects.

Programs (tests/bpf fixtures, clang-19 -mcpu=v3):
  xdp_pass         return XDP_PASS
  xdp_parse_count  Ethernet/IPv4/UDP parse + two ARRAY map increments
  loop_hash        64 HASH lookups + 64 updates
For each: the VM's mean time per repetition (``repeat`` runs in one test_run, the
same thing the kernel's ``duration`` reports), the VM's time for one whole test_run
call (context + packet setup included), the kernel's duration when bpf(2) works,
and the ratio VM / kernel.  Target: xdp_parse_count <= 10 us per run in the VM.
Then the memory figure of a 1,000,000-entry HASH (bench/bench_maps.py).

Run: python bench/bench_runtime.py [--no-maps]
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import dpkt

import pybpf
from pybpf.errors import BPFError
from pybpf.isa.opcodes import PseudoSrc

ROOT = Path(__file__).resolve().parent.parent
BPF = ROOT / "tests" / "bpf"
CASES = (("xdp_pass", 20_000), ("xdp_parse_count", 20_000), ("loop_hash", 300))


def udp_frame() -> bytes:
    udp = dpkt.udp.UDP(sport=1000, dport=53, data=b"x" * 18)
    ip = dpkt.ip.IP(src=socket.inet_aton("10.0.0.2"), dst=socket.inet_aton("10.0.0.1"), p=17, data=udp)
    return bytes(dpkt.ethernet.Ethernet(dst=b"\x02" * 6, src=b"\x04" * 6, type=0x0800, data=ip))


def vm_numbers(name: str, repeat: int, frame: bytes) -> tuple[float, float]:
    """(mean ns per repetition, mean ns per whole test_run call)."""
    with pybpf.load(BPF / f"{name}.v3.o") as obj:
        prog = obj.programs[name]
        prog.test_run(data_in=frame)
        per_rep = min(prog.test_run(data_in=frame, repeat=repeat).duration_ns for _ in range(3))
        calls = max(200, repeat // 20)
        t0 = time.perf_counter_ns()
        for _ in range(calls):
            prog.test_run(data_in=frame)
        per_call = (time.perf_counter_ns() - t0) / calls
    return float(per_rep), per_call


def _kernel_via_loaded(name: str) -> Any:
    from pybpf import loaded

    return loaded.load(BPF / f"{name}.v3.o", backend="kernel")


def _kernel_by_hand(name: str) -> tuple[Any, list[Any]]:
    """Load with kernel maps created here and MAP_FD immediates patched to their fds."""
    from pybpf.kernel.maps import create_map
    from pybpf.kernel.progs import load_program

    spec = pybpf.ObjectSpec.from_file(BPF / f"{name}.v3.o")
    maps = {
        n: create_map(m.type, m.key_size, m.value_size, m.max_entries, flags=m.flags, name=n[:15])
        for n, m in spec.maps.items()
    }
    prog_spec = spec.programs[name]
    insns = [
        replace(i, imm=maps[i.meta.reference].fd)
        if i.is_lddw and i.src == PseudoSrc.MAP_FD and i.meta is not None
        else i
        for i in prog_spec.instructions
    ]
    prog = load_program(insns, prog_spec.prog_type, name=name[:15], license=spec.license)
    return prog, list(maps.values())


def kernel_ns(name: str, repeat: int, frame: bytes) -> float | None:
    """The kernel's BPF_PROG_TEST_RUN duration (ns per repetition), or None without bpf(2)."""
    try:
        obj = _kernel_via_loaded(name)
    except (BPFError, OSError, TypeError):
        obj = None
    try:
        if obj is not None:
            with obj:
                prog = obj.programs[name]
                return float(
                    min(prog.test_run(data_in=frame, repeat=repeat * 10).duration_ns for _ in range(3))
                )
        prog, maps = _kernel_by_hand(name)
        try:
            return float(min(prog.test_run(frame, repeat=repeat * 10).duration_ns for _ in range(3)))
        finally:
            prog.close()
            for m in maps:
                m.close()
    except (BPFError, OSError):
        return None


def main() -> int:
    frame = udp_frame()
    print(f"{'program':<16} {'VM ns/run':>10} {'VM ns/call':>11} {'kernel ns/run':>14} {'VM/kernel':>10}")
    results = {}
    for name, repeat in CASES:
        per_rep, per_call = vm_numbers(name, repeat, frame)
        kern = kernel_ns(name, repeat, frame)
        ratio = f"{per_rep / kern:10.0f}x" if kern else f"{'n/a':>11}"
        kcol = f"{kern:14.0f}" if kern else f"{'n/a':>14}"
        print(f"{name:<16} {per_rep:10.0f} {per_call:11.0f} {kcol} {ratio}")
        results[name] = per_rep
    target = results["xdp_parse_count"] <= 10_000
    print(f"parse-and-count target <= 10 us per run: {'met' if target else 'MISSED'}"
          f" ({results['xdp_parse_count'] / 1000:.1f} us)")  # fmt: skip
    if "--no-maps" not in sys.argv:
        print("\n1,000,000-entry HASH (bench/bench_maps.py):")
        sys.stdout.flush()
        subprocess.run([sys.executable, str(ROOT / "bench" / "bench_maps.py")], check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
