"""BPF_MAP_TYPE_HASH and PERCPU_HASH: a bucket-chained hash table inside the buffer.

Data layout::

    buckets   n_buckets u32 (a power of two >= max_entries, as the kernel sizes it);
              each holds the 1-based number of the first slot of its chain, 0 = empty
    slots     max_entries fixed-size slots:
                u32 next (chain), u32 state (1 = in use)
                [u32 lru_prev, u32 lru_next, LRU maps only]
                key (rounded up to 8) | value area (8-aligned; per-CPU: one slot per CPU)

Nothing lives only in Python: the element count, the free list head and the bump
pointer (slots never used yet, so a fresh map touches no pages) are header words,
and chains are in the buffer, so another process mapping the same file sees the
same table.  The bucket is ``crc32(key)``, deterministic across processes.
Iteration order is the kernel's: bucket by bucket, newest first in a chain.
"""

from __future__ import annotations

import errno
import zlib
from collections.abc import Iterator
from typing import ClassVar

from pybpf.errors import MapKeyNotFoundError
from pybpf.maps.array import check_access_flags
from pybpf.maps.base import BatchResult, Map, MapSpec, einval
from pybpf.maps.flags import (
    ACCESS_MASK,
    BPF_EXIST,
    BPF_F_LOCK,
    BPF_NOEXIST,
    ENOTSUPP,
    KMALLOC_MAX_SIZE,
    MAX_BPF_STACK,
    PCPU_MIN_UNIT_SIZE,
    MapFlag,
)
from pybpf.maps.storage import Layout, Storage, Word, round8
from pybpf.uapi import MapType

HTAB_CREATE_FLAG_MASK = int(
    MapFlag.NO_PREALLOC | MapFlag.NO_COMMON_LRU | MapFlag.NUMA_NODE | ACCESS_MASK | MapFlag.ZERO_SEED
)
_LRU_TYPES = (MapType.LRU_HASH, MapType.LRU_PERCPU_HASH)
_PERCPU_TYPES = (MapType.PERCPU_HASH, MapType.LRU_PERCPU_HASH)
_HTAB_ELEM_SIZE = 48  # sizeof(struct htab_elem), for the kernel's value_size limit
_MAX_BUCKETS = 0xFFFFFFFF // 16  # htab_map_alloc: n_buckets > U32_MAX / sizeof(struct bucket) is E2BIG


def n_buckets(max_entries: int) -> int:
    """roundup_pow_of_two(max_entries), as htab_map_alloc sizes its bucket array."""
    return 1 << max(0, (max_entries - 1).bit_length())


