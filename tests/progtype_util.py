"""Shared setup for the progtypes / helpers / test_run tests: a runtime and programs from assembler."""

from __future__ import annotations

from pybpf.helpers.defaults import build_default_registry
from pybpf.isa import assemble
from pybpf.progtypes import spec_for
from pybpf.runtime.clock import FixedClock
from pybpf.runtime.program import VmProgram
from pybpf.runtime.state import Runtime
from pybpf.runtime.task import Task
from pybpf.uapi import ProgType
from pybpf.vm.memory import AddressSpace

TASK = Task(pid=4242, tgid=4240, uid=1000, gid=100, comm="pybpf-test", cpu=1)
REGISTRY = build_default_registry()


def make_runtime(**kw: object) -> Runtime:
    return Runtime(AddressSpace(), task=TASK, clock=FixedClock(1_234_567_890_123), seed=7, **kw)  # type: ignore[arg-type]


def program(text: str, prog_type: ProgType, runtime: Runtime | None = None, **kw: object) -> VmProgram:
    rt = runtime if runtime is not None else make_runtime()
    return VmProgram("test", assemble(text), spec_for(prog_type), rt, REGISTRY, **kw)  # type: ignore[arg-type]
