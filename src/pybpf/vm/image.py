"""A program decoded once for the VM: instructions, slot pcs, jump targets, blocks, functions.

Both engines (the compiler and the reference interpreter) start from an
:class:`Image`, so they agree on what a jump target, a basic block and a
bpf-to-bpf function are.  ``pc`` in every VM message is the *slot* index (lddw
counts two), as the kernel, bpftool and llvm-objdump number instructions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from ..errors import BPFError, InvalidInstructionError
from ..isa.codec import decode
from ..isa.instruction import Instruction, invalid_reason
from ..isa.opcodes import CallSrc, InsnClass, JmpOp, Mode, PseudoSrc
from .context import InvalidProgramError

_JA = InsnClass.JMP | JmpOp.JA
_JA32 = InsnClass.JMP32 | JmpOp.JA
_EXIT = InsnClass.JMP | JmpOp.EXIT


def insn_text(insn: Instruction, pc: int | None = None) -> str:
    """Instruction text for errors and traces (the shared disassembler, kernel style)."""
    try:
        from ..isa.disasm import format_insn

        return format_insn(insn, "kernel", pc)
    except (ImportError, BPFError):  # pragma: no cover - fallback while disasm is unavailable
        text = f"op={insn.opcode:#04x} dst=r{insn.dst} src=r{insn.src} off={insn.off} imm={insn.imm}"
        return text if pc is None else f"{pc}: {text}"


def is_block_end(insn: Instruction) -> bool:
    """True for instructions after which a new basic block starts.

    Jumps and exit obviously; calls and legacy packet loads too, because they
    can end the program early (a helper's ProgramExit, LD_ABS out of bounds), and
    the compiler charges the instruction budget per block.
    """
    op = insn.opcode
    cls = op & 0x07
    if cls in (InsnClass.JMP, InsnClass.JMP32):
        return True
    return cls == InsnClass.LD and (op & 0xE0) in (Mode.ABS, Mode.IND)


@dataclass(frozen=True, slots=True)
class Block:
    """Instructions ``start`` .. ``end - 1`` (indexes into Image.insns)."""

    start: int
    end: int
    succs: tuple[int, ...]  # successor block starts; == len(insns) means "falls off the end"


class Image:
    """The decoded program plus the control-flow facts both engines need."""

    def __init__(self, insns: Sequence[Instruction]) -> None:
        self.insns: tuple[Instruction, ...] = tuple(insns)
        if not self.insns:
            raise InvalidProgramError("empty program")
        pcs = []
        pc = 0
        for i, insn in enumerate(self.insns):
            if not isinstance(insn, Instruction):
                raise InvalidProgramError(f"program item {i} is {type(insn).__name__}, not an Instruction")
            reason = invalid_reason(insn)
            if reason is not None:
                raise InvalidInstructionError(pc, reason)
            pcs.append(pc)
            pc += insn.width
        self.pcs: tuple[int, ...] = tuple(pcs)
        self.nslots = pc
        self.index_of_pc: dict[int, int] = {p: i for i, p in enumerate(pcs)}
        self.targets: dict[int, int] = {}  # insn index -> jump/call target insn index
        for i, insn in enumerate(self.insns):
            self._check(i, insn)

    @classmethod
    def from_program(cls, program: bytes | bytearray | memoryview | Sequence[Instruction] | Image) -> Image:
        """Accept raw bytecode, a list of Instructions or an Image."""
        if isinstance(program, Image):
            return program
        if isinstance(program, bytes | bytearray | memoryview):
            return cls(decode(bytes(program)))
        if isinstance(program, str):
            raise InvalidProgramError("program text must be assembled first (pybpf.isa.assemble)")
        try:
            items = list(program)
        except TypeError:
            raise InvalidProgramError(
                f"program must be bytes or a list of Instructions, not {type(program).__name__}"
            ) from None
        return cls(items)

    def text(self, index: int) -> str:
        """The instruction at ``index`` as the error messages print it."""
        return insn_text(self.insns[index])

    def _target(self, i: int, delta: int) -> int:
        target_pc = self.pcs[i] + 1 + delta
        index = self.index_of_pc.get(target_pc)
        if index is None:
            where = "outside the program" if not 0 <= target_pc < self.nslots else "into the middle of a lddw"
            raise InvalidProgramError(f"jump to pc {target_pc} {where}", pc=self.pcs[i], insn=self.text(i))
        return index

    def _check(self, i: int, insn: Instruction) -> None:
        op = insn.opcode
        cls = op & 0x07
        if insn.is_lddw and insn.src != PseudoSrc.IMM64:
            raise InvalidProgramError(
                f"lddw with pseudo source {PseudoSrc(insn.src).name} is not resolved "
                "(load the program through the object loader, which relocates maps and globals)",
                pc=self.pcs[i],
                insn=self.text(i),
            )
        if cls == InsnClass.JMP32 and op == _JA32:
            self.targets[i] = self._target(i, insn.imm)
        elif cls in (InsnClass.JMP, InsnClass.JMP32):
            code = op & 0xF0
            if code == JmpOp.CALL:
                if op & 0x08:
                    return  # callx
                if insn.src == CallSrc.PSEUDO_CALL:
                    self.targets[i] = self._target(i, insn.imm)
                elif insn.src == CallSrc.KFUNC:
                    raise InvalidProgramError(
                        f"kfunc call (btf id {insn.imm}) is not supported by the VM",
                        pc=self.pcs[i],
                        insn=self.text(i),
                    )
            elif code != JmpOp.EXIT:
                self.targets[i] = self._target(i, insn.off)

    # -- control flow -------------------------------------------------------
    @cached_property
    def blocks(self) -> dict[int, Block]:
        """Basic blocks by start index."""
        n = len(self.insns)
        leaders = {0}
        for i, insn in enumerate(self.insns):
            if i in self.targets:
                leaders.add(self.targets[i])
            if is_block_end(insn) and i + 1 < n:
                leaders.add(i + 1)
        starts = sorted(leaders)
        out: dict[int, Block] = {}
        for k, start in enumerate(starts):
            end = starts[k + 1] if k + 1 < len(starts) else n
            last = self.insns[end - 1]
            op = last.opcode
            if op == _EXIT:
                succs: tuple[int, ...] = ()
            elif op in (_JA, _JA32):
                succs = (self.targets[end - 1],)
            elif (op & 0x07) in (InsnClass.JMP, InsnClass.JMP32) and (op & 0xF0) != JmpOp.CALL:
                succs = (self.targets[end - 1], end)
            else:
                succs = (end,)
            out[start] = Block(start, end, succs)
        return out

    @cached_property
    def function_entries(self) -> tuple[int, ...]:
        """Index 0 and every bpf-to-bpf call target."""
        entries = {0}
        for i, insn in enumerate(self.insns):
            if insn.is_pseudo_call:
                entries.add(self.targets[i])
        return tuple(sorted(entries))

    def reachable(self, entry: int) -> list[int]:
        """Starts of the blocks reachable from ``entry`` without entering calls, in order."""
        blocks = self.blocks
        seen = {entry}
        todo = [entry]
        while todo:
            b = blocks[todo.pop()]
            for s in b.succs:
                if s < len(self.insns) and s not in seen:
                    seen.add(s)
                    todo.append(s)
        return sorted(seen)
