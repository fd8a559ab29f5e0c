"""BPF_BTF_LOAD: hand raw BTF bytes to the kernel, explaining a rejection with its log."""

from __future__ import annotations

import ctypes

from ..errors import BPFError, BTFError
from ..uapi import Cmd
from . import syscall
from .attr import BtfLoadAttr, addr
from .fd import FDObject, OwnedFD
from .info import BtfInfo, btf_data, btf_info
from .logbuf import BTF_LOG, call_with_log, summary_line


class BTFLoadError(BTFError):
    """The kernel refused a BTF blob; ``log`` is its BTF verifier log, ``errno`` the error."""

    def __init__(self, message: str, *, log: str, errno: int, hint: str | None = None) -> None:
        super().__init__(message)
        self.log = log
        self.errno = errno
        self.command = "btf_load"
        if hint is not None:
            self.hint = hint


class KernelBTF(FDObject):
    """A BTF object in the kernel (program/map BTF, or vmlinux/module BTF opened by id)."""

    __slots__ = ("log",)

    def __init__(self, owned: OwnedFD, log: str = "") -> None:
        super().__init__(owned)
        self.log = log

    def info(self) -> BtfInfo:
        return btf_info(self.fd)

    @property
    def id(self) -> int:
        return self.info().id

    def data(self) -> bytes:
        """The raw BTF bytes as the kernel holds them."""
        return btf_data(self.fd)


def load_btf(raw: bytes, *, log_level: int = 0, log_size: int | None = None) -> KernelBTF:
    """Load ``raw`` BTF; a rejection raises :class:`BTFLoadError` with the kernel's log."""
    if not isinstance(raw, bytes | bytearray) or not raw:
        raise BTFError("BTF data must be non-empty bytes")
    buf = ctypes.create_string_buffer(bytes(raw), len(raw))
    attr = BtfLoadAttr(btf=addr(buf), btf_size=len(raw))
    rc, log = call_with_log(Cmd.BTF_LOAD, attr, BTF_LOG, log_level=log_level, log_size=log_size)
    if rc < 0:
        kernel = syscall.error(Cmd.BTF_LOAD, -rc)
        if not log.strip():
            raise kernel
        raise BTFLoadError(
            f"kernel rejected BTF: {summary_line(log) or kernel}", log=log, errno=-rc, hint=kernel.hint
        ) from kernel
    return KernelBTF(OwnedFD(rc, "btf"), log)


def open_btf_fd(fd: int) -> KernelBTF:
    """Adopt a BTF fd (e.g. from BTF_GET_FD_BY_ID)."""
    owned = OwnedFD(fd, "btf")
    try:
        btf_info(fd)
    except BPFError:
        owned.close()
        raise
    return KernelBTF(owned)
