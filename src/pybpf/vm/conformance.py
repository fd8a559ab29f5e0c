"""The bpf_conformance suite's conventions: its test-file format and its helpers.

Used by the test suite and by ``pybpf conformance-plugin``.  The suite's
runner gives helper id 5 the meaning "unwind": it returns r1, and when r1 is 0
the program stops with r0 = 0.  That is a test convention, not a kernel helper
(id 5 is ktime_get_ns), so it lives only in :func:`conformance_helpers`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import BPFError
from ..helpers.registry import HelperProto, HelperRegistry, HelperSpec
from ..isa.codec import decode
from ..isa.instruction import Instruction
from .context import CallContext, ProgramExit

UNWIND_HELPER_ID = 5


def _unwind(ctx: CallContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    if r1 == 0:
        raise ProgramExit(0, "unwind helper called with r1 = 0")
    return r1


def conformance_helpers() -> HelperRegistry:
    """The helpers the conformance suite's programs call (only "unwind", id 5)."""
    return HelperRegistry([HelperSpec(UNWIND_HELPER_ID, "unwind", HelperProto(), _unwind)])


class ConformanceFileError(BPFError):
    """A conformance test file that does not follow the suite's format."""


@dataclass(frozen=True, slots=True)
class ConformanceCase:
    """One ``.data`` file: the program text or raw slots, input memory and the expectation."""

    name: str
    asm: str
    raw: bytes | None
    mem: bytes
    result: int | None
    error: str | None

    def program(self) -> list[Instruction]:
        """The instructions to run: ``-- raw`` wins over ``-- asm``."""
        if self.raw is not None:
            return decode(self.raw)
        from ..isa.asm import assemble

        return assemble(self.asm, "conformance")


_KNOWN = {"asm", "result", "mem", "raw", "error", "c", "no register offset"}


def parse_case(text: str, name: str = "<conformance>") -> ConformanceCase:
    """Parse the suite's ``.data`` format (see shared/conformance/README.md)."""
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.splitlines():
        if "--" in line and line.strip().startswith("--"):
            current = line.strip()[2:].strip()
            if current not in _KNOWN:
                raise ConformanceFileError(f"{name}: unknown section '-- {current}'")
            sections.setdefault(current, [])
            continue
        if current is not None:
            sections[current].append(line)
    if "asm" not in sections and "raw" not in sections:
        raise ConformanceFileError(f"{name}: no '-- asm' or '-- raw' section")

    def tokens(key: str) -> list[str]:
        out: list[str] = []
        for line in sections.get(key, []):
            out.extend(line.split("#", 1)[0].split())
        return out

    raw = None
    if "raw" in sections:
        try:
            raw = b"".join(int(tok, 16).to_bytes(8, "little") for tok in tokens("raw"))
        except (ValueError, OverflowError) as exc:
            raise ConformanceFileError(f"{name}: bad '-- raw' slot: {exc}") from None
    try:
        mem = bytes(int(tok, 16) for tok in tokens("mem"))
    except ValueError as exc:
        raise ConformanceFileError(f"{name}: bad '-- mem' byte: {exc}") from None
    result = None
    if "result" in sections:
        lines = [ln.split("#", 1)[0].strip() for ln in sections["result"]]
        lines = [ln for ln in lines if ln]
        if lines:
            last = lines[-1]
            try:
                result = (int(last, 16) if "0x" in last else int(last)) & 0xFFFFFFFFFFFFFFFF
            except ValueError:
                raise ConformanceFileError(f"{name}: bad result {last!r}") from None
    error = None
    if "error" in sections:
        error = "\n".join(ln for ln in sections["error"] if ln.strip()).strip()
    return ConformanceCase(name, "\n".join(sections.get("asm", [])), raw, mem, result, error)


def load_case(path: Path) -> ConformanceCase:
    return parse_case(path.read_text(), path.name)
