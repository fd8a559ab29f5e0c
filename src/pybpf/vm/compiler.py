"""The fast engine: a program becomes Python source, compiled once with compile()/exec.

Shape of the generated code (one Python function per bpf-to-bpf function)::

    def F0(r1, r2, r3, r4, r5, d, bud):
        r0 = r6 = r7 = r8 = r9 = 0
        stk = STK[d]; r10 = TOP[d]
        pc = 0
        while True:                     # dispatch, only when there are several targets
            if pc < 7:
                while True:             # one loop per dispatch target
                    bud -= 4            # instruction budget, charged per basic block
                    if bud < 0: raise LIMIT(0)
                    r0 = (r0 + r1) & 0xffffffffffffffff    # one line per eBPF instruction
                    ...
                    if r1 != 0: continue                   # back edge to this target
                    pc = 9; break                          # edge to another target
            else:
                ...

Registers are locals.  A block with exactly one predecessor is emitted inline
at the end of that predecessor, so straight-line code and if/else trees need no
dispatch; only join points and loop heads are *targets*.  A jump from a target
to itself is a ``continue``: an innermost loop never leaves its ``while``.

Memory fast path: a load is ``U32(RD[(_a := r1 + 4) >> 32], _a & 0xffffffff)[0]``
where ``RD`` is the address space's tag -> buffer dict (see
:mod:`pybpf.vm.memory`).  No Python-level bounds check runs: a missing region
raises KeyError, an overrun struct.error or IndexError, and the VM turns those
into a MemoryAccessError after the fact, using the line number of the
traceback (each line maps to one instruction) and the registers in the dead
frame.  Accesses through r10 with a constant offset inside the frame go
straight to the frame's bytearray ``stk``.

The budget check runs only at dispatch targets (every cycle passes through
one); straight-line blocks only subtract.  The count is exact; the check may
fire a few blocks after the budget ran out, and the caller checks once more at
the end.  Calls, helper calls and legacy packet loads end a basic block.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from types import CodeType
from typing import Any

from ..errors import VMError
from ..isa.instruction import Instruction
from ..isa.opcodes import AluOp, AtomicOp, InsnClass, JmpOp, Mode, Size
from . import alu
from .image import Image

M = 0xFFFFFFFFFFFFFFFF
W = 0xFFFFFFFF
SIGN64 = 1 << 63
SIGN32 = 1 << 31
#: Deepest indentation (in levels) before the compiler stops inlining and dispatches instead.
MAX_INLINE_DEPTH = 40

_NAME = re.compile(r"\b(r[0-9]|r10|stk)\b")
_SIZE_BYTES = {Size.B: 1, Size.H: 2, Size.W: 4, Size.DW: 8}
_SIZE_CHAR = {1: "B", 2: "H", 4: "I", 8: "Q"}
_SIGNED_CHAR = {1: "b", 2: "h", 4: "i"}
_MASK = {1: 0xFF, 2: 0xFFFF, 4: W, 8: M}

JMP_OPS = {
    JmpOp.JEQ: "==",
    JmpOp.JNE: "!=",
    JmpOp.JGT: ">",
    JmpOp.JGE: ">=",
    JmpOp.JLT: "<",
    JmpOp.JLE: "<=",
    JmpOp.JSGT: ">",
    JmpOp.JSGE: ">=",
    JmpOp.JSLT: "<",
    JmpOp.JSLE: "<=",
}
SIGNED_JMPS = frozenset({JmpOp.JSGT, JmpOp.JSGE, JmpOp.JSLT, JmpOp.JSLE})


def _runtime_globals() -> dict[str, Any]:
    """Names every generated module sees (struct accessors, arithmetic helpers)."""
    g: dict[str, Any] = {"__builtins__": {}}
    for n, ch in _SIZE_CHAR.items():
        s = struct.Struct("<" + ch)
        g[f"U{8 * n}"] = s.unpack_from
        g[f"P{8 * n}"] = s.pack_into
    for n, ch in _SIGNED_CHAR.items():
        g[f"S{8 * n}"] = struct.Struct("<" + ch).unpack_from
    g.update(
        SDIV64=alu.sdiv64,
        SMOD64=alu.smod64,
        SDIV32=alu.sdiv32,
        SMOD32=alu.smod32,
        BSWAP16=alu.bswap16,
        BSWAP32=alu.bswap32,
        BSWAP64=alu.bswap64,
    )
    return g


@dataclass(frozen=True, slots=True)
class Compiled:
    """The generated module: entry function, source, and line -> instruction maps."""

    entry: Callable[..., tuple[int, int]]
    source: str
    #: code object of each generated function -> {line number: instruction index}
    lines: dict[CodeType, dict[int, int]]


class _Emitter:
    """Builds the source of one module; tracks which line belongs to which instruction."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.line_insn: dict[int, int] = {}

    def emit(self, indent: int, text: str, insn: int | None = None) -> None:
        self.out.append("    " * indent + text)
        if insn is not None:
            self.line_insn[len(self.out)] = insn


