"""A program loaded into the VM runtime: checked, context-rewritten, bound to helpers.

:class:`VmProgram` is what the VM backend hands out: the VM engine over the
rewritten instructions, sharing the runtime's address space so map regions,
contexts and packets are visible to it.  It also provides the two things
helpers need from "the kernel" that the VM itself does not do: running another
program for ``bpf_tail_call`` and calling a BPF callback function for
``bpf_loop`` / ``bpf_for_each_map_elem``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import VMError
from ..isa.instruction import Instruction
from ..isa.opcodes import CallSrc, InsnClass, JmpOp, PseudoSrc
from ..progtypes.base import ProgTypeSpec
from ..progtypes.ctx_rewrite import check_ctx_access_all
from ..uapi import AttachType
from ..vm.machine import DEFAULT_MAX_INSTRUCTIONS, VM, Engine
from ..vm.memory import SLOT_BITS, Perm, Region
from .packet import PacketBuffer
from .state import RUNTIME_KEY, RunState, Runtime

if TYPE_CHECKING:
    from ..helpers.impl_kfuncs import KfuncSpec
    from ..helpers.registry import HelperRegistry
    from ..vm.context import CallContext

_IDS = itertools.count(1)
_CALL = InsnClass.JMP | JmpOp.CALL
_EXIT = InsnClass.JMP | JmpOp.EXIT


class VmProgram:
    """One program ready to run in a :class:`~pybpf.runtime.state.Runtime`."""

    def __init__(
        self,
        name: str,
        insns: Sequence[Instruction],
        spec: ProgTypeSpec,
        runtime: Runtime,
        helpers: HelperRegistry,
        *,
        engine: Engine = "compiled",
        max_instructions: int = DEFAULT_MAX_INSTRUCTIONS,
        check_helpers: bool = True,
        kfuncs: Sequence[KfuncSpec] = (),
        expected_attach_type: AttachType | None = None,
    ) -> None:
        self.name = name
        self.spec = spec
        #: The load-time attach type: some hooks (XDP devmap/cpumap) cannot be test-run.
        self.expected_attach_type = expected_attach_type
        self.runtime = runtime
        self.helpers = _with_kfuncs(helpers, kfuncs)
        self.engine: Engine = engine
        self.max_instructions = max_instructions
        self.id = next(_IDS)
        nslots = sum(i.width for i in insns)
        #: Callback handles (lddw src=FUNC) are addresses in this inaccessible region: base + slot.
        self.funcs: Region = runtime.memory.add(f"funcs:{name}", max(nslots, 1), Perm.NONE)
        resolved = [self._resolve_func(i, insn, insns) for i, insn in enumerate(insns)]
        checked = check_ctx_access_all(resolved, spec, check_helpers=check_helpers)
        #: End of the furthest context byte the program reads or writes (``max_ctx_offset``).
        self.ctx_end = checked.ctx_end
        kfunc_ids = frozenset(k.id for k in kfuncs)
        self.insns: list[Instruction] = [_kfunc_as_helper(insn, kfunc_ids) for insn in checked.insns]
        self.vm = self._make_vm(self.insns)
        self._trampolines: dict[int, VM] = {}
        self._bound_packet: PacketBuffer | None = None
        #: Per-program state test_run reuses between calls (a context and frame), closed with it.
        self.run_cache: dict[str, Any] = {}
        self.closed = False
        runtime.programs[self.id] = self
        runtime.programs_by_funcs[self.funcs.tag] = self
        runtime.tail_call_runner = _run_tail_call(runtime)
        runtime.callback_runner = _run_callback

    def _resolve_func(self, index: int, insn: Instruction, insns: Sequence[Instruction]) -> Instruction:
        if not (insn.is_lddw and insn.src == PseudoSrc.FUNC):
            return insn
        slot = sum(i.width for i in insns[:index])
        rel = insn.imm_lo - (1 << 32) if insn.imm_lo & 0x80000000 else insn.imm_lo
        return Instruction(
            insn.opcode, insn.dst, PseudoSrc.IMM64, 0, self.funcs.base + slot + 1 + rel, insn.meta
        )

    def _make_vm(self, insns: Sequence[Instruction]) -> VM:
        vm = VM(
            list(insns),
            helpers=self.helpers,
            memory=self.runtime.memory,
            engine=self.engine,
            max_instructions=self.max_instructions,
        )
        vm.context.state[RUNTIME_KEY] = self.runtime
        return vm

    def trampoline(self, slot: int) -> VM:
        """A VM that calls the function at ``slot`` and exits (how helpers run callbacks)."""
        vm = self._trampolines.get(slot)
        if vm is None:
            head = [Instruction(_CALL, 0, CallSrc.PSEUDO_CALL, 0, slot + 1), Instruction(_EXIT)]
            vm = self._make_vm(head + self.insns)
            self._trampolines[slot] = vm
        return vm

    # -- running -------------------------------------------------------------------
    def execute(self, run: RunState, *, max_instructions: int | None = None) -> int:
        """Run once with r1 = the run's context; return r0 (unsigned 64-bit)."""
        self.runtime.run = run
        if self._bound_packet is not run.packet or run.packet is None:
            self._bind_packet(self.vm, run.packet)
            self._bound_packet = run.packet
        return self.vm.call(run.ctx_address, max_instructions=max_instructions)

    def _bind_packet(self, vm: VM, packet: PacketBuffer | None) -> None:
        """Point the VM's LD_ABS view at ``packet`` and keep it there when helpers move it."""
        if packet is None:
            vm.packet = b""
            return
        vm.packet = packet.view()
        followers = packet.followers
        if id(vm) in followers:
            return

        def follow(p: PacketBuffer) -> None:
            vm.packet = p.view()

        followers.add(id(vm))
        packet.observers.append(follow)

    def close(self) -> None:
        self.closed = True
        for cached in self.run_cache.values():
            cached.close()
        self.run_cache.clear()
        self.runtime.programs.pop(self.id, None)
        self.runtime.programs_by_funcs.pop(self.funcs.tag, None)


