"""Context access rules: the VM's load-time check accepts exactly what the kernel's verifier accepts.

For every program type the VM models and this kernel loads, a one-load program
reads or writes 1, 2, 4 or 8 bytes at every 4-byte offset of the context (and a
little past its end).  The running kernel's BPF_PROG_LOAD and the VM's
:func:`~pybpf.progtypes.ctx_rewrite.rewrite_ctx_access` must agree on each one:
narrow loads, read-only members, members a type may not touch, misalignment.
TRACING (fentry) cannot be loaded on this kernel (lockdown), so it is not here.
"""

from __future__ import annotations

import pytest

from pybpf import kernel
from pybpf.errors import BPFError, VerifierError
from pybpf.isa import assemble
from pybpf.progtypes import spec_for
from pybpf.progtypes.ctx_rewrite import rewrite_ctx_access
from pybpf.uapi import AttachType, ProgType

pytestmark = pytest.mark.kernel

SIZES = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}
TYPES = (
    ProgType.XDP,
    ProgType.SOCKET_FILTER,
    ProgType.SCHED_CLS,
    ProgType.SCHED_ACT,
    ProgType.CGROUP_SKB,
    ProgType.TRACEPOINT,
    ProgType.RAW_TRACEPOINT,
    ProgType.KPROBE,
    ProgType.PERF_EVENT,
)
_ATTACH = {ProgType.CGROUP_SKB: AttachType.CGROUP_INET_INGRESS}
_TRACEPOINT_SPAN = 64  # the record is 2048 bytes of the same rule; its start and a stretch suffice


#: tp_prog_is_valid_access() compares the int offset with sizeof(void *) (a size_t), so a
#: negative offset passes as a huge unsigned one and the kernel reads before the record.
#: The VM refuses those loads: no byte of the record lies there.
_KNOWN_DIFFERENCES = {
    ProgType.TRACEPOINT: [f"read {n}B at -4 (-): kernel accepts" for n in (1, 2, 4)],
}


def _offsets(prog_type: ProgType) -> range:
    size = spec_for(prog_type).ctx.size
    if prog_type is ProgType.TRACEPOINT:
        size = _TRACEPOINT_SPAN
    return range(-4, size + 8, 4)


def _program(off: int, size: int, write: bool) -> str:
    access = f"*({SIZES[size]} *)(r1 {'+' if off >= 0 else '-'} {abs(off)})"
    return f"r2 = 0\n{access} = r2\nr0 = 0\nexit" if write else f"r0 = {access}\nr0 = 0\nexit"


def _kernel_accepts(insns: list, prog_type: ProgType) -> bool:  # type: ignore[type-arg]
    try:
        kernel.load_program(insns, prog_type, expected_attach_type=_ATTACH.get(prog_type)).close()
    except BPFError:
        return False
    return True


def _vm_accepts(insns: list, prog_type: ProgType) -> bool:  # type: ignore[type-arg]
    try:
        rewrite_ctx_access(insns, spec_for(prog_type))
    except VerifierError:
        return False
    return True


@pytest.mark.parametrize("prog_type", TYPES, ids=[t.name for t in TYPES])
def test_vm_ctx_check_matches_the_kernel(prog_type: ProgType):
    mismatches, accepted, refused = [], 0, 0
    layout = spec_for(prog_type).ctx
    for off in _offsets(prog_type):
        for size in SIZES:
            for write in (False, True):
                insns = assemble(_program(off, size, write), syntax="c")
                k = _kernel_accepts(insns, prog_type)
                accepted, refused = accepted + k, refused + (not k)
                if k != _vm_accepts(insns, prog_type):
                    member = layout.field_at(off)
                    where = member.name if member is not None else "-"
                    kind, verdict = ("write" if write else "read"), ("accepts" if k else "refuses")
                    mismatches.append(f"{kind} {size}B at {off} ({where}): kernel {verdict}")
    assert accepted and refused  # the sweep exercised both outcomes
    assert mismatches == _KNOWN_DIFFERENCES.get(prog_type, [])


def test_perf_event_regs_must_be_read_whole():
    """pe_prog_is_valid_access: pt_regs members only as 8-byte loads; sample_period/addr narrow too."""
    spec = spec_for(ProgType.PERF_EVENT)
    with pytest.raises(VerifierError, match=r"rdi must be read with a 8-byte load"):
        rewrite_ctx_access(assemble("r0 = *(u32 *)(r1 + 112)\nexit", syntax="c"), spec)
    # sample_period's upper half: a narrow load is fine
    rewrite_ctx_access(assemble("r0 = *(u32 *)(r1 + 172)\nexit", syntax="c"), spec)
