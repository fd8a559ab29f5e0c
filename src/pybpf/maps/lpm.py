"""BPF_MAP_TYPE_LPM_TRIE: longest-prefix-match over keys ``u32 prefixlen | data``.

Elements live in fixed slots in the buffer (u32 state, u32 prefixlen, data, value).
The search structure is a Python index ``(prefixlen, prefix bits) -> slot`` that
is a cache only: it is rebuilt from the slots whenever the storage generation
changes (another process wrote a shared file).  Longest-prefix lookup probes the
distinct prefix lengths present, longest first.  ``next_key`` follows the
kernel's post-order walk of the trie: a more specific prefix comes before the
prefix containing it, and 0-branches before 1-branches.
Bits are numbered as the kernel does: from the most significant bit of data[0].
"""

from __future__ import annotations

import errno
from typing import ClassVar

from pybpf.maps.array import check_access_flags
from pybpf.maps.base import Map, MapSpec, einval
from pybpf.maps.flags import ACCESS_MASK, BPF_EXIST, BPF_NOEXIST, KMALLOC_MAX_SIZE, MapFlag
from pybpf.maps.storage import Layout, Storage, Word, round8
from pybpf.uapi import MapType

LPM_CREATE_FLAG_MASK = int(MapFlag.NO_PREALLOC | MapFlag.NUMA_NODE | ACCESS_MASK)
LPM_DATA_SIZE_MIN = 1
LPM_DATA_SIZE_MAX = 256
_PLEN = 4


