"""A skeleton loaded into the running kernel: globals through map lookup/update, auto-attach."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pybpf.skeleton import SkeletonError, SkeletonState
from test_skeleton_support import FIXTURES, generate

XDP_PASS, XDP_DROP = 2, 1


@pytest.mark.kernel
def test_kernel_skeleton_globals_and_attach(tmp_path: Path) -> None:
    mod = generate(FIXTURES / "globals.v3.o", tmp_path)
    skel = mod.GlobalsSkel.open()
    try:
        skel.rodata.max_len = 100
        skel.data.greeting = b"hey"
        skel.load(backend="kernel")
        prog = skel.progs.xdp_globals
        assert prog.test_run(data_in=bytes(200)).retval == XDP_DROP
        assert prog.test_run(data_in=bytes(64)).retval == XDP_PASS
        assert skel.bss.drops == 1
        assert skel.bss.bytes_seen == 264
        assert skel.data.packets_seen == 7
        assert skel.data.greeting == b"hey".ljust(8, b"\0")
        assert skel.bss.kversion_seen > 0 and skel.bss.hz_seen > 0  # Kconfig resolved by the loader
        assert skel.rodata.max_len == 100
        with pytest.raises(SkeletonError, match="read-only"):
            skel.rodata.max_len = 1
        skel.bss.drops = 10  # written into the kernel map, seen by the program
        prog.test_run(data_in=bytes(200))
        assert skel.bss.drops == 11
        # tp_btf/task_newtask auto-attaches; XDP is skipped
        skel.attach()
        assert skel.state is SkeletonState.ATTACHED
        assert prog.link is None and skel.progs.count_new_tasks.link is not None
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        assert skel.bss.new_tasks >= 1
    finally:
        skel.destroy()
    assert skel.state is SkeletonState.DESTROYED
