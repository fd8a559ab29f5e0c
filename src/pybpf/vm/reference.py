"""The reference engine: a plain step-by-step interpreter, slow and obviously correct.

It shares nothing with the compiler but the decoded :class:`~pybpf.vm.image.Image`
and the address space: every operation is written out in terms of signed and
unsigned integers, straight from RFC 9669.  It exists to be the oracle in
differential tests and to drive ``--trace`` (every executed instruction with the
registers it changed).  Budget: checked before every instruction, exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import CallDepthError, InstructionLimitError, VMError
from ..isa.instruction import Instruction
from ..isa.opcodes import AluOp, AtomicOp, InsnClass, JmpOp, Mode, Size
from .context import relocate_error
from .image import Image
from .ldabs import load_packet

if TYPE_CHECKING:
    from .machine import VM

U64 = (1 << 64) - 1
U32 = (1 << 32) - 1


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """One executed instruction: where, what, and the registers it changed (new values)."""

    pc: int
    depth: int
    insn: Instruction
    text: str
    changes: tuple[tuple[str, int], ...]

    def format(self) -> str:
        regs = " ".join(f"{name}={value:#x}" for name, value in self.changes)
        indent = "  " * self.depth
        return f"{indent}{self.text}" + (f"    ; {regs}" if regs else "")


Tracer = Callable[[TraceEvent], None]


def signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _div_trunc(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def alu(code: int, bits: int, dst: int, src: int, off: int) -> int:
    """The result of one ALU operation on ``bits``-wide operands (unsigned in, unsigned out)."""
    mask = (1 << bits) - 1
    a = dst & mask
    b = src & mask
    if code == AluOp.ADD:
        r = a + b
    elif code == AluOp.SUB:
        r = a - b
    elif code == AluOp.MUL:
        r = a * b
    elif code == AluOp.DIV:
        if off == 1:
            sa, sb = signed(a, bits), signed(b, bits)
            r = 0 if sb == 0 else _div_trunc(sa, sb)
        else:
            r = 0 if b == 0 else a // b
    elif code == AluOp.MOD:
        if off == 1:
            sa, sb = signed(a, bits), signed(b, bits)
            r = sa if sb == 0 else sa - _div_trunc(sa, sb) * sb
        else:
            r = a if b == 0 else a % b
    elif code == AluOp.OR:
        r = a | b
    elif code == AluOp.AND:
        r = a & b
    elif code == AluOp.XOR:
        r = a ^ b
    elif code == AluOp.LSH:
        r = a << (b % bits)
    elif code == AluOp.RSH:
        r = a >> (b % bits)
    elif code == AluOp.ARSH:
        r = signed(a, bits) >> (b % bits)
    elif code == AluOp.NEG:
        r = -a
    elif code == AluOp.MOV:
        r = signed(src, off) if off else b
    else:  # pragma: no cover - Image validated the opcode
        raise VMError(f"unknown ALU operation {code:#x}")
    return r & mask


def byteswap(value: int, width: int) -> int:
    nbytes = width // 8
    return int.from_bytes((value & ((1 << width) - 1)).to_bytes(nbytes, "little"), "big")


def condition(code: int, bits: int, a: int, b: int) -> bool:
    mask = (1 << bits) - 1
    a &= mask
    b &= mask
    sa, sb = signed(a, bits), signed(b, bits)
    table = {
        JmpOp.JEQ: a == b,
        JmpOp.JNE: a != b,
        JmpOp.JGT: a > b,
        JmpOp.JGE: a >= b,
        JmpOp.JLT: a < b,
        JmpOp.JLE: a <= b,
        JmpOp.JSET: bool(a & b),
        JmpOp.JSGT: sa > sb,
        JmpOp.JSGE: sa >= sb,
        JmpOp.JSLT: sa < sb,
        JmpOp.JSLE: sa <= sb,
    }
    return table[JmpOp(code)]


_SIZES = {Size.B: 1, Size.H: 2, Size.W: 4, Size.DW: 8}


def execute(
    vm: VM, args: tuple[int, int, int, int, int], budget: int, trace: Tracer | None
) -> tuple[int, int]:
    """Run ``vm``'s program from instruction 0 with r1..r5 = ``args``; return (r0, executed)."""
    image: Image = vm.image
    insns = image.insns
    n = len(insns)
    regs = [0, *args, 0, 0, 0, 0, vm.frame_top(0)]
    frames: list[tuple[int, list[int]]] = []  # (return index, caller's registers)
    i = 0
    executed = 0
    while True:
        if i >= n:
            raise VMError("program fell off its end without exit", pc=image.pcs[-1], insn=image.text(n - 1))
        insn = insns[i]
        executed += 1
        if executed > budget:
            raise InstructionLimitError(
                f"instruction budget of {budget} exhausted", pc=image.pcs[i], insn=image.text(i)
            )
        before = list(regs) if trace is not None else None
        depth = len(frames)
        try:
            nxt = _step(vm, image, i, insn, regs, frames)
        except VMError as exc:
            raise relocate_error(exc, image.pcs[i], image.text(i)) from None
        if trace is not None and before is not None:
            changes = tuple((f"r{k}", regs[k]) for k in range(11) if regs[k] != before[k])
            trace(TraceEvent(image.pcs[i], depth, insn, image.text(i), changes))
        if nxt is None:
            i += 1
        elif nxt == _EXIT_PROGRAM:
            return regs[0] & U64, executed
        else:
            i = nxt