class Compiler:
    """Generates and compiles the Python module for an Image.

    ``helpers``: helper id -> implementation (already resolved, so an unknown id
    fails before the program runs).  ``names`` are extra globals the caller
    provides: ``RD``/``WD`` (region dicts), ``STK``/``TOP`` (frame buffers and
    r10 values per depth), ``CTX`` (helper call context), ``RT`` (runtime with
    ``.packet``), ``CALLX`` (runtime helper dispatch), ``LDPKT``, ``LIMIT``,
    ``DEPTH``, ``FALLOFF`` (error constructors).
    """

    def __init__(self, image: Image, helpers: dict[int, Callable[..., int]], max_depth: int) -> None:
        self.image = image
        self.helpers = helpers
        self.max_depth = max_depth
        self.em = _Emitter()

    # -- driver ---------------------------------------------------------------
    def compile(self, names: dict[str, Any]) -> Compiled:
        for entry in self.image.function_entries:
            self._function(entry)
        source = "\n".join(self.em.out) + "\n"
        g = _runtime_globals()
        g.update(names)
        for hid, impl in self.helpers.items():
            g[f"H{hid}"] = impl
        code = compile(source, "<pybpf-vm>", "exec")
        exec(code, g)
        lines: dict[CodeType, dict[int, int]] = {}
        for entry in self.image.function_entries:
            fn = g[f"F{entry}"]
            lines[fn.__code__] = self.em.line_insn
        return Compiled(g["F0"], source, lines)

    def _function(self, entry: int) -> None:
        em = self.em
        image = self.image
        blocks = image.blocks
        reach = image.reachable(entry)
        preds: dict[int, int] = dict.fromkeys(reach, 0)
        preds[entry] += 1
        for b in reach:
            for s in blocks[b].succs:
                if s in preds:
                    preds[s] += 1
        self._targets = {entry} | {b for b in reach if preds[b] != 1}
        em.emit(0, f"def F{entry}(r1, r2, r3, r4, r5, d, bud):")
        done: set[int] = set()
        # Targets are discovered while emitting (deep inlining promotes blocks), so
        # emit each target's body into its own buffer, then lay out the dispatch.
        bodies: dict[int, list[tuple[int, str, int | None]]] = {}
        while True:
            todo = sorted(self._targets - done)
            if not todo:
                break
            for t in todo:
                done.add(t)
                bodies[t] = self._target_body(t)
        # Initialise only the names the body uses: calls are the hot path of
        # call-heavy programs, and every prologue statement costs per call.
        used = set(_NAME.findall("\n".join(text for body in bodies.values() for _, text, _ in body)))
        zeroed = [r for r in ("r0", "r6", "r7", "r8", "r9") if r in used]
        if zeroed:
            em.emit(1, " = ".join(zeroed) + " = 0")
        if "stk" in used:
            em.emit(1, "stk = STK[d]")
        if "r10" in used:
            em.emit(1, "r10 = TOP[d]")
        targets = sorted(bodies)
        if len(targets) == 1:
            self._flush(bodies[targets[0]], 1)
            return
        em.emit(1, f"pc = {entry}")
        em.emit(1, "while True:")
        self._dispatch(targets, bodies, 2)

    def _dispatch(
        self, targets: list[int], bodies: dict[int, list[tuple[int, str, int | None]]], ind: int
    ) -> None:
        if len(targets) == 1:
            self._flush(bodies[targets[0]], ind)
            return
        mid = len(targets) // 2
        self.em.emit(ind, f"if pc < {targets[mid]}:")
        self._dispatch(targets[:mid], bodies, ind + 1)
        self.em.emit(ind, "else:")
        self._dispatch(targets[mid:], bodies, ind + 1)

    def _flush(self, body: list[tuple[int, str, int | None]], ind: int) -> None:
        for rel, text, insn in body:
            self.em.emit(ind + rel, text, insn)

    # -- one dispatch target ------------------------------------------------------
    def _target_body(self, target: int) -> list[tuple[int, str, int | None]]:
        self._body: list[tuple[int, str, int | None]] = []
        self._current = target
        self._put(0, "while True:")
        self._block(target, 1, head=True)
        return self._body

    def _put(self, ind: int, text: str, insn: int | None = None) -> None:
        self._body.append((ind, text, insn))

    def _goto(self, dest: int, ind: int) -> None:
        if dest >= len(self.image.insns):
            self._put(ind, f"raise FALLOFF({len(self.image.insns) - 1})")
        elif dest == self._current:
            self._put(ind, "continue")
        elif dest in self._targets:
            self._put(ind, f"pc = {dest}; break")
        elif ind > MAX_INLINE_DEPTH:
            self._targets.add(dest)
            self._put(ind, f"pc = {dest}; break")
        else:
            self._block(dest, ind, head=False)

    def _block(self, start: int, ind: int, *, head: bool) -> None:
        image = self.image
        block = image.blocks[start]
        self._put(ind, f"bud -= {block.end - block.start}")
        if head:
            self._put(ind, f"if bud < 0: raise LIMIT({start})")
        for i in range(block.start, block.end - 1):
            self._insn(i, ind)
        last = block.end - 1
        insn = image.insns[last]
        op = insn.opcode
        cls = op & 0x07
        code = op & 0xF0
        if cls in (InsnClass.JMP, InsnClass.JMP32) and code not in (JmpOp.CALL, JmpOp.EXIT, JmpOp.JA):
            self._put(ind, f"if {self._condition(insn)}:", last)
            self._goto(block.succs[0], ind + 1)
            self._goto(block.succs[1], ind)
            return
        if cls in (InsnClass.JMP, InsnClass.JMP32) and code == JmpOp.JA:
            self._put(ind, "pass", last)
            self._goto(block.succs[0], ind)
            return
        self._insn(last, ind)
        if block.succs:
            self._goto(block.succs[0], ind)

    # -- instructions -------------------------------------------------------------
    def _insn(self, i: int, ind: int) -> None:
        insn = self.image.insns[i]
        cls = insn.opcode & 0x07
        if cls in (InsnClass.ALU, InsnClass.ALU64):
            self._put(ind, _alu(insn), i)
        elif cls == InsnClass.LDX:
            self._put(ind, self._load(insn), i)
        elif cls in (InsnClass.ST, InsnClass.STX):
            if (insn.opcode & 0xE0) == Mode.ATOMIC:
                self._put(ind, self._atomic(insn), i)
            else:
                self._put(ind, self._store(insn), i)
        elif cls == InsnClass.LD:
            self._ld(insn, i, ind)
        else:
            self._jmp(insn, i, ind)

    def _ld(self, insn: Instruction, i: int, ind: int) -> None:
        if insn.is_lddw:
            self._put(ind, f"r{insn.dst} = {insn.imm:#x}", i)
            return
        size = _SIZE_BYTES[Size(insn.opcode & 0x18)]
        if (insn.opcode & 0xE0) == Mode.ABS:
            off = f"{insn.imm}"
        else:
            off = f"{insn.imm} + r{insn.src}"
        self._put(ind, f"r0 = LDPKT(RT.packet, {off}, {size})", i)
        self._put(ind, "if r0 is None: return 0, bud", i)

    def _jmp(self, insn: Instruction, i: int, ind: int) -> None:
        op = insn.opcode
        code = op & 0xF0
        if code == JmpOp.EXIT:
            self._put(ind, "return r0, bud", i)
        elif code == JmpOp.CALL:
            if op & 0x08:
                self._put(ind, f"r0 = CALLX(CTX, r{insn.dst}, r1, r2, r3, r4, r5) & {M:#x}", i)
            elif insn.is_pseudo_call:
                target = self.image.targets[i]
                self._put(
                    ind,
                    f"r0, bud = F{target}(r1, r2, r3, r4, r5, d + 1, bud) "
                    f"if d < {self.max_depth - 1} else DEPTH({i})",
                    i,
                )
            else:
                self._put(ind, f"r0 = H{insn.imm}(CTX, r1, r2, r3, r4, r5) & {M:#x}", i)
        else:  # pragma: no cover - jumps end blocks and are handled by _block
            raise VMError("internal: jump inside a block", pc=self.image.pcs[i])

    def _condition(self, insn: Instruction) -> str:
        op = insn.opcode
        code = JmpOp(op & 0xF0)
        if code == JmpOp.JCOND:
            return "False"  # may_goto: the VM's instruction budget bounds loops instead
        wide = (op & 0x07) == InsnClass.JMP
        mask, sign = (M, SIGN64) if wide else (W, SIGN32)
        d = f"r{insn.dst}" if wide else f"(r{insn.dst} & {W:#x})"
        if op & 0x08:
            s = f"r{insn.src}" if wide else f"(r{insn.src} & {W:#x})"
            if code in SIGNED_JMPS:
                s = f"({s} ^ {sign:#x})"
        else:
            k = insn.imm & mask
            s = f"{(k ^ sign) if code in SIGNED_JMPS else k:#x}"
        if code == JmpOp.JSET:
            return f"{d} & {s}"
        if code in SIGNED_JMPS:
            d = f"({d} ^ {sign:#x})"
        return f"{d} {JMP_OPS[code]} {s}"

    # -- memory -----------------------------------------------------------------------
    @staticmethod
    def _stack_offset(reg: int, off: int, size: int) -> int | None:
        """Constant offset into the frame buffer for an r10-relative access inside it."""
        if reg != 10:
            return None
        o = 512 + off
        return o if o >= 0 and o + size <= 512 else None

    def _where(self, reg: int, off: int, size: int, table: str) -> tuple[str, str]:
        """(buffer expression, offset expression) of an access at reg + off."""
        o = self._stack_offset(reg, off, size)
        if o is not None:
            return "stk", str(o)
        addr = f"r{reg} + {off}" if off else f"r{reg}"
        return f"{table}[(_a := {addr}) >> 32]", f"_a & {W:#x}"

    def _load(self, insn: Instruction, dst: int | None = None, base: int | None = None) -> str:
        size = _SIZE_BYTES[Size(insn.opcode & 0x18)]
        dst = insn.dst if dst is None else dst
        base = insn.src if base is None else base
        buf, off = self._where(base, insn.off, size, "RD")
        signed = (insn.opcode & 0xE0) == Mode.MEMSX
        if size == 1 and not signed:
            return f"r{dst} = {buf}[{off}]"
        if signed:
            return f"r{dst} = S{8 * size}({buf}, {off})[0] & {M:#x}"
        return f"r{dst} = U{8 * size}({buf}, {off})[0]"

    def _store(self, insn: Instruction) -> str:
        size = _SIZE_BYTES[Size(insn.opcode & 0x18)]
        if (insn.opcode & 0x07) == InsnClass.ST:
            value = f"{insn.imm & _MASK[size]:#x}"
        else:
            value = f"r{insn.src}" if size == 8 else f"r{insn.src} & {_MASK[size]:#x}"
        buf, off = self._where(insn.dst, insn.off, size, "WD")
        if size == 1:
            return f"{buf}[{off}] = {value}"
        return f"P{8 * size}({buf}, {off}, {value})"

    def _atomic(self, insn: Instruction) -> str:
        size = _SIZE_BYTES[Size(insn.opcode & 0x18)]
        op = insn.imm
        if op == AtomicOp.LOAD_ACQ:
            return self._load(insn)
        if op == AtomicOp.STORE_REL:
            return self._store(insn)
        bits = 8 * size
        mask = f"{_MASK[size]:#x}"
        buf, off = self._where(insn.dst, insn.off, size, "WD")
        s = f"r{insn.src}"
        head = f"_m = {buf}; _o = {off}; _v = U{bits}(_m, _o)[0]; "
        if op == AtomicOp.XCHG:
            return head + f"P{bits}(_m, _o, {s} & {mask}); {s} = _v"
        if op == AtomicOp.CMPXCHG:
            return head + f"P{bits}(_m, _o, ({s} & {mask}) if _v == (r0 & {mask}) else _v); r0 = _v"
        py = {AtomicOp.ADD: "+", AtomicOp.OR: "|", AtomicOp.AND: "&", AtomicOp.XOR: "^"}[AtomicOp(op & ~1)]
        text = head + f"P{bits}(_m, _o, (_v {py} {s}) & {mask})"
        if op & 1:
            text += f"; {s} = _v"
        return text


