"""Tracing program types: tracepoint records, raw argument arrays, pt_regs.

* TRACEPOINT: the context is the tracepoint's record, laid out as its ``format``
  file under ``/sys/kernel/tracing/events/<group>/<event>/format`` says.  Programs
  may read any aligned bytes past the 8-byte common header (``tp_prog_is_valid_access``);
  :func:`parse_tracepoint_format` reads the format text and
  :meth:`TracepointFormat.build_record` lays out a record from Python values.
* RAW_TRACEPOINT and TRACING (fentry/fexit/tp_btf): an array of up to 12 ``u64``
  arguments (``MAX_BPF_FUNC_ARGS``).
* KPROBE: x86-64 ``struct pt_regs`` (asm/ptrace.h), read-only.
* PERF_EVENT: ``struct bpf_perf_event_data`` = pt_regs, sample_period, addr.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import BPFError
from ..uapi import ProgType
from .base import (
    TRACING_HELPERS,
    CtxField,
    CtxLayout,
    ProgTypeSpec,
    ReturnKind,
    ReturnRule,
)

PERF_MAX_TRACE_SIZE = 2048
MAX_BPF_FUNC_ARGS = 12
TRACEPOINT_COMMON_SIZE = 8
TRACEFS_ROOTS = (Path("/sys/kernel/tracing"), Path("/sys/kernel/debug/tracing"))

PT_REGS_NAMES: tuple[str, ...] = (
    "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx",
    "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss",
)  # fmt: skip
PT_REGS_SIZE = 8 * len(PT_REGS_NAMES)
KPROBE_ARG_REGS: tuple[str, ...] = ("rdi", "rsi", "rdx", "rcx", "r8", "r9")
"""x86-64 calling convention: where PT_REGS_PARM1..6 read a kprobed function's arguments."""


class TracepointFormatError(BPFError):
    """A tracepoint format text that cannot be parsed, or a record that does not fit it."""


def _ro(
    name: str, off: int, size: int, count: int = 1, *, any_size: bool = False, narrow_read: bool = True
) -> CtxField:
    return CtxField(
        name, off, size, count, readable=True, writable=False, narrow_read=narrow_read, any_size=any_size
    )


# -- layouts ---------------------------------------------------------------

TRACEPOINT_CTX = CtxLayout(
    "tracepoint record",
    PERF_MAX_TRACE_SIZE,
    (_ro("record", TRACEPOINT_COMMON_SIZE, 1, PERF_MAX_TRACE_SIZE - TRACEPOINT_COMMON_SIZE, any_size=True),),
    min_offset=TRACEPOINT_COMMON_SIZE,
)
RAW_TP_ARGS = CtxLayout(
    "u64 args[12]", 8 * MAX_BPF_FUNC_ARGS, (_ro("args", 0, 8, MAX_BPF_FUNC_ARGS, any_size=True),)
)
PT_REGS = CtxLayout(
    "struct pt_regs",
    PT_REGS_SIZE,
    tuple(_ro(n, 8 * i, 8, any_size=True) for i, n in enumerate(PT_REGS_NAMES)),
)
PERF_EVENT_DATA = CtxLayout(
    "struct bpf_perf_event_data",
    PT_REGS_SIZE + 16,
    (
        # pe_prog_is_valid_access(): a register is read whole (sizeof(long)); only
        # sample_period and addr allow narrow loads.  Unlike kprobe's pt_regs.
        *(_ro(n, 8 * i, 8, narrow_read=False) for i, n in enumerate(PT_REGS_NAMES)),
        _ro("sample_period", PT_REGS_SIZE, 8),
        _ro("addr", PT_REGS_SIZE + 8, 8),
    ),
)

_IGNORED = ReturnRule(ReturnKind.ANY)
KPROBE_RETURNS = ReturnRule(ReturnKind.ANY, ((0, "drop the sample"), (1, "keep the sample")))