_EXIT_PROGRAM = -1


def _step(
    vm: VM, image: Image, i: int, insn: Instruction, regs: list[int], frames: list[tuple[int, list[int]]]
) -> int | None:
    """Execute one instruction; return the next index, None for the following one, -1 to stop."""
    op = insn.opcode
    cls = op & 0x07
    mem = vm.memory
    if cls in (InsnClass.ALU, InsnClass.ALU64):
        bits = 64 if cls == InsnClass.ALU64 else 32
        code = op & 0xF0
        if code == AluOp.END:
            value = regs[insn.dst]
            if cls == InsnClass.ALU64 or op & 0x08:
                regs[insn.dst] = byteswap(value, insn.imm)
            else:
                regs[insn.dst] = value & ((1 << insn.imm) - 1)
            return None
        src = regs[insn.src] if op & 0x08 else insn.imm & U64
        regs[insn.dst] = alu(code, bits, regs[insn.dst], src, insn.off)
        return None
    if cls == InsnClass.LDX:
        size = _SIZES[Size(op & 0x18)]
        value = mem.load((regs[insn.src] + insn.off) & U64, size)
        if (op & 0xE0) == Mode.MEMSX:
            value = signed(value, 8 * size) & U64
        regs[insn.dst] = value
        return None
    if cls == InsnClass.ST:
        size = _SIZES[Size(op & 0x18)]
        mem.store((regs[insn.dst] + insn.off) & U64, size, insn.imm)
        return None
    if cls == InsnClass.STX:
        size = _SIZES[Size(op & 0x18)]
        if (op & 0xE0) == Mode.MEM:
            mem.store((regs[insn.dst] + insn.off) & U64, size, regs[insn.src])
            return None
        _atomic(vm, insn, size, regs)
        return None
    if cls == InsnClass.LD:
        if insn.is_lddw:
            regs[insn.dst] = insn.imm
            return None
        size = _SIZES[Size(op & 0x18)]
        offset = insn.imm if (op & 0xE0) == Mode.ABS else insn.imm + regs[insn.src]
        loaded = load_packet(vm.packet, offset, size)
        if loaded is None:
            regs[0] = 0
            return _EXIT_PROGRAM
        regs[0] = loaded
        return None
    # JMP / JMP32
    code = op & 0xF0
    if code == JmpOp.EXIT:
        if not frames:
            return _EXIT_PROGRAM
        ret, saved = frames.pop()
        r0 = regs[0]
        regs[:] = saved
        regs[0] = r0
        return ret
    if code == JmpOp.CALL:
        if op & 0x08:
            regs[0] = vm.call_helper(regs[insn.dst], regs[1], regs[2], regs[3], regs[4], regs[5]) & U64
            return None
        if insn.is_pseudo_call:
            if len(frames) + 1 >= vm.max_depth:
                raise CallDepthError(f"bpf-to-bpf calls nested deeper than {vm.max_depth} frames")
            frames.append((i + 1, list(regs)))
            for k in (0, 6, 7, 8, 9):
                regs[k] = 0
            regs[10] = vm.frame_top(len(frames))
            return image.targets[i]
        regs[0] = vm.call_helper(insn.imm, regs[1], regs[2], regs[3], regs[4], regs[5]) & U64
        return None
    if code == JmpOp.JA:
        return image.targets[i]
    if code == JmpOp.JCOND:
        return None  # may_goto falls through: the instruction budget bounds loops
    bits = 64 if cls == InsnClass.JMP else 32
    rhs = regs[insn.src] if op & 0x08 else insn.imm & U64
    return image.targets[i] if condition(code, bits, regs[insn.dst], rhs) else None


def _atomic(vm: VM, insn: Instruction, size: int, regs: list[int]) -> None:
    mem = vm.memory
    op = insn.imm
    if op == AtomicOp.LOAD_ACQ:
        regs[insn.dst] = mem.load((regs[insn.src] + insn.off) & U64, size)
        return
    if op == AtomicOp.STORE_REL:
        mem.store((regs[insn.dst] + insn.off) & U64, size, regs[insn.src])
        return
    addr = (regs[insn.dst] + insn.off) & U64
    mask = (1 << (8 * size)) - 1
    # Check writability first: every read-modify-write needs a writable location.
    mem.view(addr, size, writable=True)
    old = mem.load(addr, size)
    src = regs[insn.src] & mask
    if op == AtomicOp.XCHG:
        mem.store(addr, size, src)
        regs[insn.src] = old
        return
    if op == AtomicOp.CMPXCHG:
        if old == regs[0] & mask:
            mem.store(addr, size, src)
        regs[0] = old
        return
    base = op & ~1
    if base == AtomicOp.ADD:
        new = old + src
    elif base == AtomicOp.OR:
        new = old | src
    elif base == AtomicOp.AND:
        new = old & src
    else:
        new = old ^ src
    mem.store(addr, size, new)
    if op & 1:
        regs[insn.src] = old
