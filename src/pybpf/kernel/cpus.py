"""How many CPUs per-CPU map values span.

The kernel sizes per-CPU values by the *possible* CPUs (not online ones), read
from /sys/devices/system/cpu/possible as a range list like ``0-3,8-11``.
"""

from __future__ import annotations

from functools import cache

from ..errors import NotSupportedError

POSSIBLE_CPUS_PATH = "/sys/devices/system/cpu/possible"


def parse_cpu_list(text: str) -> list[int]:
    """CPU numbers from a kernel range list (``0-3,5``)."""
    cpus: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            first = int(lo)
            last = int(hi) if sep else first
        except ValueError:
            raise NotSupportedError(f"cannot parse CPU list {text!r}") from None
        cpus.extend(range(first, last + 1))
    return cpus


@cache
def possible_cpus() -> int:
    """Number of possible CPUs: the count of slots in every per-CPU map value."""
    try:
        with open(POSSIBLE_CPUS_PATH) as f:
            text = f.read()
    except OSError as e:
        raise NotSupportedError(f"cannot read {POSSIBLE_CPUS_PATH}: {e.strerror}") from None
    cpus = parse_cpu_list(text)
    if not cpus:
        raise NotSupportedError(f"{POSSIBLE_CPUS_PATH} lists no CPUs")
    return max(cpus) + 1