TRACEPOINT_SPEC = ProgTypeSpec(
    ProgType.TRACEPOINT,
    TRACEPOINT_CTX,
    KPROBE_RETURNS,
    TRACING_HELPERS,
    ctx_sized_by_user=True,
    description="static tracepoint: the context is the event record",
)
RAW_TRACEPOINT_SPEC = ProgTypeSpec(
    ProgType.RAW_TRACEPOINT, RAW_TP_ARGS, _IGNORED, TRACING_HELPERS, description="raw tracepoint: u64 args"
)
TRACING_SPEC = ProgTypeSpec(
    ProgType.TRACING, RAW_TP_ARGS, _IGNORED, TRACING_HELPERS, description="fentry/fexit/tp_btf: u64 args"
)
KPROBE_SPEC = ProgTypeSpec(
    ProgType.KPROBE, PT_REGS, KPROBE_RETURNS, TRACING_HELPERS, description="kprobe/uprobe: x86-64 pt_regs"
)
PERF_EVENT_SPEC = ProgTypeSpec(
    ProgType.PERF_EVENT,
    PERF_EVENT_DATA,
    KPROBE_RETURNS,
    TRACING_HELPERS,
    description="perf event sample: pt_regs, sample_period, addr",
)


# -- tracepoint format files ---------------------------------------------


@dataclass(frozen=True, slots=True)
class TracepointField:
    """One ``field:`` line of a format file."""

    decl: str  # the C declaration as written, e.g. "const char * filename"
    name: str
    offset: int
    size: int
    signed: bool

    @property
    def is_common(self) -> bool:
        return self.name.startswith("common_")

    @property
    def is_pointer(self) -> bool:
        return "*" in self.decl

    @property
    def array_len(self) -> int | None:
        match = re.search(r"\[(\d*)\]\s*$", self.decl)
        if match is None:
            return None
        return int(match.group(1)) if match.group(1) else 0


_FIELD_RE = re.compile(
    r"field:(?P<decl>[^;]+);\s*offset:(?P<off>\d+);\s*size:(?P<size>\d+);\s*signed:(?P<signed>[01]);"
)


@dataclass(frozen=True, slots=True)
class TracepointFormat:
    """A parsed tracepoint format: event name, id and fields in record order."""

    name: str
    id: int
    fields: tuple[TracepointField, ...]

    @property
    def size(self) -> int:
        return max((f.offset + f.size for f in self.fields), default=TRACEPOINT_COMMON_SIZE)

    def field(self, name: str) -> TracepointField:
        for f in self.fields:
            if f.name == name:
                return f
        raise TracepointFormatError(f"tracepoint {self.name} has no field {name!r}")

    def build_record(
        self,
        values: Mapping[str, int | bytes],
        *,
        pid: int = 0,
        pointer_values: Mapping[str, int] | None = None,
    ) -> bytes:
        """Lay out a record: integers are packed at their offsets with their size.

        ``bytes`` values fill char arrays.  Pointer fields (``const char *``) take an
        integer address: callers that place strings in VM memory pass the
        addresses in ``pointer_values``.  ``common_type`` is the event id and
        ``common_pid`` the given pid, as the kernel fills them.
        """
        buf = bytearray(self.size)
        merged: dict[str, int | bytes] = {"common_type": self.id, "common_pid": pid}
        merged.update(values)
        if pointer_values:
            merged.update(pointer_values)
        known = {f.name for f in self.fields}
        unknown = sorted(set(values) - known)
        if unknown:
            raise TracepointFormatError(f"tracepoint {self.name} has no field(s) {', '.join(unknown)}")
        for f in self.fields:
            if f.name not in merged:
                continue
            value = merged[f.name]
            if isinstance(value, (bytes, bytearray)):
                if len(value) > f.size:
                    raise TracepointFormatError(
                        f"{len(value)} bytes do not fit field {f.name} ({f.size} bytes)"
                    )
                buf[f.offset : f.offset + len(value)] = value
                continue
            if f.size not in (1, 2, 4, 8):
                raise TracepointFormatError(f"field {f.name} of {f.size} bytes needs a bytes value")
            lo = -(1 << (8 * f.size - 1))
            hi = (1 << (8 * f.size)) - 1
            if not lo <= value <= hi:
                raise TracepointFormatError(f"value {value} does not fit field {f.name} ({f.size} bytes)")
            buf[f.offset : f.offset + f.size] = (value & hi).to_bytes(f.size, "little")
        return bytes(buf)

    def decode_record(self, record: bytes) -> dict[str, int | bytes]:
        """The inverse of :meth:`build_record` for integers and char arrays."""
        out: dict[str, int | bytes] = {}
        for f in self.fields:
            raw = record[f.offset : f.offset + f.size]
            if len(raw) < f.size:
                break
            if f.array_len is not None and f.size not in (1, 2, 4, 8):
                out[f.name] = bytes(raw)
            else:
                out[f.name] = int.from_bytes(raw, "little", signed=f.signed)
        return out


