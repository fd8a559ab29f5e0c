"""Interpreter speed: pybpf's compiled engine vs a naive decode-every-step loop.

Run: ``python bench/bench_interp.py [--quick]``.  Prints ns per executed eBPF
instruction for three programs (an ALU loop, a byte loop over memory, a
call-heavy loop of bpf-to-bpf calls), for

- ``compiled``: pybpf.vm.VM (Python source generated per program),
- ``reference``: pybpf's step-by-step reference engine,
- ``naive``: the loop below, which decodes the 8-byte slot at pc on every step,

all in the same run, and the naive/compiled ratio.  Both interpreters must
agree on r0, and the bench checks that they do.
"""

from __future__ import annotations

import struct
import sys
import time

from pybpf.isa import assemble, encode
from pybpf.vm import VM

M = (1 << 64) - 1

ALU_LOOP = """
    mov %r0, 0
    mov %r1, {n}
    mov %r2, 0x1234
loop:
    add %r0, %r1
    xor %r0, %r2
    lsh %r2, 1
    and %r2, 0xffff
    add32 %r3, %r1
    rsh %r3, 1
    or %r2, 0x100
    sub %r1, 1
    jne %r1, 0, loop
    exit
"""

BYTE_LOOP = """
    mov %r0, 0
    mov %r3, %r1
    mov %r4, %r1
    add %r4, %r2
loop:
    jge %r3, %r4, done
    ldxb %r5, [%r3]
    add %r0, %r5
    add %r3, 1
    ja loop
done:
    exit
"""

CALL_LOOP = """
    mov %r6, {n}
    mov %r7, 0
loop:
    mov %r1, %r6
    call local triple
    add %r7, %r0
    sub %r6, 1
    jne %r6, 0, loop
    mov %r0, %r7
    exit
triple:
    mov %r0, %r1
    mul %r0, 3
    add %r0, 1
    exit
"""


def naive_run(code: bytes, mem: bytes = b"", budget: int = 1 << 40) -> tuple[int, int]:
    """Decode the slot at pc on every step and dispatch on the opcode; return (r0, executed)."""
    unpack = struct.Struct("<BBhi").unpack_from
    regs = [0] * 11
    stack = bytearray(512 * 8)
    memory = bytearray(mem)
    mem_base = 1 << 40
    regs[1] = mem_base if mem else 0
    regs[2] = len(mem)
    regs[10] = 512
    frames: list[tuple[int, list[int]]] = []
    pc = 0
    executed = 0

    def load(addr: int, size: int) -> int:
        if addr >= mem_base:
            off = addr - mem_base
            if off + size > len(memory):
                raise IndexError(addr)
            return int.from_bytes(memory[off : off + size], "little")
        if addr + size > len(stack):
            raise IndexError(addr)
        return int.from_bytes(stack[addr : addr + size], "little")

    while True:
        op, regbyte, off, imm = unpack(code, pc * 8)
        dst = regbyte & 0xF
        src = regbyte >> 4
        executed += 1
        if executed > budget:
            raise RuntimeError("budget")
        pc += 1
        cls = op & 7
        if cls in (4, 7):
            mask = M if cls == 7 else 0xFFFFFFFF
            b = regs[src] if op & 8 else imm & mask
            a = regs[dst] & mask
            code_ = op & 0xF0
            if code_ == 0x00:
                r = a + b
            elif code_ == 0x10:
                r = a - b
            elif code_ == 0x20:
                r = a * b
            elif code_ == 0x40:
                r = a | b
            elif code_ == 0x50:
                r = a & b
            elif code_ == 0x60:
                r = a << (b & (63 if cls == 7 else 31))
            elif code_ == 0x70:
                r = a >> (b & (63 if cls == 7 else 31))
            elif code_ == 0xA0:
                r = a ^ b
            elif code_ == 0xB0:
                r = b
            else:
                raise NotImplementedError(hex(op))
            regs[dst] = r & mask
        elif cls == 1:
            size = {0x10: 1, 0x08: 2, 0x00: 4, 0x18: 8}[op & 0x18]
            regs[dst] = load(regs[src] + off, size)
        elif cls == 5:
            code_ = op & 0xF0
            if code_ == 0x90:
                if not frames:
                    return regs[0], executed
                pc, saved = frames.pop()
                r0 = regs[0]
                regs[:] = saved
                regs[0] = r0
                continue
            if code_ == 0x80:
                frames.append((pc, list(regs)))
                regs[10] += 512
                pc += imm
                continue
            if code_ == 0x00:
                pc += off
                continue
            a = regs[dst]
            b = regs[src] if op & 8 else imm & M
            if code_ == 0x10:
                taken = a == b
            elif code_ == 0x50:
                taken = a != b
            elif code_ == 0x20:
                taken = a > b
            elif code_ == 0x30:
                taken = a >= b
            else:
                raise NotImplementedError(hex(op))
            if taken:
                pc += off
        else:
            raise NotImplementedError(hex(op))


def _time(fn: object, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
    return best


def bench(name: str, text: str, mem: bytes, repeat: int) -> tuple[str, float, float, float]:
    insns = assemble(text, "conformance")
    code = encode(insns)
    vm = VM(insns, max_instructions=1 << 40)
    ref = VM(insns, max_instructions=1 << 40, engine="reference")
    r0 = vm.run(mem)
    executed = vm.executed
    nr0, nexec = naive_run(code, mem)
    if (r0, executed) != (nr0, nexec):
        raise SystemExit(f"{name}: compiled ({r0:#x}, {executed}) != naive ({nr0:#x}, {nexec})")
    t_fast = _time(lambda: vm.run(mem), repeat)
    t_naive = _time(lambda: naive_run(code, mem), repeat)
    t_ref = _time(lambda: ref.run(mem), 1)
    ref_r0 = ref.run(mem)
    if (ref_r0, ref.executed) != (r0, executed):
        raise SystemExit(f"{name}: reference ({ref_r0:#x}, {ref.executed}) != compiled ({r0:#x}, {executed})")
    ns = 1e9 / executed
    return name, t_fast * ns, t_ref * ns, t_naive * ns


def main() -> None:
    quick = "--quick" in sys.argv
    n = 20_000 if quick else 200_000
    repeat = 2 if quick else 3
    mem = bytes(range(256)) * (n // 64)
    rows = [
        bench("alu loop", ALU_LOOP.format(n=n), b"", repeat),
        bench("byte loop", BYTE_LOOP, mem, repeat),
        bench("call loop", CALL_LOOP.format(n=n // 2), b"", repeat),
    ]
    print(f"{'program':<12}{'compiled':>14}{'reference':>14}{'naive':>14}{'naive/compiled':>16}")
    for name, fast, ref, naive in rows:
        print(f"{name:<12}{fast:>11.1f} ns{ref:>11.1f} ns{naive:>11.1f} ns{naive / fast:>15.1f}x")
    print("(ns per executed eBPF instruction; best of several runs)")


if __name__ == "__main__":
    main()
