"""BPF_MAP_TYPE_LRU_HASH and LRU_PERCPU_HASH: a hash map that evicts instead of failing.

The mechanics (chains, the LRU list threaded through slot headers) are in
:mod:`pybpf.maps.hash`; this class only picks the policy.  The list is exact LRU,
a stricter order than the kernel's approximate (active/inactive + reference bit)
lists, which satisfies every guarantee the kernel gives: an element a program
looked up or updated recently is not the one evicted.  As in the kernel since
5.x, a lookup from user space (``lookup()``) does not refresh recency; program
lookups (``value_offset``) and updates do.  BPF_F_NO_COMMON_LRU is accepted
(one list serves all CPUs; max_entries is rounded to a multiple of the CPU count
as the kernel does).
"""

from __future__ import annotations

from typing import ClassVar

from pybpf.maps.hash import HashMap
from pybpf.maps.storage import Word
from pybpf.uapi import MapType


class LruHashMap(HashMap):
    """LRU_HASH / LRU_PERCPU_HASH."""

    map_types: ClassVar[tuple[MapType, ...]] = (MapType.LRU_HASH, MapType.LRU_PERCPU_HASH)
    lru: ClassVar[bool] = True

    def _evict(self) -> int:
        victim = self._w[Word.LRU_TAIL]
        s, prev, b = self._find(self._key_at(victim))
        self._unlink(s, prev, b)
        return self._alloc()

    def lru_order(self) -> list[bytes]:
        """Keys from most to least recently used (for inspection and tests)."""
        keys = []
        s = self._w[Word.LRU_HEAD]
        while s:
            keys.append(self._key_at(s))
            s = self._w[(self._off(s) >> 2) + 3]
        return keys
