"""Loading programs (BPF_PROG_LOAD) and running them (BPF_PROG_TEST_RUN).

A rejected program raises :class:`KernelVerifierError` -- a
:class:`~pybpf.errors.VerifierError` with the full kernel log, a one-line summary
(the log's last meaningful line), the errno and the command -- whenever the
kernel wrote a log; a refusal before verification (bad attr, no permission)
raises :class:`~pybpf.errors.KernelError` with a hint instead.
"""

from __future__ import annotations

import ctypes
import errno as _errno
import re
from collections.abc import Sequence
from enum import IntFlag

from ..backends.testrun import TestRun
from ..errors import BPFError, VerifierError
from ..isa import Instruction, decode, encode
from ..uapi import AttachType, Cmd, ProgType
from . import syscall
from .attr import OBJ_NAME_LEN, ProgLoadAttr, TestRunAttr, addr
from .fd import FDObject, OwnedFD
from .info import ProgInfo, prog_info, prog_xlated
from .logbuf import PROG_LOG, call_with_log, summary_line

INSN_SIZE = 8
_NAME_RE = re.compile(r"^[A-Za-z0-9_.]*$")


class KernelArgumentError(BPFError):
    """An argument pybpf refuses before asking the kernel (bad name, size, type)."""


class KernelVerifierError(VerifierError):
    """The kernel verifier rejected a program; ``errno`` and ``command`` say how it failed."""

    def __init__(self, summary: str, log: str, *, errno: int, command: str, hint: str | None = None) -> None:
        super().__init__(summary, log, hint=hint)
        self.errno = errno
        self.command = command


class ProgFlags(IntFlag):
    """BPF_F_* flags for BPF_PROG_LOAD (prog_flags)."""

    STRICT_ALIGNMENT = 1 << 0
    ANY_ALIGNMENT = 1 << 1
    TEST_RND_HI32 = 1 << 2
    TEST_STATE_FREQ = 1 << 3
    SLEEPABLE = 1 << 4
    XDP_HAS_FRAGS = 1 << 5
    XDP_DEV_BOUND_ONLY = 1 << 6
    TEST_REG_INVARIANTS = 1 << 7
    TOKEN_FD = 1 << 16


class TestRunFlags(IntFlag):
    """BPF_F_TEST_* flags for BPF_PROG_TEST_RUN."""

    __test__ = False

    RUN_ON_CPU = 1 << 0
    XDP_LIVE_FRAMES = 1 << 1
    SKB_CHECKSUM_COMPLETE = 1 << 2


def check_name(name: str) -> bytes:
    """Validate an object name as the kernel does (<= 15 bytes of [A-Za-z0-9_.])."""
    if not _NAME_RE.match(name):
        raise KernelArgumentError(f"object name {name!r} may only contain letters, digits, '_' and '.'")
    raw = name.encode()
    if len(raw) >= OBJ_NAME_LEN:
        raise KernelArgumentError(f"object name {name!r} longer than {OBJ_NAME_LEN - 1} bytes")
    return raw


def _enum_or_int(cls: type[ProgType] | type[AttachType], value: int) -> ProgType | AttachType | int:
    try:
        return cls(value)
    except ValueError:
        return value