def _with_kfuncs(helpers: HelperRegistry, kfuncs: Sequence[KfuncSpec]) -> HelperRegistry:
    """``helpers`` plus the kfuncs, each under its synthetic helper id (a copy only when needed)."""
    if not kfuncs:
        return helpers
    from ..helpers.registry import HelperProto, HelperSpec

    out = helpers.copy()
    for kfunc in kfuncs:
        out.register(HelperSpec(kfunc.id, kfunc.name, HelperProto(), kfunc.impl), replace=True)
    return out


def _kfunc_as_helper(insn: Instruction, kfunc_ids: frozenset[int]) -> Instruction:
    """A kfunc call (imm already the synthetic id the backend chose) as a plain helper call.

    Done after the context check, which would refuse the synthetic id as a helper
    outside the program type's set; the VM then calls it like any helper.  Other
    kfunc calls stay as they are, and the VM refuses them with a clear error.
    """
    if insn.opcode != _CALL or insn.src != CallSrc.KFUNC or insn.imm not in kfunc_ids:
        return insn
    return Instruction(insn.opcode, insn.dst, CallSrc.HELPER, 0, insn.imm, insn.meta)


def _run_tail_call(runtime: Runtime) -> Callable[[int, int], int]:
    def run(prog_id: int, ctx_address: int) -> int:
        target = runtime.programs.get(prog_id)
        if target is None:
            raise VMError(f"tail call to unknown program id {prog_id}")
        target._bind_packet(target.vm, runtime.run.packet)
        return int(target.vm.call(ctx_address))

    return run


def _run_callback(ctx: CallContext, handle: int, args: tuple[int, ...]) -> int:
    runtime: Runtime = ctx.state[RUNTIME_KEY]
    owner = runtime.programs_by_funcs.get(handle >> SLOT_BITS)
    if owner is None or not owner.funcs.contains(handle):
        raise VMError("callback argument is not a BPF function", address=handle)
    vm = owner.trampoline(handle - owner.funcs.base)
    padded = (*args, 0, 0, 0, 0, 0)[:5]
    return int(vm.call(*padded))
