"""BPF_MAP_TYPE_ARRAY and PERCPU_ARRAY: fixed u32 index, every element always exists.

Data layout: ``max_entries`` elements laid end to end; an element is the value
rounded up to 8 bytes (per-CPU: one such slot per CPU).  Because the layout is the
flat array user space expects, a BPF_F_MMAPABLE array's ``mmap_view()`` is simply a
slice of the storage.

:class:`SparseArrayMap` is the shared base of the arrays whose slots may be empty
(program arrays, map-in-map, perf event arrays, devmap/cpumap/xskmap): each slot
gets an extra 8 bytes whose first u32 says whether it holds something.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from typing import ClassVar

from pybpf.maps.base import Map, MapSpec, einval
from pybpf.maps.flags import (
    ACCESS_MASK,
    BPF_EXIST,
    BPF_F_LOCK,
    BPF_NOEXIST,
    PCPU_MIN_UNIT_SIZE,
    MapFlag,
)
from pybpf.maps.storage import Layout, Storage, round8
from pybpf.uapi import MapType

INT_MAX = (1 << 31) - 1
ARRAY_CREATE_FLAG_MASK = int(
    MapFlag.NUMA_NODE | MapFlag.MMAPABLE | ACCESS_MASK | MapFlag.PRESERVE_ELEMS | MapFlag.INNER_MAP
)


def check_access_flags(spec: MapSpec) -> None:
    """bpf_map_flags_access_ok: a program cannot be both read-only and write-only."""
    both_prog = MapFlag.RDONLY_PROG | MapFlag.WRONLY_PROG
    if spec.flags & both_prog == both_prog:
        raise einval(spec, "BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG are exclusive")


def check_array_spec(spec: MapSpec, *, allowed: int = ARRAY_CREATE_FLAG_MASK) -> None:
    """array_map_alloc_check(), shared by every array-shaped map."""
    if spec.key_size != 4:
        raise einval(spec, f"array maps need key_size 4, got {spec.key_size}")
    if spec.value_size == 0:
        raise einval(spec, "value_size must not be 0")
    if spec.max_entries == 0:
        raise einval(spec, "max_entries must not be 0")
    unknown = spec.flags & ~allowed
    if unknown:
        raise einval(spec, f"flags {unknown:#x} not valid for {spec.map_type.uapi_name} maps")
    check_access_flags(spec)
    if spec.map_type != MapType.ARRAY and spec.flags & (MapFlag.MMAPABLE | MapFlag.INNER_MAP):
        raise einval(spec, "BPF_F_MMAPABLE and BPF_F_INNER_MAP are for plain arrays only")
    if spec.map_type != MapType.PERF_EVENT_ARRAY and spec.flags & MapFlag.PRESERVE_ELEMS:
        raise einval(spec, "BPF_F_PRESERVE_ELEMS is for perf event arrays only")
    if spec.value_size > INT_MAX:
        raise einval(spec, f"value_size {spec.value_size} is too large", errno.E2BIG)


class ArrayMap(Map):
    """ARRAY / PERCPU_ARRAY."""

    map_types: ClassVar[tuple[MapType, ...]] = (MapType.ARRAY, MapType.PERCPU_ARRAY)

    def __init__(self, spec: MapSpec, storage: Storage) -> None:
        super().__init__(spec, storage)
        self.percpu = spec.map_type == MapType.PERCPU_ARRAY
        self._vslot = round8(spec.value_size)
        self._elem = self._vslot * (spec.num_cpus if self.percpu else 1)
        self._data = self._st.data_offset

    @classmethod
    def check_spec(cls, spec: MapSpec) -> MapSpec:
        check_array_spec(spec)
        percpu = spec.map_type == MapType.PERCPU_ARRAY
        if percpu and round8(spec.value_size) > PCPU_MIN_UNIT_SIZE:
            raise einval(spec, f"per-CPU value_size {spec.value_size} is too large", errno.E2BIG)
        if spec.spin_lock_offset is not None and percpu:
            raise einval(spec, "bpf_spin_lock is not allowed in per-CPU arrays", errno.EOPNOTSUPP)
        return spec

    @classmethod
    def layout(cls, spec: MapSpec) -> Layout:
        n = spec.num_cpus if spec.map_type == MapType.PERCPU_ARRAY else 1
        elem = round8(spec.value_size) * n
        return cls._layout(spec, elem * spec.max_entries, journal=elem + 1024)

    # -- helpers ------------------------------------------------------------------------

    def _index(self, key: bytes) -> int:
        return int.from_bytes(key, "little")

    def mmap_view(self) -> memoryview:
        """The flat value array a BPF_F_MMAPABLE array exposes to user space."""
        if not self.mmapable:
            raise self._err("map was not created with BPF_F_MMAPABLE")
        return memoryview(self._mm)[self._data : self._data + self._elem * self.max_entries]

    # -- hooks --------------------------------------------------------------------------------

    def _lookup(self, key: bytes, flags: int) -> bytes:
        i = self._index(key)
        if i >= self.max_entries:
            raise self._enoent(f"index {i} out of range")
        off = self._data + i * self._elem
        if self.percpu:
            return self._mm[off : off + self._elem]
        raw = self._mm[off : off + self.value_size]
        return self._copy_out(raw)

    def _check_update_flags(self, i: int, flags: int) -> None:
        if (flags & ~BPF_F_LOCK) > BPF_EXIST:
            raise self._err(f"unknown update flags {flags:#x}")
        if i >= self.max_entries:
            raise self._err(f"index {i} out of range", errno.E2BIG)
        if flags & BPF_NOEXIST:
            raise self._err("array elements always exist (BPF_NOEXIST)", errno.EEXIST)

    def _update(self, key: bytes, value: bytes, flags: int) -> None:
        i = self._index(key)
        self._check_update_flags(i, flags)
        off = self._data + i * self._elem
        with self._st.txn():
            if self.percpu:
                self._st.put(off, value)
            else:
                self._write_value(off, value + bytes(self._vslot - len(value)), bool(flags & BPF_F_LOCK))

    def _prog_update(self, key: bytes, value: bytes, flags: int, cpu: int) -> None:
        if not self.percpu:
            self._update(key, value, flags)
            return
        self._check_cpu(cpu)
        i = self._index(key)
        self._check_update_flags(i, flags)
        self._st.put(self._data + i * self._elem + cpu * self._vslot, value)

    def _delete(self, key: bytes) -> None:
        raise self._err("array elements cannot be deleted")

    def delete_batch(self, keys: Sequence[bytes], flags: int = 0) -> int:
        raise self._unsupported("delete_batch")

    def _next_key(self, key: bytes | None) -> bytes:
        i = -1 if key is None else self._index(key)
        if i >= self.max_entries:
            i = -1
        if i + 1 >= self.max_entries:
            raise self._enoent("last index")
        return (i + 1).to_bytes(4, "little")

    def __len__(self) -> int:
        return self.max_entries

    def value_offset(self, key: bytes) -> int | None:
        i = int.from_bytes(key, "little")
        if len(key) != 4 or i >= self.max_entries:
            return None
        return self._data + i * self._elem

    def value_offset_cpu(self, key: bytes, cpu: int) -> int | None:
        off = self.value_offset(key)
        if off is None or not 0 <= cpu < (self.num_cpus if self.percpu else 1):
            return None
        return off + cpu * self._vslot


class SparseArrayMap(Map):
    """Arrays of optional slots: u32 index, a slot is empty until something is stored."""

    def __init__(self, spec: MapSpec, storage: Storage) -> None:
        super().__init__(spec, storage)
        self._vslot = round8(spec.value_size)
        self._elem = self._vslot + 8
        self._data = self._st.data_offset

    @classmethod
    def layout(cls, spec: MapSpec) -> Layout:
        return cls._layout(spec, (round8(spec.value_size) + 8) * spec.max_entries)

    def _index(self, key: bytes) -> int:
        return int.from_bytes(key, "little")

    def _present(self, i: int) -> bool:
        return bool(self._w[(self._data + i * self._elem + self._vslot) // 4])

    def _raw(self, i: int) -> bytes:
        off = self._data + i * self._elem
        return self._mm[off : off + self.value_size]

    def _set(self, i: int, value: bytes) -> None:
        off = self._data + i * self._elem
        with self._st.txn():
            self._st.put(off, value)
            self._st.put_word((off + self._vslot) // 4, 1)

    def _clear(self, i: int) -> None:
        off = self._data + i * self._elem
        with self._st.txn():
            self._st.put_word((off + self._vslot) // 4, 0)
            self._st.put(off, bytes(self._vslot))

    def _next_key(self, key: bytes | None) -> bytes:
        i = -1 if key is None else self._index(key)
        if i >= self.max_entries:
            i = -1
        if i + 1 >= self.max_entries:
            raise self._enoent("last index")
        return (i + 1).to_bytes(4, "little")

    def occupied(self) -> list[int]:
        """Indexes that hold something."""
        return [i for i in range(self.max_entries) if self._present(i)]

    def __len__(self) -> int:
        return self.max_entries

    def value_offset(self, key: bytes) -> int | None:
        i = int.from_bytes(key, "little")
        if len(key) != 4 or i >= self.max_entries or not self._present(i):
            return None
        return self._data + i * self._elem
