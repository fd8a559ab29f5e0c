"""BPF_MAP_TYPE_BLOOM_FILTER: push values, peek for "maybe present" / "surely absent".

The bit array is sized as the kernel sizes it (max_entries * nr_hashes * 7 / 5
bits, rounded up to a power of two, at least 64).  Bit positions come from
BLAKE2b (double hashing), deterministic across processes so a file-backed filter
means the same thing to everyone; the kernel's jhash with a random seed is an
implementation detail no program can observe beyond the false-positive rate.
"""

from __future__ import annotations

import errno
import hashlib
from typing import ClassVar

from pybpf.maps.array import check_access_flags
from pybpf.maps.base import Map, MapSpec, einval
from pybpf.maps.flags import ACCESS_MASK, EOPNOTSUPP, KMALLOC_MAX_SIZE, MapFlag
from pybpf.maps.storage import Layout, Storage
from pybpf.uapi import MapType

BLOOM_CREATE_FLAG_MASK = int(MapFlag.NUMA_NODE | MapFlag.ZERO_SEED | ACCESS_MASK)
_NR_HASH_FUNCS_MASK = 0xF
_DEFAULT_HASH_FUNCS = 5


def bloom_bits(max_entries: int, nr_hash_funcs: int) -> int:
    """Number of bits in the filter, following bloom_map_alloc()."""
    nr_bits = max_entries * nr_hash_funcs
    nr_bits = (nr_bits // 5) * 7
    if nr_bits > 1 << 31:
        return 1 << 31
    if nr_bits <= 64:
        return 64
    return 1 << (nr_bits - 1).bit_length()


class BloomFilterMap(Map):
    """BLOOM_FILTER: ``map_extra`` low 4 bits = number of hash functions (0 means 5)."""

    map_types: ClassVar[tuple[MapType, ...]] = (MapType.BLOOM_FILTER,)

    def __init__(self, spec: MapSpec, storage: Storage) -> None:
        super().__init__(spec, storage)
        self.nr_hash_funcs = (spec.map_extra & _NR_HASH_FUNCS_MASK) or _DEFAULT_HASH_FUNCS
        self.nr_bits = bloom_bits(spec.max_entries, self.nr_hash_funcs)
        self._mask = self.nr_bits - 1
        self._data = storage.data_offset

    @classmethod
    def check_spec(cls, spec: MapSpec) -> MapSpec:
        if spec.key_size != 0 or spec.value_size == 0 or spec.max_entries == 0:
            raise einval(spec, "bloom filters need key_size 0, value_size > 0, max_entries > 0")
        unknown = spec.flags & ~BLOOM_CREATE_FLAG_MASK
        if unknown:
            raise einval(spec, f"flags {unknown:#x} not valid for bloom filters")
        check_access_flags(spec)
        if spec.map_extra & ~_NR_HASH_FUNCS_MASK:
            raise einval(spec, "map_extra of a bloom filter is the hash count (0..15)")
        if spec.value_size > KMALLOC_MAX_SIZE:
            raise einval(spec, f"value_size {spec.value_size} is too large", errno.E2BIG)
        return spec

    @classmethod
    def layout(cls, spec: MapSpec) -> Layout:
        nh = (spec.map_extra & _NR_HASH_FUNCS_MASK) or _DEFAULT_HASH_FUNCS
        return cls._layout(spec, bloom_bits(spec.max_entries, nh) // 8, journal=256)

    def _bits(self, value: bytes) -> list[int]:
        d = hashlib.blake2b(value, digest_size=16).digest()
        h1 = int.from_bytes(d[:8], "little")
        h2 = int.from_bytes(d[8:], "little") | 1
        return [(h1 + i * h2) & self._mask for i in range(self.nr_hash_funcs)]

    def push(self, value: bytes, flags: int = 0) -> None:
        """bpf_map_push_elem: add ``value`` (flags must be BPF_ANY)."""
        v = self._value(value, self.value_size)
        if flags:
            raise self._err("bloom filter push takes no flags")
        mm = self._mm
        with self._st.txn():
            for bit in self._bits(v):
                off = self._data + (bit >> 3)
                old = mm[off]
                new = old | (1 << (bit & 7))
                if new != old:
                    self._st.put(off, bytes((new,)))

    def contains(self, value: bytes) -> bool:
        """True if ``value`` may have been pushed; False means surely not."""
        v = self._value(value, self.value_size)
        mm = self._mm
        return all(mm[self._data + (b >> 3)] >> (b & 7) & 1 for b in self._bits(v))

    def contains_value(self, value: bytes) -> bool:
        """:meth:`contains` under the kernel map's name (BPF_MAP_LOOKUP_ELEM with a value)."""
        return self.contains(value)

    def peek(self, value: bytes) -> None:
        """bpf_map_peek_elem: returns if maybe present, raises ENOENT if surely absent."""
        if not self.contains(value):
            raise self._enoent("value is not in the bloom filter")

    # bpf(2) view: update pushes; lookup/delete/next_key are not supported.
    def update(self, key: bytes | None, value: object, flags: int = 0) -> None:
        self._check_user_write()
        self._key(key)
        self.push(value, flags)  # type: ignore[arg-type]

    def prog_update(self, key: bytes, value: bytes, flags: int = 0, cpu: int = 0) -> None:
        self._check_prog_write()
        self.push(value, flags)

    def _lookup(self, key: bytes, flags: int) -> bytes:
        raise self._err("bloom filter lookup needs the value: use peek(value)", EOPNOTSUPP)

    def _delete(self, key: bytes) -> None:
        raise self._err("bloom filters do not support delete", EOPNOTSUPP)

    def _next_key(self, key: bytes | None) -> bytes:
        raise self._err("bloom filters have no keys", EOPNOTSUPP)

    def next_key(self, key: bytes | None) -> bytes | None:
        self._check_user_read()
        return self._next_key(key)