def load_program(
    insns: Sequence[Instruction] | bytes,
    prog_type: ProgType | int,
    *,
    name: str = "",
    license: str = "GPL",
    expected_attach_type: AttachType | int | None = None,
    kern_version: int = 0,
    prog_flags: int = 0,
    attach_btf_id: int = 0,
    attach_btf_obj_fd: int | None = None,
    attach_prog_fd: int | None = None,
    prog_btf_fd: int | None = None,
    func_info: bytes = b"",
    func_info_rec_size: int = 8,
    line_info: bytes = b"",
    line_info_rec_size: int = 16,
    fd_array: Sequence[int] | None = None,
    ifindex: int = 0,
    log_level: int = 0,
    log_size: int | None = None,
) -> KernelProgram:
    """BPF_PROG_LOAD ``insns`` (Instructions or encoded bytes) as ``prog_type``.

    ``func_info``/``line_info`` are the raw BTF.ext records (with their record
    sizes) and need ``prog_btf_fd``.  ``attach_btf_id`` (with ``attach_btf_obj_fd``
    for module BTF, or ``attach_prog_fd`` for freplace) names the hook of tracing,
    LSM and extension programs.  See the module docstring for errors.
    """
    code = insns if isinstance(insns, bytes) else encode(insns)
    if not code or len(code) % INSN_SIZE:
        raise KernelArgumentError(f"program is {len(code)} bytes, not a non-empty multiple of {INSN_SIZE}")
    if attach_btf_obj_fd is not None and attach_prog_fd is not None:
        raise KernelArgumentError("attach_btf_obj_fd and attach_prog_fd are exclusive")
    for label, blob, rec in (
        ("func_info", func_info, func_info_rec_size),
        ("line_info", line_info, line_info_rec_size),
    ):
        if blob and (rec <= 0 or len(blob) % rec):
            raise KernelArgumentError(
                f"{label} is {len(blob)} bytes, not a multiple of its record size {rec}"
            )
    code_buf = ctypes.create_string_buffer(code, len(code))
    lic_buf = ctypes.create_string_buffer(license.encode())
    fi_buf = ctypes.create_string_buffer(func_info, len(func_info)) if func_info else None
    li_buf = ctypes.create_string_buffer(line_info, len(line_info)) if line_info else None
    fds = (ctypes.c_int32 * len(fd_array))(*fd_array) if fd_array else None
    attr = ProgLoadAttr(
        prog_type=int(prog_type),
        insn_cnt=len(code) // INSN_SIZE,
        insns=addr(code_buf),
        license=addr(lic_buf),
        kern_version=kern_version,
        prog_flags=prog_flags,
        prog_name=check_name(name),
        prog_ifindex=ifindex,
        expected_attach_type=int(expected_attach_type or 0),
        prog_btf_fd=prog_btf_fd or 0,
        func_info_rec_size=func_info_rec_size if func_info else 0,
        func_info=addr(fi_buf),
        func_info_cnt=len(func_info) // func_info_rec_size if func_info else 0,
        line_info_rec_size=line_info_rec_size if line_info else 0,
        line_info=addr(li_buf),
        line_info_cnt=len(line_info) // line_info_rec_size if line_info else 0,
        attach_btf_id=attach_btf_id,
        attach_prog_fd=attach_btf_obj_fd if attach_btf_obj_fd is not None else (attach_prog_fd or 0),
        fd_array=addr(fds),
    )
    rc, log = call_with_log(Cmd.PROG_LOAD, attr, PROG_LOG, log_level=log_level, log_size=log_size)
    ptype = _enum_or_int(ProgType, int(prog_type))
    if rc < 0:
        err = -rc
        kernel = syscall.error(
            Cmd.PROG_LOAD, err, f"{getattr(ptype, 'uapi_name', ptype)} program {name!r}", attr
        )
        if log.strip():
            raise KernelVerifierError(
                summary_line(log) or str(kernel), log, errno=err, command="prog_load", hint=kernel.hint
            ) from kernel
        raise kernel
    eat = None if expected_attach_type is None else _enum_or_int(AttachType, int(expected_attach_type))
    prog = KernelProgram(OwnedFD(rc, "prog"), ptype, name, eat)
    prog.log = log
    return prog


