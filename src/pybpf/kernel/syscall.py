"""The one chokepoint for bpf(2), perf_event_open(2) and the few other raw calls.

Every kernel call pybpf makes goes through :func:`bpf` or :func:`perf_event_open`
(and :func:`ioctl` / :func:`mount` for the perf and bpffs plumbing), so that

* a failure always becomes a :class:`~pybpf.errors.KernelError` carrying the
  command name, the errno and a hint that says what to check;
* tests can replace the raw call with a fake (:func:`install_hook`) and observe
  or script exactly what the kernel would have been asked.

The raw hook convention is the kernel's: return a non-negative result or
``-errno``.  Nothing here allocates per call beyond the ctypes call itself.
"""

from __future__ import annotations

import ctypes
import errno as _errno
import os
import platform
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..errors import KernelError, NotSupportedError
from ..uapi import Cmd

# Syscall numbers per architecture (asm/unistd_64.h and asm-generic/unistd.h).
_NR_BPF = {"x86_64": 321, "aarch64": 280, "riscv64": 280}
_NR_PERF_EVENT_OPEN = {"x86_64": 298, "aarch64": 241, "riscv64": 241}

ENOTSUPP = 524
"""The kernel-internal 'not supported' errno that bpf(2) leaks to userspace."""

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long
_ioctl = _libc.ioctl
_ioctl.restype = ctypes.c_int
_ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]
_mount = _libc.mount
_mount.restype = ctypes.c_int
_mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]

BpfHook = Callable[[Cmd, "ctypes._CData", int], int]
"""A raw bpf(2): (command, attr structure, attr size) -> result or -errno."""

PerfHook = Callable[["ctypes._CData", int, int, int, int], int]
"""A raw perf_event_open: (attr, pid, cpu, group_fd, flags) -> fd or -errno."""


def _nr(table: dict[str, int], what: str) -> int:
    machine = platform.machine()
    nr = table.get(machine)
    if nr is None:
        raise NotSupportedError(f"{what} syscall number unknown on {machine}")
    return nr


def _real_bpf(cmd: Cmd, attr: ctypes._CData, size: int) -> int:
    rc = int(
        _syscall(
            ctypes.c_long(_nr(_NR_BPF, "bpf")),
            ctypes.c_int(int(cmd)),
            ctypes.byref(attr),
            ctypes.c_uint(size),
        )
    )
    return rc if rc >= 0 else -ctypes.get_errno()


def _real_perf_event_open(attr: ctypes._CData, pid: int, cpu: int, group_fd: int, flags: int) -> int:
    rc = int(
        _syscall(
            ctypes.c_long(_nr(_NR_PERF_EVENT_OPEN, "perf_event_open")),
            ctypes.byref(attr),
            ctypes.c_int(pid),
            ctypes.c_int(cpu),
            ctypes.c_int(group_fd),
            ctypes.c_ulong(flags),
        )
    )
    return rc if rc >= 0 else -ctypes.get_errno()


_bpf_hook: BpfHook = _real_bpf
_perf_hook: PerfHook = _real_perf_event_open


def install_hook(bpf_hook: BpfHook | None = None, perf_hook: PerfHook | None = None) -> None:
    """Replace the raw calls (None restores the real syscall)."""
    global _bpf_hook, _perf_hook
    _bpf_hook = bpf_hook if bpf_hook is not None else _real_bpf
    _perf_hook = perf_hook if perf_hook is not None else _real_perf_event_open


@contextmanager
def hooked(bpf_hook: BpfHook | None = None, perf_hook: PerfHook | None = None) -> Iterator[None]:
    """Use fake raw calls inside a ``with`` block, restoring the previous ones after."""
    global _bpf_hook, _perf_hook
    saved = (_bpf_hook, _perf_hook)
    if bpf_hook is not None:
        _bpf_hook = bpf_hook
    if perf_hook is not None:
        _perf_hook = perf_hook
    try:
        yield
    finally:
        _bpf_hook, _perf_hook = saved


# -- hints -------------------------------------------------------------------

_EINVAL_FIELDS: dict[Cmd, str] = {
    Cmd.MAP_CREATE: "map_type, key_size/value_size/max_entries (some types fix them) or map_flags",
    Cmd.MAP_LOOKUP_ELEM: "flags (only BPF_F_LOCK) or a map type without lookup",
    Cmd.MAP_UPDATE_ELEM: "flags (BPF_ANY/NOEXIST/EXIST/F_LOCK) or a value the map type refuses",
    Cmd.MAP_GET_NEXT_KEY: "a map type without key iteration",
    Cmd.PROG_LOAD: "prog_type, expected_attach_type, attach_btf_id, prog_flags or the instructions",
    Cmd.PROG_TEST_RUN: "data_in/ctx_in size for this program type, repeat, flags or cpu",
    Cmd.LINK_CREATE: "attach_type does not match the program's expected_attach_type, or target",
    Cmd.BTF_LOAD: "the BTF blob (header, type or string section)",
    Cmd.RAW_TRACEPOINT_OPEN: "program type (raw_tracepoint/tracing) or tracepoint name",
    Cmd.OBJ_GET_INFO_BY_FD: "info_len or a fd that is not a bpf object",
    Cmd.MAP_LOOKUP_BATCH: "batch flags, count or a map type without batch support",
}