def _alu(insn: Instruction) -> str:
    """One ALU/ALU64 instruction as one Python statement."""
    op = insn.opcode
    wide = (op & 0x07) == InsnClass.ALU64
    code = AluOp(op & 0xF0)
    d = f"r{insn.dst}"
    reg = bool(op & 0x08)
    if code == AluOp.END:
        return _end(insn, wide, d)
    if wide:
        return _alu64(code, d, f"r{insn.src}" if reg else None, insn.imm & M, insn.off)
    return _alu32(code, d, f"r{insn.src}" if reg else None, insn.imm & W, insn.off)


def _end(insn: Instruction, wide: bool, d: str) -> str:
    width = insn.imm
    if wide or insn.opcode & 0x08:  # bswap, or be on a little-endian machine
        if width == 16:
            return f"{d} = (({d} & 0xff) << 8) | (({d} >> 8) & 0xff)"
        return f"{d} = BSWAP{width}({d})"
    if width == 64:
        return "pass"
    return f"{d} &= {_MASK[width // 8]:#x}"


def _sx(s: str, bits: int, mask: int) -> str:
    m = (1 << bits) - 1
    sign = 1 << (bits - 1)
    return f"((({s} & {m:#x}) ^ {sign:#x}) - {sign:#x}) & {mask:#x}"


