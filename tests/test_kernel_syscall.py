"""The syscall chokepoint: substitutable by a fake, errors carry command, errno and hint.

These tests replace the raw call, so they run without root or a kernel.
"""

from __future__ import annotations

import ctypes
import errno

import pytest

from kernel_asm import return_imm
from pybpf.errors import KernelError, MapKeyNotFoundError, VerifierError
from pybpf.kernel import create_map, load_program, syscall
from pybpf.kernel.attr import MapCreateAttr, ProgLoadAttr
from pybpf.uapi import Cmd, MapType, ProgType


def test_hook_sees_every_call_and_errors_carry_hints() -> None:
    calls: list[Cmd] = []

    def fake(cmd: Cmd, attr: ctypes._CData, size: int) -> int:
        calls.append(cmd)
        if cmd == Cmd.MAP_CREATE:
            assert isinstance(attr, MapCreateAttr) and attr.key_size == 4
            return -errno.EPERM
        return -errno.ENOENT

    with syscall.hooked(bpf_hook=fake):
        with pytest.raises(KernelError) as exc:
            create_map(MapType.HASH, 4, 4, 1)
        with pytest.raises(KernelError) as pin_exc:
            syscall.bpf(Cmd.OBJ_GET, MapCreateAttr())
    assert calls == [Cmd.MAP_CREATE, Cmd.OBJ_GET]
    assert exc.value.command == "map_create" and exc.value.errno == errno.EPERM
    assert exc.value.hint and ("CAP_BPF" in exc.value.hint or "root" in exc.value.hint)
    assert pin_exc.value.hint and "bpffs" in pin_exc.value.hint


def test_fake_kernel_drives_map_errors_and_verifier_log_retry() -> None:
    log_sizes: list[int] = []

    def fake(cmd: Cmd, attr: ctypes._CData, size: int) -> int:
        if cmd == Cmd.MAP_CREATE:
            return 1000  # a fake fd; never really closed (os.close on it fails quietly)
        if cmd == Cmd.MAP_LOOKUP_ELEM:
            return -errno.ENOENT
        if cmd == Cmd.PROG_LOAD:
            assert isinstance(attr, ProgLoadAttr)
            if attr.log_level == 0:
                return -errno.EACCES
            log_sizes.append(attr.log_size)
            text = b"0: (95) exit\nR0 !read_ok\n" + b"x" * 100_000
            if attr.log_size < len(text) + 1:
                attr.log_true_size = len(text) + 1
                return -errno.ENOSPC
            ctypes.memmove(attr.log_buf, text, len(text))
            return -errno.EACCES
        return -errno.EINVAL

    with syscall.hooked(bpf_hook=fake):
        m = create_map(MapType.HASH, 4, 4, 1)
        with pytest.raises(MapKeyNotFoundError):
            m.lookup(b"abcd")
        m._owned._finalizer.detach()  # fd 1000 is not ours
        with pytest.raises(VerifierError) as exc:
            load_program(return_imm(0), ProgType.XDP)
    assert log_sizes[0] < log_sizes[-1] and len(log_sizes) == 2  # grew straight to log_true_size
    assert exc.value.log.startswith("0: (95) exit")


@pytest.mark.kernel
def test_e2big_names_the_field_the_kernel_does_not_know() -> None:
    """A non-zero byte past the kernel's attr layout: E2BIG, and the hint names our last field."""
    from pybpf.kernel.attr import TestRunAttr

    class Future(ctypes.Structure):
        _fields_ = [("run", TestRunAttr), ("pybpf_future_field", ctypes.c_uint64 * 64)]

    with load_program(return_imm(0), ProgType.SOCKET_FILTER) as prog:
        attr = Future()
        attr.run.prog_fd = prog.fd
        attr.pybpf_future_field[63] = 1
        with pytest.raises(KernelError) as exc:
            syscall.bpf(Cmd.PROG_TEST_RUN, attr)
    assert exc.value.errno == errno.E2BIG
    assert "'pybpf_future_field'" in (exc.value.hint or "")
