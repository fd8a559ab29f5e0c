"""Identity helpers: they report the runtime's settable :class:`~pybpf.runtime.task.Task`."""

from __future__ import annotations

import errno

from ..runtime.state import runtime_of
from ..vm.context import CallContext
from .impl_common import A, HelperDef, neg, proto


def get_current_pid_tgid(ctx: CallContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """tgid << 32 | pid."""
    return runtime_of(ctx).task.pid_tgid


def get_current_uid_gid(ctx: CallContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """gid << 32 | uid."""
    return runtime_of(ctx).task.uid_gid


def get_current_comm(ctx: CallContext, buf: int, size: int, r3: int, r4: int, r5: int) -> int:
    """Copy comm, NUL-terminated and zero-padded, into ``buf`` of ``size`` bytes."""
    if size == 0:
        return neg(errno.EINVAL)
    comm = runtime_of(ctx).task.comm.encode()[: size - 1]
    data = comm + bytes(size - len(comm))
    ctx.memory.write(buf, data)  # a bad buffer faults, as the verifier would have refused it
    return 0


def get_smp_processor_id(ctx: CallContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return runtime_of(ctx).task.cpu


def get_numa_node_id(ctx: CallContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return runtime_of(ctx).task.numa_node


def get_current_task(ctx: CallContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """An opaque task pointer (the task's ``task_address``); reading through it faults in the VM."""
    return runtime_of(ctx).task.task_address


def get_current_cgroup_id(ctx: CallContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return runtime_of(ctx).task.cgroup_id


HELPERS = (
    HelperDef("get_current_pid_tgid", proto(), get_current_pid_tgid),
    HelperDef("get_current_uid_gid", proto(), get_current_uid_gid),
    HelperDef("get_current_comm", proto(A.PTR_TO_UNINIT_MEM, A.CONST_SIZE), get_current_comm),
    HelperDef("get_smp_processor_id", proto(), get_smp_processor_id),
    HelperDef("get_numa_node_id", proto(), get_numa_node_id),
    HelperDef("get_current_task", proto(), get_current_task),
    HelperDef("get_current_cgroup_id", proto(), get_current_cgroup_id),
)