def _alu64(code: AluOp, d: str, r: str | None, k: int, off: int) -> str:
    s = r if r is not None else f"{k:#x}"
    m = f"{M:#x}"
    if code == AluOp.ADD:
        return f"{d} = ({d} + {s}) & {m}"
    if code == AluOp.SUB:
        return f"{d} = ({d} - {s}) & {m}"
    if code == AluOp.MUL:
        return f"{d} = ({d} * {s}) & {m}"
    if code == AluOp.DIV:
        if off == 1:
            return f"{d} = SDIV64({d}, {s})"
        if r is None:
            return f"{d} = 0" if k == 0 else f"{d} //= {s}"
        return f"{d} = {d} // {s} if {s} else 0"
    if code == AluOp.MOD:
        if off == 1:
            return f"{d} = SMOD64({d}, {s})"
        if r is None:
            return "pass" if k == 0 else f"{d} %= {s}"
        return f"{d} = {d} % {s} if {s} else {d}"
    if code == AluOp.OR:
        return f"{d} |= {s}"
    if code == AluOp.AND:
        return f"{d} &= {s}"
    if code == AluOp.XOR:
        return f"{d} ^= {s}"
    if code == AluOp.LSH:
        n = f"({s} & 63)" if r is not None else str(k & 63)
        return f"{d} = ({d} << {n}) & {m}"
    if code == AluOp.RSH:
        n = f"({s} & 63)" if r is not None else str(k & 63)
        return f"{d} >>= {n}"
    if code == AluOp.ARSH:
        n = f"({s} & 63)" if r is not None else str(k & 63)
        return f"{d} = ((({d} ^ {SIGN64:#x}) - {SIGN64:#x}) >> {n}) & {m}"
    if code == AluOp.NEG:
        return f"{d} = -{d} & {m}"
    if code == AluOp.MOV:
        if off and r is not None:
            return f"{d} = {_sx(r, off, M)}"
        return f"{d} = {s}"
    raise VMError(f"internal: unhandled ALU64 operation {code!r}")  # pragma: no cover


