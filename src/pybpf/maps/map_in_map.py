"""BPF_MAP_TYPE_ARRAY_OF_MAPS and HASH_OF_MAPS: values are inner maps.

The outer map is created from an inner map *template*; every map stored later
must match it (type, key/value size, flags, and max_entries unless the template
has BPF_F_INNER_MAP), as bpf_map_meta_equal() demands.  The buffer holds the
inner map's u32 id (what a user-space lookup returns); the outer map keeps the
inner maps alive, as the kernel holds a reference.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from typing import Any, ClassVar

from pybpf.maps.array import SparseArrayMap
from pybpf.maps.base import Map, MapSpec, einval, map_by_id
from pybpf.maps.flags import MapFlag
from pybpf.maps.hash import HashMap, check_hash_spec
from pybpf.maps.prog_array import check_fd_array_spec
from pybpf.maps.storage import Storage
from pybpf.uapi import MapType

_OUTER_TYPES = (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS)


@dataclass(frozen=True)
class InnerMapTemplate:
    """The attributes bpf_map_meta_equal() compares."""

    map_type: MapType
    key_size: int
    value_size: int
    max_entries: int
    flags: int

    @classmethod
    def of(cls, m: Map) -> InnerMapTemplate:
        return cls(m.map_type, m.key_size, m.value_size, m.max_entries, m.flags)

    def mismatch(self, m: Map) -> str | None:
        """Why ``m`` cannot be stored under this template, or None."""
        other = InnerMapTemplate.of(m)
        for field in ("map_type", "key_size", "value_size", "flags"):
            if getattr(self, field) != getattr(other, field):
                return f"{field} {getattr(other, field)} != template {getattr(self, field)}"
        if not self.flags & MapFlag.INNER_MAP and self.max_entries != other.max_entries:
            return f"max_entries {other.max_entries} != template {self.max_entries}"
        return None


class _MapInMapMixin:
    """Shared inner-map handling for both outer map shapes."""

    template: InnerMapTemplate
    _inner: dict[int, Map]
    _pending: Map

    @classmethod
    def create_outer(cls, spec: MapSpec, inner: Map, path: str | os.PathLike[str] | None) -> Map:
        if not isinstance(inner, Map):
            raise einval(spec, "inner_map must be a Map", errno.EBADF)
        if inner.map_type in _OUTER_TYPES:
            raise einval(spec, "map-in-map nesting deeper than one level is not allowed")
        layout = cls.layout(spec)  # type: ignore[attr-defined]
        m = cls(spec, Storage.create(layout, None if path is None else os.fspath(path)))  # type: ignore[call-arg]
        m.template = InnerMapTemplate.of(inner)
        m._inner = {}
        return m  # type: ignore[return-value]

    def _resolve_inner(self, value: Any) -> Map:
        inner: Map | None
        if isinstance(value, Map):
            inner = value
        elif isinstance(value, int) and not isinstance(value, bool):
            inner = map_by_id(value)
        elif isinstance(value, bytes | bytearray | memoryview) and len(value) == 4:
            inner = map_by_id(int.from_bytes(value, "little"))
        else:
            inner = None
        if inner is None:
            raise self._err("value is not a live map (object, id or 4-byte id)", errno.EBADF)  # type: ignore[attr-defined]
        why = self.template.mismatch(inner)
        if why:
            raise self._err(f"inner map does not match the template: {why}")  # type: ignore[attr-defined]
        return inner

    def _user_value(self, value: Any) -> bytes:
        self._pending = self._resolve_inner(value)
        return self._pending.id.to_bytes(4, "little")


class ArrayOfMaps(_MapInMapMixin, SparseArrayMap):
    """ARRAY_OF_MAPS."""

    map_types: ClassVar[tuple[MapType, ...]] = (MapType.ARRAY_OF_MAPS,)

    @classmethod
    def check_spec(cls, spec: MapSpec) -> MapSpec:
        check_fd_array_spec(spec)
        return spec

    def _update(self, key: bytes, value: bytes, flags: int) -> None:
        i = self._index(key)
        if flags:
            raise self._err("array-of-maps updates take BPF_ANY only")
        if i >= self.max_entries:
            raise self._err(f"index {i} out of range", errno.E2BIG)
        self._set(i, value)
        self._inner[i] = self._pending

    def _lookup(self, key: bytes, flags: int) -> bytes:
        i = self._index(key)
        if i >= self.max_entries or not self._present(i):
            raise self._enoent(f"no map at index {i}")
        return self._raw(i)

    def _delete(self, key: bytes) -> None:
        i = self._index(key)
        if i >= self.max_entries:
            raise self._err(f"index {i} out of range", errno.E2BIG)
        if not self._present(i):
            raise self._enoent(f"no map at index {i}")
        self._clear(i)
        self._inner.pop(i, None)

    def prog_update(self, key: bytes, value: bytes, flags: int = 0, cpu: int = 0) -> None:
        raise self._err("programs cannot update a map-in-map")

    def inner_map(self, key: bytes) -> Map | None:
        """What bpf_map_lookup_elem returns to a program: the inner map, or None."""
        i = int.from_bytes(key, "little")
        if len(key) != 4 or i >= self.max_entries or not self._present(i):
            return None
        return self._inner.get(i)


class HashOfMaps(_MapInMapMixin, HashMap):
    """HASH_OF_MAPS."""

    map_types: ClassVar[tuple[MapType, ...]] = (MapType.HASH_OF_MAPS,)

    def __init__(self, spec: MapSpec, storage: Storage) -> None:
        super().__init__(spec, storage)
        self._by_key: dict[bytes, Map] = {}

    @classmethod
    def check_spec(cls, spec: MapSpec) -> MapSpec:
        if spec.value_size != 4:
            raise einval(spec, f"hash-of-maps needs value_size 4, got {spec.value_size}")
        return check_hash_spec(spec)

    def _update(self, key: bytes, value: bytes, flags: int) -> None:
        super()._update(key, value, flags)
        self._by_key[key] = self._pending

    def _delete(self, key: bytes) -> None:
        super()._delete(key)
        self._by_key.pop(key, None)

    def prog_update(self, key: bytes, value: bytes, flags: int = 0, cpu: int = 0) -> None:
        raise self._err("programs cannot update a map-in-map")

    def inner_map(self, key: bytes) -> Map | None:
        """What bpf_map_lookup_elem returns to a program: the inner map, or None."""
        if self.value_offset(bytes(key)) is None:
            return None
        return self._by_key.get(bytes(key))
