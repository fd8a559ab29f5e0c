"""Kernel functions (kfuncs) the VM implements, by name.

A kfunc call (``call`` with src = BPF_PSEUDO_KFUNC_CALL) names its target by a
BTF id of the *kernel's* BTF; the object only knows the extern's name.  The VM
has no kernel BTF ids, so the VM backend resolves kfunc calls by extern name
against :data:`KFUNCS` at load time and turns each into a call of a synthetic
helper id (``KFUNC_ID_BASE`` + the kfunc's index here), registered in a
per-program copy of the helper registry.  That keeps the interpreter and the
compiler untouched: a kfunc is just a helper the verifier-side checks skip.

Task references: ``bpf_task_acquire`` takes a reference on the task pointer it
is given (the VM's tasks are opaque addresses, e.g. the runtime task's
``task_address`` or an argument a test passes in the tracing context) and
``bpf_task_release`` drops it; releasing a task the program does not hold is
a program error, as the verifier would have refused it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import VMError
from ..runtime.state import runtime_of
from ..vm.context import CallContext
from .registry import HelperImpl

#: Synthetic helper ids for kfuncs start here (far above every real helper id).
KFUNC_ID_BASE = 0x4B460000
#: Key in ``ctx.state`` for the held task references: address -> count.
TASK_REFS_KEY = "kfunc.task_refs"


@dataclass(frozen=True, slots=True)
class KfuncSpec:
    """One kfunc: its kernel name, the synthetic helper id it is called through, its body."""

    name: str
    id: int
    impl: HelperImpl


def _task_refs(ctx: CallContext) -> dict[int, int]:
    refs: dict[int, int] | None = ctx.state.get(TASK_REFS_KEY)
    if refs is None:
        refs = ctx.state[TASK_REFS_KEY] = {}
    return refs


def task_acquire(ctx: CallContext, task: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """Take a reference on ``task``; NULL stays NULL (the kernel's refcount_inc_not_zero)."""
    if task == 0:
        return 0
    refs = _task_refs(ctx)
    refs[task] = refs.get(task, 0) + 1
    return task


def task_release(ctx: CallContext, task: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """Drop a reference taken with bpf_task_acquire."""
    refs = _task_refs(ctx)
    held = refs.get(task, 0)
    if held <= 0:
        raise VMError("bpf_task_release of a task the program does not hold a reference on", address=task)
    if held == 1:
        del refs[task]
    else:
        refs[task] = held - 1
    return 0


def task_from_pid(ctx: CallContext, pid: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """The runtime task (acquired) when ``pid`` is its tgid, else NULL: the VM knows one task."""
    task = runtime_of(ctx).task
    if (pid & 0xFFFFFFFF) != task.tgid or task.task_address == 0:
        return 0
    return task_acquire(ctx, task.task_address, 0, 0, 0, 0)


def nop(ctx: CallContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """bpf_rcu_read_lock / bpf_rcu_read_unlock / bpf_preempt_*: the VM runs one program at a time."""
    return 0


_DEFS: tuple[tuple[str, Callable[..., int]], ...] = (
    ("bpf_task_acquire", task_acquire),
    ("bpf_task_release", task_release),
    ("bpf_task_from_pid", task_from_pid),
    ("bpf_rcu_read_lock", nop),
    ("bpf_rcu_read_unlock", nop),
    ("bpf_preempt_disable", nop),
    ("bpf_preempt_enable", nop),
)

#: Every kfunc the VM implements, by kernel name.
KFUNCS: dict[str, KfuncSpec] = {
    name: KfuncSpec(name, KFUNC_ID_BASE + i, impl) for i, (name, impl) in enumerate(_DEFS)
}


def missing_kfunc(name: str, helper_id: int) -> KfuncSpec:
    """A weak kfunc the VM does not have: loading works, calling it is a program error."""

    def impl(ctx: CallContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        raise VMError(f"call of weak kfunc {name}, which the VM does not implement (it resolved to NULL)")

    return KfuncSpec(name, helper_id, impl)