class KernelProgram(FDObject):
    """A loaded program: run it, inspect it, pin it, attach it (see :mod:`.links`)."""

    __slots__ = ("expected_attach_type", "log", "name", "prog_type")

    def __init__(
        self,
        owned: OwnedFD,
        prog_type: ProgType | int,
        name: str = "",
        expected_attach_type: AttachType | int | None = None,
    ) -> None:
        super().__init__(owned)
        self.prog_type = prog_type
        self.name = name
        self.expected_attach_type = expected_attach_type
        self.log = ""

    @classmethod
    def from_fd(cls, fd: int) -> KernelProgram:
        """Adopt ``fd`` (now owned) and read its type and name from the kernel."""
        owned = OwnedFD(fd, "prog")
        try:
            info = prog_info(fd)
        except BPFError:
            owned.close()
            raise
        return cls(owned, info.type, info.name)

    def info(self) -> ProgInfo:
        return prog_info(self.fd)

    @property
    def id(self) -> int:
        return self.info().id

    def xlated(self) -> list[Instruction]:
        """The kernel-rewritten instructions (for ``prog dump xlated``)."""
        return decode(prog_xlated(self.fd), validate=False)

    def pin(self, path: str) -> None:
        from .pin import pin_fd

        pin_fd(self.fd, path)

    def test_run(
        self,
        data_in: bytes = b"",
        ctx_in: bytes | None = None,
        repeat: int = 1,
        data_size_out: int | None = None,
        *,
        ctx_size_out: int | None = None,
        flags: int = 0,
        cpu: int = 0,
        batch_size: int = 0,
    ) -> TestRun:
        return test_run(
            self,
            data_in,
            ctx_in,
            repeat,
            data_size_out,
            ctx_size_out=ctx_size_out,
            flags=flags,
            cpu=cpu,
            batch_size=batch_size,
        )

    def __repr__(self) -> str:
        t = getattr(self.prog_type, "uapi_name", self.prog_type)
        state = "closed" if self.closed else f"fd={self._owned._fd}"
        return f"<KernelProgram {self.name!r} {t} {state}>"


DATA_OUT_SLACK = 4096
"""Extra room for data_out beyond data_in (XDP/skb programs may grow the packet)."""


def test_run(
    prog: KernelProgram | int,
    data_in: bytes = b"",
    ctx_in: bytes | None = None,
    repeat: int = 1,
    data_size_out: int | None = None,
    *,
    ctx_size_out: int | None = None,
    flags: int = 0,
    cpu: int = 0,
    batch_size: int = 0,
) -> TestRun:
    """BPF_PROG_TEST_RUN ``prog`` ``repeat`` times over a copy of ``data_in``/``ctx_in``.

    ``duration_ns`` is the kernel's mean per repetition.  ``data_size_out`` defaults
    to ``len(data_in)`` plus :data:`DATA_OUT_SLACK`; a too-small buffer raises
    KernelError ENOSPC.
    """
    if not 0 <= repeat <= 0xFFFFFFFF:
        raise KernelArgumentError(f"repeat {repeat} out of range")
    fd = prog if isinstance(prog, int) else prog.fd
    din = ctypes.create_string_buffer(data_in, len(data_in)) if data_in else None
    out_size = (len(data_in) + DATA_OUT_SLACK if data_in else 0) if data_size_out is None else data_size_out
    dout = ctypes.create_string_buffer(out_size) if out_size else None
    cin = ctypes.create_string_buffer(ctx_in, len(ctx_in)) if ctx_in else None
    cout_size = (len(ctx_in) if ctx_in else 0) if ctx_size_out is None else ctx_size_out
    cout = ctypes.create_string_buffer(cout_size) if cout_size else None
    attr = TestRunAttr(
        prog_fd=fd,
        data_size_in=len(data_in),
        data_size_out=out_size,
        data_in=addr(din),
        data_out=addr(dout),
        repeat=repeat,
        ctx_size_in=len(ctx_in) if ctx_in else 0,
        ctx_size_out=cout_size,
        ctx_in=addr(cin),
        ctx_out=addr(cout),
        flags=flags,
        cpu=cpu,
        batch_size=batch_size,
    )
    rc = syscall.bpf_raw(Cmd.PROG_TEST_RUN, attr)
    if rc < 0:
        detail = ""
        if -rc == _errno.ENOSPC:
            detail = f"output needs {attr.data_size_out} bytes, buffer has {out_size}"
        raise syscall.error(Cmd.PROG_TEST_RUN, -rc, detail, attr)
    data_out = dout.raw[: attr.data_size_out] if dout is not None else b""
    ctx_out = cout.raw[: attr.ctx_size_out] if cout is not None and ctx_in is not None else None
    return TestRun(retval=attr.retval, data_out=data_out, ctx_out=ctx_out, duration_ns=attr.duration)
