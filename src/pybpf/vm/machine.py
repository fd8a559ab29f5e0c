"""The VM: one program bound to an address space, helpers, a stack and an engine.

``VM(program).run(mem)`` is the conformance-suite convention (r1 = pointer to a
copy of ``mem``, r2 = its length); ``VM.call(r1, ..., r5)`` is for program
contexts that build their own arguments (a ctx region, a packet region).  A VM
can be run many times; the program is decoded and compiled once.

Engines: ``compiled`` (default; Python source generated per program, see
:mod:`pybpf.vm.compiler`) and ``reference`` (step-by-step, see
:mod:`pybpf.vm.reference`).  Passing ``trace=`` always uses the reference
engine.  Both give the same results; they differ only in *when* an exhausted
budget is noticed (the compiled engine checks at loop heads) and therefore,
for a program that both faults and runs out of budget, in which error wins.

ABI details the ISA leaves open, fixed here for both engines: on entry to a
bpf-to-bpf callee r0 and r6-r9 read as 0 and r10 is the top of a fresh
512-byte frame; after the return the caller's r1-r9 are as before the call
(the verifier forbids reading r1-r5 anyway) and r0 is the callee's.  Helper
calls leave r1-r5 untouched.  At most ``max_depth`` (8) frames are live.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from types import FrameType
from typing import Literal

from ..errors import (
    BPFError,
    CallDepthError,
    InstructionLimitError,
    ProgramExitError,
    UnknownHelperError,
    VMError,
)
from ..helpers.registry import HelperRegistry, default_registry, helper_name
from ..isa.instruction import Instruction
from ..isa.opcodes import AtomicOp, InsnClass, Mode, Size
from .compiler import Compiled, Compiler
from .context import CallContext, ProgramExit, relocate_error
from .image import Image
from .ldabs import load_packet
from .memory import AddressSpace, Perm, Region
from .reference import Tracer, execute

Engine = Literal["compiled", "reference"]
STACK_SIZE = 512
MAX_CALL_DEPTH = 8
DEFAULT_MAX_INSTRUCTIONS = 1_000_000
U64 = (1 << 64) - 1
_ZERO_FRAME = bytes(STACK_SIZE)
_SIZES = {Size.B: 1, Size.H: 2, Size.W: 4, Size.DW: 8}
_HOST_FAULTS = (KeyError, IndexError, struct.error, TypeError)

ProgramLike = bytes | bytearray | memoryview | list[Instruction] | tuple[Instruction, ...] | Image


class VM:
    """A program ready to run; see the module docstring."""

    def __init__(
        self,
        program: ProgramLike,
        *,
        helpers: HelperRegistry | None = None,
        max_instructions: int = DEFAULT_MAX_INSTRUCTIONS,
        engine: Engine = "compiled",
        memory: AddressSpace | None = None,
        max_depth: int = MAX_CALL_DEPTH,
    ) -> None:
        if engine not in ("compiled", "reference"):
            raise VMError(f"unknown engine {engine!r} (expected compiled or reference)")
        if not isinstance(max_instructions, int) or max_instructions < 0:
            raise VMError(f"max_instructions must be a non-negative integer, got {max_instructions!r}")
        if not isinstance(max_depth, int) or not 1 <= max_depth <= 64:
            raise VMError(f"max_depth must be between 1 and 64, got {max_depth!r}")
        self.image = Image.from_program(program)
        self.helpers = helpers if helpers is not None else default_registry()
        if not isinstance(self.helpers, HelperRegistry):
            raise VMError(f"helpers must be a HelperRegistry, not {type(self.helpers).__name__}")
        self.memory = memory if memory is not None else AddressSpace()
        self.engine: Engine = engine
        self.max_instructions = max_instructions
        self.max_depth = max_depth
        self.stack: list[Region] = [self.memory.add(f"stack[{d}]", STACK_SIZE) for d in range(max_depth)]
        self._tops = [r.base + STACK_SIZE for r in self.stack]
        self.context = CallContext(self.memory, self.helpers)
        #: Buffer LD_ABS/LD_IND read (the "packet" region's bytes); see :meth:`set_packet`.
        self.packet: bytes | bytearray | memoryview = b""
        self.packet_region: Region | None = None
        self.mem_region: Region | None = None
        #: Instructions the last run executed (exact for both engines when it returned normally).
        self.executed = 0
        self._budget = max_instructions
        self._bound = self._bind_helpers()
        self._compiled: Compiled | None = None

    # -- setup --------------------------------------------------------------
    def _bind_helpers(self) -> dict[int, Callable[..., int]]:
        bound: dict[int, Callable[..., int]] = {}
        for i, insn in enumerate(self.image.insns):
            if insn.is_call and insn.src == 0 and not insn.opcode & 0x08:
                try:
                    bound[insn.imm] = self.helpers.get(insn.imm).impl
                except UnknownHelperError as exc:
                    raise UnknownHelperError(
                        exc.message, pc=self.image.pcs[i], insn=self.image.text(i)
                    ) from None
        return bound

    def compiled(self) -> Compiled:
        """The generated module (compiled on first use)."""
        if self._compiled is None:
            names = {
                "RD": self.memory.readable,
                "WD": self.memory.writable,
                "STK": [r.buffer for r in self.stack],
                "TOP": self._tops,
                "CTX": self.context,
                "RT": self,
                "CALLX": self._callx,
                "LDPKT": load_packet,
                "LIMIT": self._limit_error,
                "DEPTH": self._depth_error,
                "FALLOFF": self._falloff_error,
            }
            self._compiled = Compiler(self.image, self._bound, self.max_depth).compile(names)
        return self._compiled

    @property
    def source(self) -> str:
        """The Python source the compiled engine runs (for the curious and for debugging)."""
        return self.compiled().source

    def frame_top(self, depth: int) -> int:
        """r10 of the frame at call depth ``depth`` (0 = the program's own frame)."""
        return self._tops[depth]

    def set_packet(self, data: bytes | bytearray | memoryview, *, writable: bool = False) -> Region:
        """Map ``data`` (not copied) as the "packet" region; LD_ABS/LD_IND read it."""
        perm = Perm.RW if writable else Perm.READ
        if self.packet_region is None:
            self.packet_region = self.memory.add("packet", data, perm)
        else:
            self.packet_region = self.memory.rebind(self.packet_region, data, perm)
        self.packet = self.packet_region.buffer
        return self.packet_region

    def set_input(self, mem: bytes | bytearray | memoryview) -> Region | None:
        """Map a writable copy of ``mem`` as the "mem" region (unmapped when empty)."""
        if not isinstance(mem, bytes | bytearray | memoryview):
            raise VMError(f"input memory must be bytes, not {type(mem).__name__}")
        if len(mem) == 0:
            if self.mem_region is not None:
                self.memory.remove(self.mem_region)
                self.mem_region = None
            return None
        data = bytearray(mem)
        if self.mem_region is None:
            self.mem_region = self.memory.add("mem", data, Perm.RW)
        else:
            self.mem_region = self.memory.rebind(self.mem_region, data, Perm.RW)
        return self.mem_region

    # -- running ------------------------------------------------------------
    def run(
        self,
        mem: bytes | bytearray | memoryview = b"",
        *,
        packet: bytes | bytearray | memoryview | None = None,
        trace: Tracer | None = None,
        max_instructions: int | None = None,
    ) -> int:
        """Run with r1 = pointer to a copy of ``mem`` (0 when empty), r2 = len(mem); return r0."""
        region = self.set_input(mem)
        if packet is not None:
            self.set_packet(packet)
        r1 = region.base if region is not None else 0
        return self.call(r1, len(mem), trace=trace, max_instructions=max_instructions)

    def call(
        self,
        r1: int = 0,
        r2: int = 0,
        r3: int = 0,
        r4: int = 0,
        r5: int = 0,
        *,
        trace: Tracer | None = None,
        max_instructions: int | None = None,
    ) -> int:
        """Run the program with the given r1..r5; return r0 as an unsigned 64-bit int."""
        budget = self.max_instructions if max_instructions is None else max_instructions
        if not isinstance(budget, int) or budget < 0:
            raise VMError(f"max_instructions must be a non-negative integer, got {budget!r}")
        args = (r1 & U64, r2 & U64, r3 & U64, r4 & U64, r5 & U64)
        self._budget = budget
        for region in self.stack:
            region.buffer[:] = _ZERO_FRAME
        self.executed = 0
        if trace is not None or self.engine == "reference":
            try:
                r0, self.executed = execute(self, args, budget, trace)
            except ProgramExitError as exc:
                return _exit_value(exc)
            return r0
        return self._call_compiled(args, budget)

    def _call_compiled(self, args: tuple[int, int, int, int, int], budget: int) -> int:
        compiled = self.compiled()
        try:
            r0, left = compiled.entry(*args, 0, budget)
        except ProgramExitError as exc:
            return _exit_value(exc)
        except InstructionLimitError:
            raise
        except Exception as exc:  # every host exception becomes a typed VMError
            raise self._translate(exc, compiled) from (None if isinstance(exc, _HOST_FAULTS) else exc)
        if left < 0:
            raise InstructionLimitError(f"instruction budget of {budget} exhausted")
        self.executed = budget - left
        return int(r0)

    def call_helper(self, helper_id: int, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        """Call helper ``helper_id`` through the registry (callx, the reference engine)."""
        spec = self.helpers.get(helper_id)
        try:
            result = spec.impl(self.context, r1, r2, r3, r4, r5)
        except BPFError:
            raise
        except Exception as exc:  # a helper bug must not escape as a host exception
            raise VMError(f"helper {spec.name}#{spec.id} failed: {exc!r}") from exc
        if not isinstance(result, int):
            raise VMError(f"helper {spec.name}#{spec.id} returned a non-integer")
        return result

    def _callx(self, ctx: CallContext, target: int, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        return self.call_helper(target, r1, r2, r3, r4, r5)

    # -- errors raised from generated code ------------------------------------
    def _limit_error(self, index: int) -> InstructionLimitError:
        return InstructionLimitError(
            f"instruction budget of {self._budget} exhausted",
            pc=self.image.pcs[index],
            insn=self.image.text(index),
        )

    def _depth_error(self, index: int) -> tuple[int, int]:
        raise CallDepthError(
            f"bpf-to-bpf calls nested deeper than {self.max_depth} frames",
            pc=self.image.pcs[index],
            insn=self.image.text(index),
        )

    def _falloff_error(self, index: int) -> VMError:
        return VMError(
            "program fell off its end without exit", pc=self.image.pcs[index], insn=self.image.text(index)
        )

    def _translate(self, exc: Exception, compiled: Compiled) -> BPFError:
        """Turn an exception that escaped generated code into a typed error with pc and address."""
        found: tuple[FrameType, int | None] | None = None
        innermost = False
        tb = exc.__traceback__
        while tb is not None:
            lines = compiled.lines.get(tb.tb_frame.f_code)
            if lines is not None:
                found = (tb.tb_frame, lines.get(tb.tb_lineno))
                innermost = tb.tb_next is None
            tb = tb.tb_next
        index = found[1] if found is not None else None
        if found is None or index is None:
            if isinstance(exc, BPFError):
                return exc
            return VMError(f"internal VM error: {exc!r}")
        frame = found[0]
        pc = self.image.pcs[index]
        text = self.image.text(index)
        insn = self.image.insns[index]
        if isinstance(exc, VMError):
            return relocate_error(exc, pc, text)
        if isinstance(exc, BPFError):
            return exc
        if innermost and isinstance(exc, _HOST_FAULTS):
            access = _memory_access(insn)
            if access is not None:
                reg, size, kind = access
                value = frame.f_locals.get(f"r{reg}", 0)
                return self.memory.fault((value + insn.off) & U64, size, kind, pc=pc, insn=text)
        if insn.is_call:
            hid = insn.imm if not insn.opcode & 0x08 else frame.f_locals.get(f"r{insn.dst}", -1)
            spec = self.helpers.lookup(hid)
            name = spec.name if spec is not None else helper_name(hid)
            if innermost:
                return VMError(f"helper {name}#{hid} returned a non-integer", pc=pc, insn=text)
            return VMError(f"helper {name}#{hid} failed: {exc!r}", pc=pc, insn=text)
        return VMError(f"internal VM error: {exc!r}", pc=pc, insn=text)


def _memory_access(insn: Instruction) -> tuple[int, int, Literal["read", "write"]] | None:
    """(address register, size, kind) of a memory instruction, None for others."""
    op = insn.opcode
    cls = op & 0x07
    size = _SIZES[Size(op & 0x18)]
    if cls == InsnClass.LDX:
        return insn.src, size, "read"
    if cls == InsnClass.ST:
        return insn.dst, size, "write"
    if cls == InsnClass.STX:
        if (op & 0xE0) == Mode.ATOMIC and insn.imm == AtomicOp.LOAD_ACQ:
            return insn.src, size, "read"
        return insn.dst, size, "write"
    return None


def _exit_value(exc: ProgramExitError) -> int:
    if isinstance(exc, ProgramExit):
        return exc.r0
    return 0


def run(
    program: ProgramLike,
    mem: bytes | bytearray | memoryview = b"",
    *,
    helpers: HelperRegistry | None = None,
    max_instructions: int = DEFAULT_MAX_INSTRUCTIONS,
    packet: bytes | bytearray | memoryview | None = None,
    trace: Tracer | None = None,
    engine: Engine = "compiled",
) -> int:
    """Run ``program`` once and return r0 (unsigned 64-bit).

    ``program``: raw bytecode or a list of Instructions.  r1 points to a copy of
    ``mem`` (0 when empty), r2 = len(mem), r10 = top of a 512-byte stack.
    ``packet``: bytes LD_ABS/LD_IND read.  ``trace``: called with a
    :class:`~pybpf.vm.reference.TraceEvent` per executed instruction.
    """
    vm = VM(program, helpers=helpers, max_instructions=max_instructions, engine=engine)
    return vm.run(mem, packet=packet, trace=trace)
