"""The VM backend: maps are native pybpf maps, programs run in the userspace VM.

Loading a program resolves its 64-bit immediate loads the way the kernel's
loader does: ``MAP_FD`` becomes the map's VM handle (the base of its storage
region) and ``MAP_VALUE`` a pointer into the value of a global-data map, so the
program reads and writes the very bytes the Python API sees.  Context accesses
are checked and rewritten for the program type, helper calls are checked
against its helper set.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..errors import NotSupportedError, ObjectParseError
from ..helpers.defaults import build_default_registry
from ..helpers.registry import HelperRegistry
from ..isa.instruction import Instruction
from ..isa.opcodes import PseudoSrc
from ..maps.factory import create_map
from ..object.spec import MapSpec, ProgramSpec
from ..progtypes import spec_for
from ..runtime.clock import Clock
from ..runtime.program import VmProgram
from ..runtime.state import Runtime
from ..runtime.task import Task
from ..runtime.testrun import test_run as vm_test_run
from ..runtime.tracelog import TraceLog
from ..vm.machine import DEFAULT_MAX_INSTRUCTIONS, Engine
from ..vm.memory import AddressSpace
from .testrun import TestRun

_KEY0 = bytes(4)


class VmBackend:
    """One runtime (address space, task, trace log, clocks) shared by every map and program."""

    name = "vm"

    def __init__(
        self,
        *,
        task: Task | None = None,
        trace_log: TraceLog | None = None,
        clock: Clock | None = None,
        seed: int | None = None,
        helpers: HelperRegistry | None = None,
        engine: Engine = "compiled",
        max_instructions: int = DEFAULT_MAX_INSTRUCTIONS,
    ) -> None:
        self.runtime = Runtime(AddressSpace(), task=task, trace_log=trace_log, clock=clock, seed=seed)
        self.helpers = helpers if helpers is not None else build_default_registry()
        self.engine: Engine = engine
        self.max_instructions = max_instructions
        self._maps: list[Any] = []
        self._programs: list[VmProgram] = []

    # -- maps ---------------------------------------------------------------------
    def create_map(self, spec: MapSpec) -> Any:
        if spec.inner is not None:
            raise NotSupportedError(f"map {spec.name}: maps of maps are not supported by the VM backend yet")
        bpf_map = create_map(
            spec.type, spec.key_size, spec.value_size, spec.max_entries, spec.flags, name=spec.name,
            map_extra=spec.map_extra,
        )  # fmt: skip
        if spec.data is not None:
            bpf_map.update(_KEY0, spec.data.ljust(spec.value_size, b"\0"))
            if spec.readonly:
                bpf_map.freeze()
        self.runtime.bind_map(bpf_map, spec.name)
        self._maps.append(bpf_map)
        return bpf_map

    # -- programs -------------------------------------------------------------------
    def _relocate(self, prog: ProgramSpec, insn: Instruction, maps: dict[str, Any]) -> Instruction:
        if not insn.is_lddw or insn.src not in (PseudoSrc.MAP_FD, PseudoSrc.MAP_VALUE):
            return insn
        ref = insn.meta.reference if insn.meta is not None else None
        if ref is None or ref not in maps:
            raise ObjectParseError(f"program {prog.name}: lddw refers to unknown map {ref!r}")
        binding = self.runtime.binding(ref)
        if insn.src == PseudoSrc.MAP_FD:
            return replace(insn, src=PseudoSrc.IMM64, imm=binding.handle)
        value_off = binding.map.value_offset(_KEY0)
        if value_off is None:
            raise ObjectParseError(f"program {prog.name}: map {ref} has no value to point into")
        return replace(insn, src=PseudoSrc.IMM64, imm=binding.handle + value_off + insn.imm_hi)

    def load_program(self, spec: ProgramSpec, maps: dict[str, Any]) -> VmProgram:
        insns = [self._relocate(spec, insn, maps) for insn in spec.instructions]
        program = VmProgram(
            spec.name,
            insns,
            spec_for(spec.prog_type, spec.expected_attach_type),
            self.runtime,
            self.helpers,
            engine=self.engine,
            max_instructions=self.max_instructions,
        )
        self._programs.append(program)
        return program

    def test_run(
        self,
        program: Any,
        *,
        data_in: bytes = b"",
        ctx_in: bytes | None = None,
        repeat: int = 1,
        flags: int = 0,
    ) -> TestRun:
        return vm_test_run(program, data_in=data_in, ctx_in=ctx_in, repeat=repeat, flags=flags)

    def close(self) -> None:
        for program in self._programs:
            program.close()
        for bpf_map in self._maps:
            bpf_map.close()
        self._programs.clear()
        self._maps.clear()
