"""The clocks the time helpers read.

By default the host's clocks (CLOCK_MONOTONIC for ``bpf_ktime_get_ns``, as in the
kernel).  :class:`FixedClock` freezes time so that a replayed event produces the
same timestamps every run.
"""

from __future__ import annotations

import time

_CLOCK_MONOTONIC_COARSE = 6  # Linux clock id; the time module does not export the name

HZ = 250
"""Timer frequency used to derive jiffies (CONFIG_HZ of common distribution kernels)."""

INITIAL_JIFFIES = (1 << 32) - 300 * HZ
"""The kernel starts jiffies five minutes before a 32-bit wrap to catch overflow bugs."""


class Clock:
    """Host clocks; every method returns nanoseconds (jiffies for :meth:`jiffies64`)."""

    def monotonic_ns(self) -> int:
        return time.clock_gettime_ns(time.CLOCK_MONOTONIC)

    def boot_ns(self) -> int:
        return time.clock_gettime_ns(time.CLOCK_BOOTTIME)

    def coarse_ns(self) -> int:
        return time.clock_gettime_ns(_CLOCK_MONOTONIC_COARSE)

    def tai_ns(self) -> int:
        return time.clock_gettime_ns(time.CLOCK_TAI)

    def jiffies64(self) -> int:
        return INITIAL_JIFFIES + self.boot_ns() * HZ // 1_000_000_000


class FixedClock(Clock):
    """Every clock reads ``now_ns`` (advance it with :meth:`advance`)."""

    def __init__(self, now_ns: int = 0) -> None:
        self.now_ns = now_ns

    def advance(self, ns: int) -> None:
        self.now_ns += ns

    def monotonic_ns(self) -> int:
        return self.now_ns

    def boot_ns(self) -> int:
        return self.now_ns

    def coarse_ns(self) -> int:
        return self.now_ns - self.now_ns % 4_000_000

    def tai_ns(self) -> int:
        return self.now_ns