class LpmTrieMap(Map):
    """LPM_TRIE (requires BPF_F_NO_PREALLOC, as in the kernel)."""

    map_types: ClassVar[tuple[MapType, ...]] = (MapType.LPM_TRIE,)

    def __init__(self, spec: MapSpec, storage: Storage) -> None:
        super().__init__(spec, storage)
        self._ds = spec.key_size - _PLEN
        self.max_prefixlen = self._ds * 8
        self._do = 8
        self._vo = 8 + round8(self._ds)
        self._ss = self._vo + round8(spec.value_size)
        self._slot0 = storage.data_offset
        self._index: dict[tuple[int, int], int] = {}
        self._plens: dict[int, int] = {}
        self._order: list[int] | None = None
        self._gen = -1
        self._rebuild()

    @classmethod
    def check_spec(cls, spec: MapSpec) -> MapSpec:
        ds = spec.key_size - _PLEN
        if spec.max_entries == 0:
            raise einval(spec, "max_entries must not be 0")
        if not spec.flags & MapFlag.NO_PREALLOC:
            raise einval(spec, "LPM tries require BPF_F_NO_PREALLOC")
        unknown = spec.flags & ~LPM_CREATE_FLAG_MASK
        if unknown:
            raise einval(spec, f"flags {unknown:#x} not valid for LPM tries")
        check_access_flags(spec)
        if not LPM_DATA_SIZE_MIN <= ds <= LPM_DATA_SIZE_MAX:
            raise einval(spec, f"LPM key_size must be 4 + 1..{LPM_DATA_SIZE_MAX}, got {spec.key_size}")
        if spec.value_size == 0 or spec.value_size > KMALLOC_MAX_SIZE:
            raise einval(spec, f"LPM value_size {spec.value_size} out of range")
        return spec

    @classmethod
    def layout(cls, spec: MapSpec) -> Layout:
        ss = 8 + round8(spec.key_size - _PLEN) + round8(spec.value_size)
        return cls._layout(spec, ss * spec.max_entries, journal=2 * ss + 512)

    # -- index cache -------------------------------------------------------------------

    def _off(self, s: int) -> int:
        return self._slot0 + (s - 1) * self._ss

    def _ikey(self, plen: int, data: bytes) -> tuple[int, int]:
        return plen, int.from_bytes(data, "big") >> (self.max_prefixlen - plen)

    def _rebuild(self) -> None:
        self._index.clear()
        self._plens.clear()
        w = self._w
        for s in range(1, w[Word.BUMP] + 1):
            hw = self._off(s) >> 2
            if w[hw]:
                plen = w[hw + 1]
                self._add_index(self._ikey(plen, self._data_at(s)), s)
        self._order = None
        self._gen = w[Word.GENERATION]

    def _sync(self) -> None:
        if self._st.journaled and self._w[Word.GENERATION] != self._gen:
            self._rebuild()

    def _add_index(self, ik: tuple[int, int], s: int) -> None:
        self._index[ik] = s
        self._plens[ik[0]] = self._plens.get(ik[0], 0) + 1
        self._order = None

    def _drop_index(self, ik: tuple[int, int]) -> None:
        del self._index[ik]
        self._plens[ik[0]] -= 1
        if not self._plens[ik[0]]:
            del self._plens[ik[0]]
        self._order = None

    def _data_at(self, s: int) -> bytes:
        off = self._off(s) + self._do
        return self._mm[off : off + self._ds]

    def _split(self, key: bytes) -> tuple[int, bytes]:
        return int.from_bytes(key[:_PLEN], "little"), key[_PLEN:]

    def _match(self, key: bytes) -> int:
        """Slot of the longest prefix matching ``key`` (bounded by its prefixlen), or 0."""
        self._sync()
        plen, data = self._split(key)
        limit = min(plen, self.max_prefixlen)
        bits = int.from_bytes(data, "big")
        for p in sorted(self._plens, reverse=True):
            if p <= limit:
                s = self._index.get((p, bits >> (self.max_prefixlen - p)))
                if s:
                    return s
        return 0

    def _exact(self, key: bytes) -> tuple[int, tuple[int, int]]:
        self._sync()
        plen, data = self._split(key)
        if plen > self.max_prefixlen:
            raise self._err(f"prefixlen {plen} exceeds {self.max_prefixlen}")
        ik = self._ikey(plen, data)
        return self._index.get(ik, 0), ik

    # -- hooks ---------------------------------------------------------------------------

    def _lookup(self, key: bytes, flags: int) -> bytes:
        s = self._match(key)
        if not s:
            raise self._enoent("no matching prefix")
        off = self._off(s) + self._vo
        return self._mm[off : off + self.value_size]

    def _update(self, key: bytes, value: bytes, flags: int) -> None:
        if flags > BPF_EXIST:
            raise self._err(f"unknown update flags {flags:#x}")
        s, ik = self._exact(key)
        if s and flags == BPF_NOEXIST:
            raise self._err("prefix exists (BPF_NOEXIST)", errno.EEXIST)
        if not s and flags == BPF_EXIST:
            raise self._enoent("prefix does not exist (BPF_EXIST)")
        w = self._w
        st = self._st
        plen, data = self._split(key)
        record = data + bytes(round8(self._ds) - self._ds) + value + bytes(round8(len(value)) - len(value))
        with st.txn():
            if s:
                st.put(self._off(s) + self._do, record)
                return
            if w[Word.COUNT] >= self.max_entries:
                raise self._full("LPM trie is full", errno.ENOSPC)
            free = w[Word.FREE_HEAD]
            if free:
                s = free
                st.put_word(Word.FREE_HEAD, w[(self._off(s) >> 2) + 1])
            else:
                s = w[Word.BUMP] + 1
                st.put_word(Word.BUMP, s)
            hw = self._off(s) >> 2
            st.put(self._off(s) + self._do, record)
            st.put_word(hw + 1, plen)
            st.put_word(hw, 1)
            st.put_word(Word.COUNT, w[Word.COUNT] + 1)
        self._add_index(ik, s)
        self._gen = w[Word.GENERATION]

    def _delete(self, key: bytes) -> None:
        s, ik = self._exact(key)
        if not s:
            raise self._enoent("prefix does not exist")
        w = self._w
        st = self._st
        hw = self._off(s) >> 2
        with st.txn():
            st.put_word(hw, 0)
            st.put_word(hw + 1, w[Word.FREE_HEAD])
            st.put_word(Word.FREE_HEAD, s)
            st.put_word(Word.COUNT, w[Word.COUNT] - 1)
        self._drop_index(ik)
        self._gen = w[Word.GENERATION]

    def _sorted(self) -> list[int]:
        if self._order is None:
            n = self.max_prefixlen

            def walk_key(item: tuple[tuple[int, int], int]) -> str:
                (plen, bits), _ = item
                prefix = format(bits, f"0{n}b")[n - plen :] if plen else ""
                return prefix + "2"

            self._order = [s for _, s in sorted(self._index.items(), key=walk_key)]
        return self._order

    def _key_at(self, s: int) -> bytes:
        plen = self._w[(self._off(s) >> 2) + 1]
        return plen.to_bytes(_PLEN, "little") + self._data_at(s)

    def _next_key(self, key: bytes | None) -> bytes:
        self._sync()
        order = self._sorted()
        if not order:
            raise self._enoent("trie is empty")
        s = 0
        if key is not None:
            plen, _ = self._split(key)
            if plen <= self.max_prefixlen:
                s, _ = self._exact(key)
        if not s:
            return self._key_at(order[0])
        i = order.index(s)
        if i + 1 >= len(order):
            raise self._enoent("last prefix")
        return self._key_at(order[i + 1])

    def __len__(self) -> int:
        return int(self._w[Word.COUNT])

    def value_offset(self, key: bytes) -> int | None:
        if len(key) != self.key_size:
            return None
        s = self._match(bytes(key))
        return self._off(s) + self._vo if s else None
