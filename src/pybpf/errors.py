"""One exception hierarchy for every layer of pybpf.

Every error a user can provoke with bad input derives from :class:`BPFError`, so a
caller (and the CLI) can catch one class and print one line.  Each layer has its
own subclass carrying the location that makes the message actionable: an
instruction index, a source line and column, an ELF section and offset, a pc and
an address, an errno and a bpf(2) command name.
"""

from __future__ import annotations

import errno as _errno
import os


class BPFError(Exception):
    """Root of every error pybpf raises on purpose.

    ``hint`` is a short suggestion of what to do about it; the CLI prints it after
    the message.
    """

    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:
        return self.message


# -- isa -------------------------------------------------------------------


class InvalidInstructionError(BPFError):
    """Bytes that do not encode a valid instruction, naming the index and why."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(f"invalid instruction at index {index}: {reason}")
        self.index = index
        self.reason = reason


class AsmError(BPFError):
    """Assembler text that does not parse: line, column and what was expected."""

    def __init__(self, line: int, column: int, reason: str, *, text: str = "") -> None:
        super().__init__(f"line {line}, column {column}: {reason}")
        self.line = line
        self.column = column
        self.reason = reason
        self.text = text


# -- objects, BTF ----------------------------------------------------------


def _located(message: str, section: str | None, offset: int | None) -> str:
    """``message (section S, offset 0xN)``: where in a file the problem is."""
    where = []
    if section is not None:
        where.append(f"section {section}")
    if offset is not None:
        where.append(f"offset {offset:#x}")
    return f"{message} ({', '.join(where)})" if where else message


class ObjectParseError(BPFError):
    """An ELF object that cannot be read as a BPF object."""

    def __init__(
        self,
        message: str,
        *,
        section: str | None = None,
        offset: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(_located(message, section, offset), hint=hint)
        self.section = section
        self.offset = offset


class BTFError(BPFError):
    """BTF or BTF.ext data that is malformed.

    ``offset`` is relative to the start of the BTF (or BTF.ext) data; ``section``
    names the ELF section it was read from (``.BTF``, ``.BTF.ext``) when it came
    from an object file, so the message says where to look.
    """

    def __init__(self, message: str, *, offset: int | None = None, section: str | None = None) -> None:
        super().__init__(_located(message, section, offset))
        self.reason = message
        self.offset = offset
        self.section = section

    def in_section(self, section: str) -> BTFError:
        """This error, naming the ELF ``section`` its data came from (if it does not yet)."""
        if self.section is not None:
            return self
        return BTFError(self.reason, offset=self.offset, section=section)


class CORERelocationError(BTFError):
    """A CO-RE relocation that cannot be resolved against the target BTF."""


# -- verifier --------------------------------------------------------------


class VerifierError(BPFError):
    """A program the verifier (ours or the kernel's) rejected.

    ``summary`` is the one line that matters; ``log`` is the full verifier log.
    """

    def __init__(self, summary: str, log: str = "", *, hint: str | None = None) -> None:
        super().__init__(summary, hint=hint)
        self.summary = summary
        self.log = log


# -- vm --------------------------------------------------------------------


class VMError(BPFError):
    """A fault while a program runs in the VM, with where it happened."""

    def __init__(
        self,
        message: str,
        *,
        pc: int | None = None,
        insn: str | None = None,
        address: int | None = None,
        region: str | None = None,
    ) -> None:
        parts = [message]
        if pc is not None:
            parts.append(f"at pc {pc}" + (f" ({insn})" if insn else ""))
        if address is not None:
            parts.append(f"address {address:#x}")
        if region is not None:
            parts.append(f"nearest region {region}")
        super().__init__(", ".join(parts))
        self.pc = pc
        self.insn = insn
        self.address = address
        self.region = region


class HelperArgumentError(VMError):
    """A helper called with an argument the kernel's verifier would have refused at load.

    The VM has no verifier yet, so it refuses at the call instead: a map argument
    that is not a map, a size past what the helper may touch.  Names the pc and
    the call instruction (hence the helper).
    """


class MemoryAccessError(VMError):
    """A load or store outside the regions the VM gave the program, or without permission."""


class DivisionError(VMError):
    """Reserved for runtimes that trap on division (pybpf follows RFC 9669: no trap)."""


class InstructionLimitError(VMError):
    """The program executed more instructions than its budget allowed."""


class CallDepthError(VMError):
    """bpf-to-bpf calls nested deeper than the limit."""


class UnknownHelperError(VMError):
    """A call to a helper id that no registry entry provides."""


class ProgramExitError(VMError):
    """A helper asked the program to stop (e.g. the conformance suite's unwind helper)."""


# -- maps ------------------------------------------------------------------


class MapError(BPFError):
    """A map operation the kernel would refuse; ``errno`` is the kernel's code."""

    errno: int = _errno.EINVAL

    def __init__(self, message: str, *, errno: int | None = None, map_name: str | None = None) -> None:
        if errno is not None:
            self.errno = errno
        prefix = f"map {map_name!r}: " if map_name else ""
        super().__init__(f"{prefix}{message} [{_errno.errorcode.get(self.errno, self.errno)}]")
        self.map_name = map_name


class MapFullError(MapError):
    """E2BIG: no room for a new element (or, for arrays, an index past max_entries)."""

    errno = _errno.E2BIG


class MapKeyExistsError(MapError):
    """EEXIST: BPF_NOEXIST and the key is present."""

    errno = _errno.EEXIST


class MapKeyNotFoundError(MapError, KeyError):
    """ENOENT: the key is absent (a KeyError, as for a dict)."""

    errno = _errno.ENOENT

    def __str__(self) -> str:
        return self.message


class MapPermissionError(MapError):
    """EPERM: the map is frozen, or read-only/write-only for this caller."""

    errno = _errno.EPERM


class MapBatchError(MapError):
    """A batch operation stopped part way; ``processed`` elements were done first."""

    def __init__(self, cause: MapError, processed: int) -> None:
        super().__init__(
            f"batch stopped after {processed} element(s): {cause.message}",
            errno=cause.errno,
            map_name=cause.map_name,
        )
        self.processed = processed
        self.cause = cause


def map_error_class(err: int) -> type[MapError]:
    """The MapError subclass for an errno, so both backends raise the same type for the same errno."""
    return _MAP_ERROR_CLASSES.get(err, MapError)


_MAP_ERROR_CLASSES: dict[int, type[MapError]] = {
    _errno.ENOENT: MapKeyNotFoundError,
    _errno.EEXIST: MapKeyExistsError,
    _errno.E2BIG: MapFullError,
    _errno.ENOSPC: MapFullError,  # an LPM trie with no room
    _errno.EPERM: MapPermissionError,
}


# -- kernel ----------------------------------------------------------------


class KernelError(BPFError):
    """A bpf(2) or perf_event_open call that failed, with the command and errno."""

    def __init__(self, command: str, errno: int, *, detail: str = "", hint: str | None = None) -> None:
        name = _errno.errorcode.get(errno, str(errno))
        msg = f"{command} failed: {name} ({os.strerror(errno)})"
        if detail:
            msg += f": {detail}"
        super().__init__(msg, hint=hint)
        self.command = command
        self.errno = errno


class StructOpsError(BPFError):
    """A struct_ops variable that does not fit the kernel's struct (names the member)."""

    def __init__(
        self, message: str, *, struct_ops: str | None, member: str | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.struct_ops = struct_ops
        self.member = member


class NotSupportedError(BPFError):
    """A feature pybpf (or this machine) does not provide, naming what is missing."""
