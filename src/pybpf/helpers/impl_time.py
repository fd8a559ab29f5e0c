"""Time helpers: the kernel's clocks, read from the runtime's :class:`~pybpf.runtime.clock.Clock`."""

from __future__ import annotations

from ..runtime.state import runtime_of
from ..vm.context import CallContext
from .impl_common import HelperDef, proto


def ktime_get_ns(ctx: CallContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """CLOCK_MONOTONIC in ns (time since boot, not counting suspend)."""
    return runtime_of(ctx).clock.monotonic_ns()


def ktime_get_boot_ns(ctx: CallContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """CLOCK_BOOTTIME: like ktime_get_ns but counting suspend."""
    return runtime_of(ctx).clock.boot_ns()


def ktime_get_coarse_ns(ctx: CallContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """CLOCK_MONOTONIC_COARSE: cheaper, tick resolution."""
    return runtime_of(ctx).clock.coarse_ns()


def ktime_get_tai_ns(ctx: CallContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """CLOCK_TAI."""
    return runtime_of(ctx).clock.tai_ns()


def jiffies64(ctx: CallContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """The 64-bit jiffies counter."""
    return runtime_of(ctx).clock.jiffies64()


HELPERS = (
    HelperDef("ktime_get_ns", proto(), ktime_get_ns),
    HelperDef("ktime_get_boot_ns", proto(), ktime_get_boot_ns),
    HelperDef("ktime_get_coarse_ns", proto(), ktime_get_coarse_ns),
    HelperDef("ktime_get_tai_ns", proto(), ktime_get_tai_ns),
    HelperDef("jiffies64", proto(), jiffies64),
)
