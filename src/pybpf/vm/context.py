"""What a helper sees when the VM calls it, and how it stops a program."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ProgramExitError, VMError

if TYPE_CHECKING:
    from ..helpers.registry import HelperRegistry
    from .memory import AddressSpace


@dataclass(slots=True, eq=False)
class CallContext:
    """Passed as the first argument to every helper implementation.

    ``memory``: the address space of the running program (checked accessors
    ``read``/``write``/``view``/``load``/``store``).  ``state``: per-VM runtime
    state shared by helpers (e.g. ring buffers, the trace pipe), keyed by the
    helper family's name.  ``helpers``: the registry the program was bound to.
    """

    memory: AddressSpace
    helpers: HelperRegistry
    state: dict[str, Any] = field(default_factory=dict)


class ProgramExit(ProgramExitError):
    """Raised by a helper to end the program at once with ``r0`` as its result."""

    def __init__(self, r0: int = 0, reason: str = "program stopped by a helper") -> None:
        super().__init__(reason)
        self.r0 = r0 & 0xFFFFFFFFFFFFFFFF


class InvalidProgramError(VMError):
    """A program the VM cannot run at all: bad jump target, unresolved lddw, call outside it."""


def relocate_error(exc: VMError, pc: int, insn: str) -> VMError:
    """A copy of ``exc`` that also names the pc and instruction (for errors raised by helpers)."""
    if exc.pc is not None:
        return exc
    message = exc.message
    suffix = ""
    if exc.address is not None:
        suffix += f", address {exc.address:#x}"
    if exc.region is not None:
        suffix += f", nearest region {exc.region}"
    if suffix and message.endswith(suffix):
        message = message[: -len(suffix)]
    try:
        new = type(exc)(message, pc=pc, insn=insn, address=exc.address, region=exc.region)
    except TypeError:
        return exc
    new.__cause__ = exc.__cause__
    return new
