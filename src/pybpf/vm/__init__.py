"""The userspace VM: memory model, engines (compiled and reference), helper dispatch.

``run(program, mem)`` runs a program once; :class:`VM` keeps a compiled program
and its address space for many runs.  See :mod:`pybpf.vm.memory` for the
address-space API other layers (maps, program contexts, helpers) build on.
"""

from __future__ import annotations

from .context import CallContext, InvalidProgramError, ProgramExit
from .image import Image
from .machine import DEFAULT_MAX_INSTRUCTIONS, MAX_CALL_DEPTH, STACK_SIZE, VM, Engine, run
from .memory import AddressSpace, Perm, Region
from .reference import TraceEvent

__all__ = [
    "DEFAULT_MAX_INSTRUCTIONS",
    "MAX_CALL_DEPTH",
    "STACK_SIZE",
    "VM",
    "AddressSpace",
    "CallContext",
    "Engine",
    "Image",
    "InvalidProgramError",
    "Perm",
    "ProgramExit",
    "Region",
    "TraceEvent",
    "run",
]
