"""Nothing leaks: fds close on close(), on context exit and when objects are collected."""

from __future__ import annotations

import gc
import os

import pytest

from kernel_asm import return_imm
from pybpf.kernel import ClosedFDError, create_map, load_program
from pybpf.uapi import MapType, ProgType

pytestmark = pytest.mark.kernel


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_thousand_maps_and_programs_leave_no_fd_behind() -> None:
    gc.collect()
    before = fd_count()
    for i in range(1000):
        m = create_map(MapType.ARRAY, 4, 4, 1)
        p = load_program(return_imm(i & 0xFF), ProgType.SOCKET_FILTER)
        if i % 3 == 0:
            m.close()
            p.close()
        elif i % 3 == 1:
            with m, p:
                pass
        # else: dropped without closing; the finalizer closes them
        del m, p
    gc.collect()
    assert fd_count() == before


def test_use_after_close_is_a_typed_error() -> None:
    m = create_map(MapType.ARRAY, 4, 4, 1)
    m.close()
    m.close()  # idempotent
    with pytest.raises(ClosedFDError):
        m.lookup(b"\0" * 4)