def check_hash_spec(spec: MapSpec) -> MapSpec:
    """htab_map_alloc_check(), plus the LRU max_entries rounding of htab_map_alloc."""
    lru = spec.map_type in _LRU_TYPES
    percpu = spec.map_type in _PERCPU_TYPES
    unknown = spec.flags & ~HTAB_CREATE_FLAG_MASK
    if unknown:
        raise einval(spec, f"flags {unknown:#x} not valid for {spec.map_type.uapi_name} maps")
    check_access_flags(spec)
    if not lru and spec.flags & MapFlag.NO_COMMON_LRU:
        raise einval(spec, "BPF_F_NO_COMMON_LRU is for LRU maps only")
    if lru and spec.flags & MapFlag.NO_PREALLOC:
        raise einval(spec, "LRU maps must be preallocated (no BPF_F_NO_PREALLOC)", ENOTSUPP)
    if spec.max_entries == 0 or spec.key_size == 0 or spec.value_size == 0:
        raise einval(spec, "key_size, value_size and max_entries must be non-zero")
    if spec.value_size >= KMALLOC_MAX_SIZE - MAX_BPF_STACK - _HTAB_ELEM_SIZE:
        raise einval(spec, f"value_size {spec.value_size} is too large", errno.E2BIG)
    if percpu and round8(spec.value_size) > PCPU_MIN_UNIT_SIZE:
        raise einval(spec, f"per-CPU value_size {spec.value_size} is too large", errno.E2BIG)
    if spec.spin_lock_offset is not None and spec.map_type != MapType.HASH:
        raise einval(spec, "bpf_spin_lock is only allowed in hash and array maps", errno.EOPNOTSUPP)
    if lru and spec.flags & MapFlag.NO_COMMON_LRU:
        # Each CPU's LRU list needs at least one element.
        ncpu = spec.num_cpus
        rounded = -(-spec.max_entries // ncpu) * ncpu
        if rounded >= 1 << 32:
            rounded = spec.max_entries // ncpu * ncpu
        spec = spec.with_max_entries(rounded)
    buckets = n_buckets(spec.max_entries)
    if buckets == 0 or buckets > _MAX_BUCKETS:
        raise einval(
            spec, f"max_entries {spec.max_entries} needs more buckets than a hash map may have", errno.E2BIG
        )
    return spec


class HashMap(Map):
    """HASH / PERCPU_HASH (and, through :mod:`pybpf.maps.lru`, the LRU variants)."""

    map_types: ClassVar[tuple[MapType, ...]] = (MapType.HASH, MapType.PERCPU_HASH)
    lru: ClassVar[bool] = False

    def __init__(self, spec: MapSpec, storage: Storage) -> None:
        super().__init__(spec, storage)
        self.percpu = spec.map_type in _PERCPU_TYPES
        self._ks = spec.key_size
        self._kpad = bytes(round8(spec.key_size) - spec.key_size)
        self._vslot = round8(spec.value_size)
        self._varea = self._vslot * (spec.num_cpus if self.percpu else 1)
        hdr = 16 if self.lru else 8
        self._ko = hdr
        self._vo = hdr + round8(spec.key_size)
        self._ss = self._vo + self._varea
        nb = n_buckets(spec.max_entries)
        self._nb = nb
        self._bmask = nb - 1
        self._bw = storage.data_offset // 4
        self._slot0 = storage.data_offset + round8(4 * nb)

    @classmethod
    def check_spec(cls, spec: MapSpec) -> MapSpec:
        return check_hash_spec(spec)

    @classmethod
    def layout(cls, spec: MapSpec) -> Layout:
        percpu = spec.map_type in _PERCPU_TYPES
        hdr = 16 if spec.map_type in _LRU_TYPES else 8
        varea = round8(spec.value_size) * (spec.num_cpus if percpu else 1)
        ss = hdr + round8(spec.key_size) + varea
        nb = n_buckets(spec.max_entries)
        return cls._layout(spec, round8(4 * nb) + ss * spec.max_entries, journal=2 * ss + 1024)

    # -- table mechanics ----------------------------------------------------------------

    def _off(self, s: int) -> int:
        return self._slot0 + (s - 1) * self._ss

    def _find(self, key: bytes) -> tuple[int, int, int]:
        """(slot, previous slot in chain, bucket); slot 0 when absent."""
        b = zlib.crc32(key) & self._bmask
        w = self._w
        mm = self._mm
        s = w[self._bw + b]
        prev = 0
        ko = self._ko
        ks = self._ks
        while s:
            off = self._slot0 + (s - 1) * self._ss
            if mm[off + ko : off + ko + ks] == key:
                return s, prev, b
            prev = s
            s = w[off >> 2]
        return 0, prev, b

    def _key_at(self, s: int) -> bytes:
        off = self._off(s) + self._ko
        return self._mm[off : off + self._ks]

    def _alloc(self) -> int:
        w = self._w
        st = self._st
        free = w[Word.FREE_HEAD]
        if free:
            st.put_word(Word.FREE_HEAD, w[self._off(free) >> 2])
            return free
        bump = w[Word.BUMP]
        if bump < self.max_entries:
            st.put_word(Word.BUMP, bump + 1)
            return bump + 1
        return self._evict()

    def _evict(self) -> int:
        raise self._full()

    def _insert(self, key: bytes, varea: bytes, b: int) -> int:
        """Link a new element at the head of bucket ``b``; returns its slot."""
        st = self._st
        w = self._w
        s = self._alloc()
        off = self._off(s)
        head = w[self._bw + b]  # read after _alloc: an eviction may have changed it
        st.put(off + self._ko, key + self._kpad + varea)
        hw = off >> 2
        st.put_word(hw, head)
        st.put_word(hw + 1, 1)
        st.put_word(self._bw + b, s)
        st.put_word(Word.COUNT, w[Word.COUNT] + 1)
        if self.lru:
            self._lru_push(s)
        return s

    def _unlink(self, s: int, prev: int, b: int) -> None:
        st = self._st
        w = self._w
        hw = self._off(s) >> 2
        nxt = w[hw]
        if prev:
            st.put_word(self._off(prev) >> 2, nxt)
        else:
            st.put_word(self._bw + b, nxt)
        if self.lru:
            self._lru_unlink(s)
        st.put_word(hw + 1, 0)
        st.put_word(hw, w[Word.FREE_HEAD])
        st.put_word(Word.FREE_HEAD, s)
        st.put_word(Word.COUNT, w[Word.COUNT] - 1)

    # LRU list: doubly linked through the slot headers, LRU_HEAD = most recent.

    def _lru_unlink(self, s: int) -> None:
        st = self._st
        w = self._w
        hw = self._off(s) >> 2
        p, n = w[hw + 2], w[hw + 3]
        if p:
            st.put_word((self._off(p) >> 2) + 3, n)
        else:
            st.put_word(Word.LRU_HEAD, n)
        if n:
            st.put_word((self._off(n) >> 2) + 2, p)
        else:
            st.put_word(Word.LRU_TAIL, p)

    def _lru_push(self, s: int) -> None:
        st = self._st
        w = self._w
        hw = self._off(s) >> 2
        h = w[Word.LRU_HEAD]
        st.put_word(hw + 2, 0)
        st.put_word(hw + 3, h)
        if h:
            st.put_word((self._off(h) >> 2) + 2, s)
        else:
            st.put_word(Word.LRU_TAIL, s)
        st.put_word(Word.LRU_HEAD, s)

    def _touch(self, s: int) -> None:
        if self._w[Word.LRU_HEAD] != s:
            with self._st.txn():
                self._lru_unlink(s)
                self._lru_push(s)

    # -- hooks ---------------------------------------------------------------------------------

    def _lookup(self, key: bytes, flags: int) -> bytes:
        s, _, _ = self._find(key)
        if not s:
            raise self._enoent()
        off = self._off(s) + self._vo
        if self.percpu:
            return self._mm[off : off + self._varea]
        return self._copy_out(self._mm[off : off + self.value_size])

    def _check_update_flags(self, flags: int) -> None:
        lock_ok = not (self.percpu or self.lru)
        if (flags & ~BPF_F_LOCK) > BPF_EXIST or (flags & BPF_F_LOCK and not lock_ok):
            raise self._err(f"unknown update flags {flags:#x}")

    def _update(self, key: bytes, value: bytes, flags: int) -> None:
        self._check_update_flags(flags)
        s, _, b = self._find(key)
        mode = flags & ~BPF_F_LOCK
        if s and mode == BPF_NOEXIST:
            raise self._err("key exists (BPF_NOEXIST)", errno.EEXIST)
        if not s and mode == BPF_EXIST:
            raise self._enoent("key does not exist (BPF_EXIST)")
        pad = bytes(self._vslot - len(value)) if not self.percpu else b""
        with self._st.txn():
            if s:
                self._write_value(self._off(s) + self._vo, value + pad, bool(flags & BPF_F_LOCK))
                if self.lru:
                    self._touch(s)
            else:
                if not self.lru and self._w[Word.COUNT] >= self.max_entries:
                    raise self._full()
                self._insert(key, self._copy_out(value) + pad, b)

    def _prog_update(self, key: bytes, value: bytes, flags: int, cpu: int) -> None:
        if not self.percpu:
            self._update(key, value, flags)
            return
        self._check_cpu(cpu)
        self._check_update_flags(flags)
        s, _, b = self._find(key)
        if s and flags == BPF_NOEXIST:
            raise self._err("key exists (BPF_NOEXIST)", errno.EEXIST)
        if not s and flags == BPF_EXIST:
            raise self._enoent("key does not exist (BPF_EXIST)")
        slot_val = value + bytes(self._vslot - len(value))
        with self._st.txn():
            if s:
                self._st.put(self._off(s) + self._vo + cpu * self._vslot, slot_val)
                if self.lru:
                    self._touch(s)
            else:
                if not self.lru and self._w[Word.COUNT] >= self.max_entries:
                    raise self._full()
                area = bytearray(self._varea)
                area[cpu * self._vslot : (cpu + 1) * self._vslot] = slot_val
                self._insert(key, bytes(area), b)

    def _delete(self, key: bytes) -> None:
        s, prev, b = self._find(key)
        if not s:
            raise self._enoent()
        with self._st.txn():
            self._unlink(s, prev, b)

    def _lookup_and_delete(self, key: bytes, flags: int) -> bytes:
        value = self._lookup(key, flags)
        self._delete(key)
        return value

    def _next_key(self, key: bytes | None) -> bytes:
        start = 0
        if key is not None:
            s, _, b = self._find(key)
            if s:
                nxt = self._w[self._off(s) >> 2]
                if nxt:
                    return self._key_at(nxt)
                start = b + 1
        b = self._next_bucket(start)
        if b < 0:
            raise self._enoent("no more keys")
        return self._key_at(self._w[self._bw + b])

    def _next_bucket(self, start: int) -> int:
        """Index of the first non-empty bucket at or after ``start``, or -1."""
        w = self._w
        base = self._bw
        nb = self._nb
        i = start
        while i < nb:
            end = min(nb, i + 512)
            chunk = w[base + i : base + end]
            if any(chunk):
                for j, v in enumerate(chunk):
                    if v:
                        return i + j
            i = end
        return -1

    def iter_keys(self) -> Iterator[bytes]:
        """Every key in next_key order, walking the buckets directly."""
        self._check_user_read()
        w = self._w
        b = self._next_bucket(0)
        while b >= 0:
            keys = []
            s = w[self._bw + b]
            while s:
                keys.append(self._key_at(s))
                s = w[self._off(s) >> 2]
            yield from keys
            b = self._next_bucket(b + 1)

    def __len__(self) -> int:
        return int(self._w[Word.COUNT])

    def _lookup_and_delete_batch(self, count: int, cursor: bytes | None) -> BatchResult:
        keys: list[bytes] = []
        values: list[bytes] = []
        with self._st.txn():
            while len(keys) < count:
                try:
                    k = self._next_key(None)
                except MapKeyNotFoundError:
                    break
                values.append(self._lookup(k, 0))
                self._delete(k)
                keys.append(k)
        more = len(keys) == count and len(self) > 0
        return BatchResult(keys, values, keys[-1] if more and keys else None)

    # -- program side -----------------------------------------------------------------------------

    def value_offset(self, key: bytes) -> int | None:
        if len(key) != self._ks:
            return None
        s, _, _ = self._find(bytes(key))
        if not s:
            return None
        if self.lru:
            self._touch(s)
        return self._off(s) + self._vo

    def value_offset_cpu(self, key: bytes, cpu: int) -> int | None:
        off = self.value_offset(key)
        if off is None or not 0 <= cpu < (self.num_cpus if self.percpu else 1):
            return None
        return off + cpu * self._vslot
