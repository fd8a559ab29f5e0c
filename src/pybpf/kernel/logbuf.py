"""Verifier-log handling shared by BPF_PROG_LOAD and BPF_BTF_LOAD.

Strategy (the one libbpf uses): try without a log, which is fastest and succeeds
for good input; on failure retry with log level 1 so the error can be explained.
A log that does not fit makes the kernel fail with ENOSPC (even when the program
itself verified), so the buffer grows -- straight to ``log_true_size`` when the
kernel reports it (6.4+), else fourfold -- up to :data:`MAX_LOG_SIZE`.
"""

from __future__ import annotations

import ctypes
import errno as _errno
from dataclasses import dataclass

from ..uapi import Cmd
from . import syscall
from .attr import addr

INITIAL_LOG_SIZE = 64 * 1024
MAX_LOG_SIZE = 16 * 1024 * 1024

_NOISE_PREFIXES = (
    "processed ",
    "verification time",
    "stack depth",
    "-- END PROG LOAD LOG --",
    "Validating ",
    "btf_vmlinux is malformed",
)


@dataclass(frozen=True, slots=True)
class LogFields:
    """Names of the log fields in one attr layout."""

    level: str
    size: str
    buf: str
    true_size: str


PROG_LOG = LogFields("log_level", "log_size", "log_buf", "log_true_size")
BTF_LOG = LogFields("btf_log_level", "btf_log_size", "btf_log_buf", "btf_log_true_size")


def call_with_log(
    cmd: Cmd,
    attr: ctypes.Structure,
    fields: LogFields,
    *,
    log_level: int = 0,
    log_size: int | None = None,
) -> tuple[int, str]:
    """Run ``cmd``; returns (result or -errno, log text).

    With ``log_level`` 0 the first attempt runs without a log and only a failure
    triggers the logged retry; a non-zero level logs from the start (and keeps the
    log of a successful load, e.g. for ``--log-level 2`` statistics).
    """
    if log_level == 0:
        rc = syscall.bpf_raw(cmd, attr)
        if rc >= 0 or rc == -_errno.EPERM:
            return rc, ""
        level = 1
    else:
        level = log_level
    size = max(log_size or INITIAL_LOG_SIZE, 256)
    while True:
        buf = ctypes.create_string_buffer(size)
        setattr(attr, fields.level, level)
        setattr(attr, fields.size, size)
        setattr(attr, fields.buf, addr(buf))
        setattr(attr, fields.true_size, 0)
        rc = syscall.bpf_raw(cmd, attr)
        log = buf.value.decode(errors="replace")
        if rc == -_errno.ENOSPC and size < MAX_LOG_SIZE:
            wanted = int(getattr(attr, fields.true_size))
            size = min(MAX_LOG_SIZE, wanted + 1 if wanted > size else size * 4)
            continue
        # Do not leave a pointer to a dead buffer in the caller's attr.
        setattr(attr, fields.buf, 0)
        setattr(attr, fields.size, 0)
        setattr(attr, fields.level, 0)
        return rc, log


def summary_line(log: str) -> str:
    """The last line of a verifier log that says what went wrong (statistics skipped)."""
    for line in reversed(log.splitlines()):
        text = line.strip()
        if text and not text.startswith(_NOISE_PREFIXES):
            return text
    return ""