def parse_tracepoint_format(text: str) -> TracepointFormat:
    """Parse the text of a tracefs ``format`` file."""
    name_match = re.search(r"^name:\s*(\S+)", text, re.M)
    id_match = re.search(r"^ID:\s*(\d+)", text, re.M)
    if name_match is None or id_match is None:
        raise TracepointFormatError("tracepoint format text lacks its name: or ID: line")
    fields = []
    for match in _FIELD_RE.finditer(text):
        decl = match.group("decl").strip()
        ident = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*(\[[^\]]*\])?\s*$", decl)
        if ident is None:
            raise TracepointFormatError(f"cannot find the field name in {decl!r}")
        fields.append(
            TracepointField(
                decl,
                ident.group(1),
                int(match.group("off")),
                int(match.group("size")),
                match.group("signed") == "1",
            )
        )
    if not fields:
        raise TracepointFormatError(f"tracepoint {name_match.group(1)} format has no fields")
    fields.sort(key=lambda f: f.offset)
    return TracepointFormat(name_match.group(1), int(id_match.group(1)), tuple(fields))


def load_tracepoint_format(category: str, event: str) -> TracepointFormat:
    """Read ``<category>/<event>/format`` from tracefs on this machine."""
    if "/" in category or "/" in event or ".." in (category, event):
        raise TracepointFormatError(f"bad tracepoint name {category}:{event}")
    for root in TRACEFS_ROOTS:
        path = root / "events" / category / event / "format"
        try:
            return parse_tracepoint_format(path.read_text())
        except OSError:
            continue
    raise TracepointFormatError(
        f"tracepoint {category}:{event} format not found under {', '.join(map(str, TRACEFS_ROOTS))}",
        hint="mount tracefs (mount -t tracefs nodev /sys/kernel/tracing) or pass the format text",
    )


def pt_regs_bytes(regs: Mapping[str, int] | None = None, *, args: tuple[int, ...] = ()) -> bytes:
    """A ``struct pt_regs`` image: named registers, or function ``args`` in ABI order."""
    values = dict.fromkeys(PT_REGS_NAMES, 0)
    if len(args) > len(KPROBE_ARG_REGS):
        raise BPFError(f"x86-64 passes at most {len(KPROBE_ARG_REGS)} arguments in registers")
    for reg, value in zip(KPROBE_ARG_REGS, args, strict=False):
        values[reg] = value
    for reg, value in (regs or {}).items():
        if reg not in values:
            raise BPFError(f"pt_regs has no register {reg!r} (known: {', '.join(PT_REGS_NAMES)})")
        values[reg] = value
    return struct.pack(f"<{len(PT_REGS_NAMES)}Q", *(values[n] & (1 << 64) - 1 for n in PT_REGS_NAMES))


def u64_args_bytes(args: tuple[int, ...]) -> bytes:
    """The context of a raw tracepoint / fentry program: the arguments as u64s."""
    if len(args) > MAX_BPF_FUNC_ARGS:
        raise BPFError(f"at most {MAX_BPF_FUNC_ARGS} arguments (got {len(args)})")
    return b"".join((a & (1 << 64) - 1).to_bytes(8, "little") for a in args)


def perf_event_data_bytes(
    regs: Mapping[str, int] | None = None, *, sample_period: int = 0, addr: int = 0
) -> bytes:
    """A ``struct bpf_perf_event_data`` image: the sampled pt_regs, sample_period and addr."""
    return pt_regs_bytes(regs) + struct.pack("<QQ", sample_period & (1 << 64) - 1, addr & (1 << 64) - 1)