def hint_for(command: str, cmd: Cmd | None, err: int) -> str | None:
    """A short, actionable suggestion for ``err`` returned by ``command``."""
    if err == _errno.EPERM:
        if cmd == Cmd.OBJ_PIN:
            return "the pin path must be on a bpffs mount (e.g. /sys/fs/bpf) and be writable by you"
        if os.geteuid() == 0:
            return (
                "refused although running as root: kernel lockdown, a disabled program/attach type, "
                "or a feature this kernel lacks (e.g. BPF trampolines for fentry/fexit)"
            )
        return "bpf(2) needs root or CAP_BPF (plus CAP_PERFMON/CAP_NET_ADMIN for tracing/network programs)"
    if err == _errno.EACCES:
        if cmd == Cmd.PROG_LOAD:
            return "the verifier rejected the program; see the verifier log"
        return "permission denied: check file modes (pins) or that the object was opened read-write"
    if err == _errno.ENOENT:
        if cmd == Cmd.OBJ_GET:
            return "no such pin: check the path, or bpffs is not mounted at /sys/fs/bpf"
        if cmd in (Cmd.PROG_GET_FD_BY_ID, Cmd.MAP_GET_FD_BY_ID, Cmd.LINK_GET_FD_BY_ID, Cmd.BTF_GET_FD_BY_ID):
            return "no object with that id (it may have been freed)"
        if cmd == Cmd.RAW_TRACEPOINT_OPEN:
            return "no such raw tracepoint name"
        if command == "perf_event_open":
            return "no such event (tracepoint or probe target not found)"
        return None
    if err == _errno.E2BIG:
        return (
            "an attr/info field this kernel does not know is non-zero, or a size is too large "
            "(key/value size, instruction count, map full)"
        )
    if err == _errno.EINVAL:
        fields = _EINVAL_FIELDS.get(cmd) if cmd is not None else None
        return f"invalid argument: check {fields}" if fields else "invalid argument"
    if err == _errno.ENOSPC:
        if cmd == Cmd.PROG_TEST_RUN:
            return "data_size_out/ctx_size_out too small for the output"
        return "log buffer too small: retry with a larger log_size"
    if err == _errno.EBADF:
        return "a file descriptor in the request is closed or not a bpf object of the right kind"
    if err in (ENOTSUPP, _errno.EOPNOTSUPP):
        return "not supported by this kernel, program type or device"
    if err == _errno.ENOMEM:
        return "kernel out of memory (or memlock rlimit on kernels before 5.11)"
    if err == _errno.EBUSY:
        return "the hook is already in use (another program attached without multi-attach)"
    if err == _errno.EEXIST:
        return "already exists (pin path taken, key present with BPF_NOEXIST, or hook occupied)"
    return None


def _fail(command: str, cmd: Cmd | None, err: int, detail: str = "") -> KernelError:
    return KernelError(command, err, detail=detail, hint=hint_for(command, cmd, err))


# -- the calls ---------------------------------------------------------------


def bpf_raw(cmd: Cmd, attr: ctypes._CData, size: int | None = None) -> int:
    """One bpf(2) call, result or ``-errno``, retrying EINTR (and EAGAIN for PROG_LOAD).

    Used by callers that turn particular errnos into their own errors (maps).
    """
    n = ctypes.sizeof(attr) if size is None else size
    attempts = 5
    while True:
        rc = _bpf_hook(cmd, attr, n)
        if rc == -_errno.EINTR or (rc == -_errno.EAGAIN and cmd == Cmd.PROG_LOAD):
            attempts -= 1
            if attempts > 0:
                continue
        return rc


def last_set_field(attr: ctypes._CData) -> str | None:
    """The last non-zero field of an attr structure: on E2BIG, the one the kernel likely lacks.

    The kernel answers E2BIG when bytes past the attr layout it knows are non-zero,
    so the furthest field we set is the first suspect.
    """
    fields = getattr(type(attr), "_fields_", None)
    if not fields:
        return None
    raw = bytes(attr)
    for name, *_ in reversed(fields):
        offset, size = getattr(type(attr), name).offset, getattr(type(attr), name).size
        if any(raw[offset : offset + size]):
            return str(name)
    return None


def bpf(cmd: Cmd, attr: ctypes._CData, size: int | None = None, *, detail: str = "") -> int:
    """bpf(2): the result (often a new fd) or a raised :class:`KernelError`."""
    rc = bpf_raw(cmd, attr, size)
    if rc < 0:
        raise error(cmd, -rc, detail, attr)
    return rc


def error(cmd: Cmd, err: int, detail: str = "", attr: ctypes._CData | None = None) -> KernelError:
    """The KernelError :func:`bpf` would raise for ``err`` (for callers of :func:`bpf_raw`)."""
    exc = _fail(cmd.uapi_name, cmd, err, detail)
    if err == _errno.E2BIG and attr is not None:
        field = last_set_field(attr)
        if field is not None:
            exc.hint = f"{exc.hint}; the last field set is {field!r}: this kernel may not know it"
    return exc


def perf_event_open(attr: ctypes._CData, pid: int, cpu: int, group_fd: int = -1, flags: int = 0) -> int:
    """perf_event_open(2): a new perf event fd or a raised :class:`KernelError`."""
    while True:
        rc = _perf_hook(attr, pid, cpu, group_fd, flags)
        if rc != -_errno.EINTR:
            break
    if rc < 0:
        raise _fail("perf_event_open", None, -rc)
    return rc


def ioctl(fd: int, request: int, arg: int, *, command: str) -> int:
    """ioctl(2) on a perf event fd; ``command`` names the request in errors."""
    rc = int(_ioctl(fd, request, ctypes.c_void_p(arg)))
    if rc < 0:
        raise _fail(command, None, ctypes.get_errno())
    return rc


def mount(source: str, target: str, fstype: str, flags: int = 0) -> None:
    """mount(2) without data, for bpffs and tracefs."""
    rc = int(_mount(source.encode(), target.encode(), fstype.encode(), flags, None))
    if rc < 0:
        err = ctypes.get_errno()
        hint = "mounting needs root (CAP_SYS_ADMIN)" if err == _errno.EPERM else None
        raise KernelError(f"mount {fstype} on {target}", err, hint=hint)
