"""The result of one BPF_PROG_TEST_RUN, shared by the VM and the kernel backends.

Both runtimes return this exact type so that tests and the CLI can compare a
program's behaviour in the VM with the kernel's side by side.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TestRun:
    """What a test run produced.

    ``retval``: the program's return value (r0, truncated to 32 bits as the kernel
    reports it).  ``data_out``: the packet after the run (may differ in length,
    e.g. after xdp_adjust_head).  ``ctx_out``: the context after the run when a
    context was passed in, else None.  ``duration_ns``: mean time per repetition.
    """

    __test__ = False  # not a pytest test class despite the name

    retval: int
    data_out: bytes
    ctx_out: bytes | None
    duration_ns: int
