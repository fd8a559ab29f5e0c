"""bpffs: pinning objects to paths and opening pins (BPF_OBJ_PIN / BPF_OBJ_GET).

A pin keeps a map, program or link alive after every fd is closed, and lets
another process (or a later pybpf run) open it by path.  bpffs is mounted at
/sys/fs/bpf when it is missing and we are allowed to (root).
"""

from __future__ import annotations

import ctypes
import os
from enum import IntFlag

from ..errors import BPFError, KernelError
from ..uapi import Cmd
from . import syscall
from .attr import ObjPinAttr, addr
from .fd import OwnedFD

BPFFS = "/sys/fs/bpf"
TRACEFS_CANDIDATES = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")


class PinFlags(IntFlag):
    """file_flags for BPF_OBJ_GET: open the pinned object read-only or write-only."""

    RDONLY = 1 << 3
    WRONLY = 1 << 4


class PinError(BPFError):
    """A pin path that cannot be used (not on bpffs, parent missing)."""


def _mount_types() -> dict[str, str]:
    """Mount point -> filesystem type, from /proc/self/mountinfo."""
    mounts: dict[str, str] = {}
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                fields = left.split()
                if len(fields) >= 5 and right:
                    mounts[fields[4].replace("\\040", " ")] = right.split()[0]
    except OSError:
        pass
    return mounts


def fs_type_of(path: str) -> str | None:
    """The filesystem type of the mount that contains ``path``."""
    mounts = _mount_types()
    path = os.path.realpath(path)
    while True:
        if path in mounts:
            return mounts[path]
        if path == "/":
            return None
        path = os.path.dirname(path)


def ensure_bpffs(path: str = BPFFS) -> str:
    """Make sure a bpffs is mounted at ``path`` (mounting it if not); returns ``path``."""
    mounts = _mount_types()
    if mounts.get(path) == "bpf":
        return path
    os.makedirs(path, exist_ok=True)
    syscall.mount("bpf", path, "bpf")
    return path


def ensure_tracefs() -> str:
    """The tracefs mount (for tracepoint ids), mounting it at /sys/kernel/tracing if needed."""
    mounts = _mount_types()
    for candidate in TRACEFS_CANDIDATES:
        if mounts.get(candidate) == "tracefs" or os.path.exists(os.path.join(candidate, "events")):
            return candidate
    target = TRACEFS_CANDIDATES[0]
    syscall.mount("tracefs", target, "tracefs")
    return target


def _path_buf(path: str) -> ctypes.Array[ctypes.c_char]:
    if not path or "\0" in path:
        raise PinError(f"invalid pin path {path!r}")
    return ctypes.create_string_buffer(os.fsencode(path))


def pin_fd(fd: int, path: str) -> None:
    """BPF_OBJ_PIN ``fd`` at ``path`` (which must be on bpffs and not exist yet)."""
    parent = os.path.dirname(os.path.abspath(path)) or "/"
    if os.path.abspath(path).startswith(BPFFS + "/") and fs_type_of(BPFFS) != "bpf":
        ensure_bpffs(BPFFS)
    if not os.path.isdir(parent):
        raise PinError(f"cannot pin at {path}: directory {parent} does not exist")
    buf = _path_buf(path)
    syscall.bpf(Cmd.OBJ_PIN, ObjPinAttr(pathname=addr(buf), bpf_fd=fd), detail=path)


def get_pinned(path: str, flags: int = 0) -> OwnedFD:
    """BPF_OBJ_GET: a new owned fd for the object pinned at ``path``."""
    buf = _path_buf(path)
    fd = syscall.bpf(Cmd.OBJ_GET, ObjPinAttr(pathname=addr(buf), file_flags=flags), detail=path)
    return OwnedFD(fd, pinned_kind(fd))


def pinned_kind(fd: int) -> str:
    """ "map", "prog", "link", "btf" or "unknown", from the fd's anon-inode name."""
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return "unknown"
    # a link's fd from an attach is "bpf_link", one from BPF_OBJ_GET "bpf-link"
    markers = (
        ("bpf-map", "map"),
        ("bpf-prog", "prog"),
        ("bpf_link", "link"),
        ("bpf-link", "link"),
        ("btf", "btf"),
    )
    for marker, kind in markers:
        if marker in target:
            return kind
    return "unknown"


def unpin(path: str) -> None:
    """Remove a pin (the object lives on while fds or other pins hold it)."""
    try:
        os.unlink(path)
    except OSError as e:
        raise KernelError("unpin", e.errno or 0, detail=path) from None
