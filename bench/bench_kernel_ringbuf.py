"""Ring buffer consumption rate of the pure-Python mmap reader.

A socket-filter program emits 8-byte records with bpf_ringbuf_output under
BPF_PROG_TEST_RUN (kernel side), and RingBufferReader drains them; we report
records/s for the drain alone (through the public ``pybpf.RingBuffer`` with a no-op
callback), the records lost (emitted but never delivered) and the kernel's per-run
cost side by side.
Needs root.  Run: python bench/bench_kernel_ringbuf.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from kernel_asm import add_imm, call, exit_, ld_map_fd, mov_imm, mov_reg, st_w
from pybpf import RingBuffer
from pybpf.kernel import create_map, load_program
from pybpf.uapi import MapType, ProgType

RING = 1 << 22  # 4 MiB: 262144 records of 16 bytes (8 header + 8 payload)
BATCH = 100_000
ROUNDS = 10


def main() -> None:
    with create_map(MapType.RINGBUF, 0, 0, RING) as rb:
        insns = [
            st_w(10, -8, 1),
            st_w(10, -4, 2),
            ld_map_fd(1, rb.fd),
            mov_reg(2, 10),
            add_imm(2, -8),
            mov_imm(3, 8),
            mov_imm(4, 0),
            call("ringbuf_output"),
            mov_imm(0, 0),
            exit_(),
        ]
        delivered = 0

        def noop(_record: bytes) -> None:
            nonlocal delivered
            delivered += 1

        reader = RingBuffer(rb, noop)
        with load_program(insns, ProgType.SOCKET_FILTER) as prog:
            produce_ns = drain_s = 0.0
            total = 0
            for _ in range(ROUNDS):
                run = prog.test_run(b"\0" * 64, repeat=BATCH)
                produce_ns += run.duration_ns
                t0 = time.perf_counter()
                total += reader.consume()
                drain_s += time.perf_counter() - t0
            print(f"records emitted:            {BATCH * ROUNDS}")
            print(f"records drained:            {total} (callback saw {delivered})")
            print(f"records lost:               {BATCH * ROUNDS - total}")
            print(f"python drain rate:          {total / drain_s / 1e6:.2f} M records/s")
            print(f"python cost per record:     {drain_s / total * 1e9:.0f} ns")
            print(f"kernel cost per emit (run): {produce_ns / ROUNDS:.0f} ns")


if __name__ == "__main__":
    main()
