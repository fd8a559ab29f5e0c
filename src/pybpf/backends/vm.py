"""The VM backend: maps are native pybpf maps, programs run in the userspace VM.

Loading a program resolves its 64-bit immediate loads the way the kernel's
loader does: ``MAP_FD`` becomes the map's VM handle (the base of its storage
region) and ``MAP_VALUE`` a pointer into the value of a global-data map, so the
program reads and writes the very bytes the Python API sees.  Context accesses
are checked and rewritten for the program type, helper calls are checked
against its helper set.

Externs (see :mod:`pybpf.runtime.externs`): ``prepare`` adds the ``.kconfig``
map (values from ``kernel_version`` / ``kconfig`` / the host's config), lddw of
a kconfig extern becomes a pointer into it, of an untyped ksym its address
(``ksyms``, 0 when weak and missing), and kfunc calls are bound by name to the
VM's kfunc implementations.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..errors import MapError, ObjectParseError
from ..helpers.defaults import build_default_registry
from ..helpers.impl_kfuncs import KfuncSpec
from ..helpers.registry import HelperRegistry
from ..isa.instruction import Instruction
from ..isa.opcodes import CallSrc, InsnClass, JmpOp, PseudoSrc
from ..maps.factory import create_map
from ..object.spec import MapKind, MapSpec, ObjectSpec, ProgramSpec
from ..progtypes import spec_for
from ..runtime.clock import Clock
from ..runtime.externs import (
    KconfigLayout,
    KconfigValue,
    build_kconfig,
    kconfig_map_spec,
    resolve_kfuncs,
    resolve_ksyms,
)
from ..runtime.mapview import MapView
from ..runtime.program import VmProgram
from ..runtime.state import Runtime
from ..runtime.task import Task
from ..runtime.testrun import test_run as vm_test_run
from ..runtime.testrun import trigger as vm_trigger
from ..runtime.tracelog import TraceLog
from ..uapi import MapType
from ..vm.machine import DEFAULT_MAX_INSTRUCTIONS, Engine
from ..vm.memory import AddressSpace
from .testrun import TestRun

_KEY0 = bytes(4)
_MAP_IN_MAP = (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS)
_CALL = InsnClass.JMP | JmpOp.CALL


def _kernel_name(name: str) -> str:
    """The name the kernel keeps: libbpf cuts it to BPF_OBJ_NAME_LEN - 1 and drops other characters."""
    return "".join(c for c in name if c.isascii() and (c.isalnum() or c in "_."))[:15]


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
        btf: Any = None,
        num_cpus: int | None = None,
        kernel_version: int | None = None,
        kconfig: Mapping[str, KconfigValue] | None = None,
        kconfig_from_host: bool = True,
        ksyms: Mapping[str, int] | None = None,
    ) -> None:
        #: The object's parsed BTF: maps get typed keys/values and bpf_spin_lock offsets from it.
        self.btf = btf
        self.num_cpus = num_cpus
        self.runtime = Runtime(AddressSpace(), task=task, trace_log=trace_log, clock=clock, seed=seed)
        if num_cpus is not None:
            self.runtime.num_cpus = num_cpus
        self.helpers = helpers if helpers is not None else build_default_registry()
        self.engine: Engine = engine
        self.max_instructions = max_instructions
        self._maps: list[Any] = []
        self._programs: list[VmProgram] = []
        self._maps_by_name: dict[str, Any] = {}
        self._programs_by_name: dict[str, VmProgram] = {}
        #: Initial values (prog arrays, maps of maps) whose target is not loaded yet:
        #: target name -> [(outer map, index)].
        self._pending: dict[str, list[tuple[Any, int]]] = {}
        #: LINUX_KERNEL_VERSION for programs (default: the host's uname release).
        self.kernel_version = kernel_version
        #: CONFIG_* values; missing ones come from the host's config unless kconfig_from_host=False.
        self.kconfig = dict(kconfig or {})
        self.kconfig_from_host = kconfig_from_host
        #: Addresses of untyped __ksym externs (the VM has no kallsyms; weak missing ones are 0).
        self.ksyms = dict(ksyms or {})
        self._kconfig: KconfigLayout | None = None
        self._kconfig_map: str | None = None
        self._ksym_addrs: dict[str, int] = {}
        self._kfuncs: dict[str, KfuncSpec] = {}

    @property
    def trace_log(self) -> TraceLog:
        """Where bpf_printk output of this backend's programs goes."""
        return self.runtime.trace_log

    # -- whole object ----------------------------------------------------------------
    def prepare(self, spec: ObjectSpec) -> ObjectSpec:
        """Resolve the object's externs; returns the spec with its ``.kconfig`` map added."""
        if self.btf is None:
            self.btf = spec.btf  # typed map keys/values from the object's own BTF, as in the kernel
        self._kconfig = build_kconfig(
            spec, kernel_version=self.kernel_version, kconfig=self.kconfig, host_config=self.kconfig_from_host
        )
        self._ksym_addrs = resolve_ksyms(spec, self.ksyms)
        self._kfuncs = resolve_kfuncs(spec)
        if self._kconfig is None:
            return spec
        kmap = kconfig_map_spec(spec, self._kconfig)
        self._kconfig_map = kmap.name
        return replace(spec, maps={**spec.maps, kmap.name: kmap})

    # -- maps ---------------------------------------------------------------------
    def _new_map(self, spec: MapSpec, *, inner: Any = None) -> Any:
        typed = self.btf is not None and spec.kind is MapKind.BTF and spec.value_type_id
        max_entries = spec.max_entries
        if spec.type is MapType.PERF_EVENT_ARRAY and max_entries == 0:
            max_entries = self.num_cpus or os.cpu_count() or 1  # libbpf: one slot per possible CPU
        return create_map(
            spec.type, spec.key_size, spec.value_size, max_entries, spec.flags, name=_kernel_name(spec.name),
            map_extra=spec.map_extra, inner_map=inner, num_cpus=self.num_cpus,
            btf=self.btf if typed else None,
            btf_key=spec.key_type_id if typed else None,
            btf_value=spec.value_type_id if typed else None,
        )  # fmt: skip

    def create_map(self, spec: MapSpec) -> Any:
        template = None
        if spec.type in _MAP_IN_MAP:
            if spec.inner is None:
                raise ObjectParseError(f"map {spec.name}: a map of maps needs an inner map definition")
            template = self._new_map(replace(spec.inner, name=""))
        try:
            bpf_map = self._new_map(spec, inner=template)
        finally:
            if template is not None:
                template.close()  # the outer map copied what it needs (the template's attributes)
        if spec.data is not None:
            bpf_map.update(_KEY0, spec.data.ljust(spec.value_size, b"\0"))
            if spec.readonly:
                bpf_map.freeze()
        self.runtime.bind_map(bpf_map, spec.name)
        self._maps.append(bpf_map)
        self._maps_by_name[spec.name] = bpf_map
        for index, target in spec.initial_values:
            self._pending.setdefault(target, []).append((bpf_map, index))
        self._fill_pending(spec.name, bpf_map)
        for name, existing in list(self._maps_by_name.items()):
            self._fill_pending(name, existing)
        return MapView(bpf_map)

    def _fill_pending(self, name: str, target: Any) -> None:
        """Store ``target`` (a map or program now live) in the outer maps that name it."""
        for outer, index in self._pending.pop(name, ()):
            try:
                outer.update(index.to_bytes(4, "little"), target)
            except MapError as exc:
                raise ObjectParseError(f"map {outer.name}: initial value [{index}] = {name}: {exc}") from exc

    # -- programs -------------------------------------------------------------------
    def _relocate(self, prog: ProgramSpec, insn: Instruction, maps: dict[str, Any]) -> Instruction:
        ref = insn.meta.reference if insn.meta is not None else None
        if insn.opcode == _CALL and insn.src == CallSrc.KFUNC:
            kfunc = self._kfuncs.get(ref or "")
            if kfunc is None:
                raise ObjectParseError(f"program {prog.name}: kfunc call to unknown extern {ref!r}")
            return replace(insn, imm=kfunc.id, off=0)
        if not insn.is_lddw:
            return insn
        if insn.src == PseudoSrc.IMM64 and ref is not None and ref not in maps:
            return self._relocate_extern(prog, insn, ref)
        if insn.src not in (PseudoSrc.MAP_FD, PseudoSrc.MAP_VALUE):
            return insn
        if ref is None or ref not in maps:
            raise ObjectParseError(f"program {prog.name}: lddw refers to unknown map {ref!r}")
        binding = self.runtime.binding(ref)
        if insn.src == PseudoSrc.MAP_FD:
            return replace(insn, src=PseudoSrc.IMM64, imm=binding.handle)
        value_off = binding.map.value_offset(_KEY0)
        if value_off is None:
            raise ObjectParseError(f"program {prog.name}: map {ref} has no value to point into")
        return replace(insn, src=PseudoSrc.IMM64, imm=binding.handle + value_off + insn.imm_hi)

    def _relocate_extern(self, prog: ProgramSpec, insn: Instruction, ref: str) -> Instruction:
        """lddw of a kconfig extern: a pointer into the .kconfig map; of a ksym: its address."""
        if self._kconfig is not None and self._kconfig_map is not None and ref in self._kconfig.offsets:
            binding = self.runtime.binding(self._kconfig_map)
            value_off = binding.map.value_offset(_KEY0) or 0
            return replace(insn, imm=binding.handle + value_off + self._kconfig.offsets[ref] + insn.imm_lo)
        if ref in self._ksym_addrs:
            return replace(insn, imm=(self._ksym_addrs[ref] + insn.imm_lo) & 0xFFFFFFFFFFFFFFFF)
        return insn  # a plain 64-bit constant whose relocation names something else (a function)

    def load_program(self, spec: ProgramSpec, maps: dict[str, Any]) -> VmProgram:
        insns = [self._relocate(spec, insn, maps) for insn in spec.instructions]
        used = {
            i.meta.reference
            for i in insns
            if i.src == CallSrc.KFUNC and i.opcode == _CALL and i.meta is not None and i.meta.reference
        }
        program = VmProgram(
            spec.name,
            insns,
            spec_for(spec.prog_type, spec.expected_attach_type),
            self.runtime,
            self.helpers,
            engine=self.engine,
            max_instructions=self.max_instructions,
            kfuncs=[self._kfuncs[name] for name in sorted(used)],
            expected_attach_type=spec.expected_attach_type,
        )
        self._programs.append(program)
        self._programs_by_name[spec.name] = program
        self._fill_pending(spec.name, program)
        return program

    def test_run(
        self,
        program: Any,
        *,
        data_in: bytes = b"",
        ctx_in: bytes | None = None,
        repeat: int = 1,
        data_size_out: int | None = None,
        flags: int = 0,
    ) -> TestRun:
        return vm_test_run(
            program, data_in=data_in, ctx_in=ctx_in, repeat=repeat, data_size_out=data_size_out, flags=flags
        )

    def trigger(self, program: Any, ctx_in: bytes = b"", *, repeat: int = 1) -> TestRun:
        """Fire a tracing program's event with ``ctx_in`` as its context (see runtime.testrun.trigger)."""
        return vm_trigger(program, ctx_in, repeat=repeat)

    def close(self) -> None:
        for program in self._programs:
            program.close()
        for bpf_map in self._maps:
            bpf_map.close()
        self._programs.clear()
        self._maps.clear()
        self._maps_by_name.clear()
        self._programs_by_name.clear()
        self._pending.clear()