def _alu32(code: AluOp, d: str, r: str | None, k: int, off: int) -> str:
    w = f"{W:#x}"
    s = r if r is not None else f"{k:#x}"
    s32 = f"({r} & {w})" if r is not None else f"{k:#x}"
    d32 = f"({d} & {w})"
    if code == AluOp.ADD:
        return f"{d} = ({d} + {s}) & {w}"
    if code == AluOp.SUB:
        return f"{d} = ({d} - {s}) & {w}"
    if code == AluOp.MUL:
        return f"{d} = ({d} * {s}) & {w}"
    if code == AluOp.DIV:
        if off == 1:
            return f"{d} = SDIV32({d}, {s})"
        if r is None:
            return f"{d} = 0" if k == 0 else f"{d} = {d32} // {s32}"
        return f"{d} = {d32} // {s32} if {s32} else 0"
    if code == AluOp.MOD:
        if off == 1:
            return f"{d} = SMOD32({d}, {s})"
        if r is None:
            return f"{d} &= {w}" if k == 0 else f"{d} = {d32} % {s32}"
        return f"{d} = {d32} % {s32} if {s32} else {d32}"
    if code == AluOp.OR:
        return f"{d} = ({d} | {s}) & {w}"
    if code == AluOp.AND:
        return f"{d} = {d} & {s} & {w}"
    if code == AluOp.XOR:
        return f"{d} = ({d} ^ {s}) & {w}"
    if code == AluOp.LSH:
        n = f"({s} & 31)" if r is not None else str(k & 31)
        return f"{d} = ({d} << {n}) & {w}"
    if code == AluOp.RSH:
        n = f"({s} & 31)" if r is not None else str(k & 31)
        return f"{d} = {d32} >> {n}"
    if code == AluOp.ARSH:
        n = f"({s} & 31)" if r is not None else str(k & 31)
        return f"{d} = ((({d32} ^ {SIGN32:#x}) - {SIGN32:#x}) >> {n}) & {w}"
    if code == AluOp.NEG:
        return f"{d} = -{d} & {w}"
    if code == AluOp.MOV:
        if off and r is not None:
            return f"{d} = {_sx(r, off, W)}"
        return f"{d} = {s} & {w}" if r is not None else f"{d} = {s}"
    raise VMError(f"internal: unhandled ALU operation {code!r}")  # pragma: no cover
