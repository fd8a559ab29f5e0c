"""create_map(): BPF_MAP_CREATE for user-space maps, with the kernel's validation.

Checks common to every type (name, access flags, map_extra, BTF sizes) are here;
each family's ``check_spec`` does what its kernel ``map_alloc_check`` does.
"""

from __future__ import annotations

import errno
import os
from typing import Any

from pybpf.errors import MapError, NotSupportedError
from pybpf.maps.array import ArrayMap
from pybpf.maps.base import Map, MapSpec, einval
from pybpf.maps.bloom import BloomFilterMap
from pybpf.maps.flags import BPF_OBJ_NAME_LEN, MapFlag
from pybpf.maps.hash import HashMap
from pybpf.maps.lpm import LpmTrieMap
from pybpf.maps.lru import LruHashMap
from pybpf.maps.map_in_map import ArrayOfMaps, HashOfMaps
from pybpf.maps.perf import PerfEventArrayMap
from pybpf.maps.prog_array import ProgArrayMap
from pybpf.maps.queue_stack import QueueMap, StackMap
from pybpf.maps.redirect import CpuMap, DevMap, DevMapHash, XskMap
from pybpf.maps.ringbuf import RingBufMap
from pybpf.maps.storage import Storage, Word
from pybpf.uapi import MapType

_CLASSES: tuple[type[Map], ...] = (
    ArrayMap,
    HashMap,
    LruHashMap,
    LpmTrieMap,
    QueueMap,
    StackMap,
    BloomFilterMap,
    RingBufMap,
    PerfEventArrayMap,
    ProgArrayMap,
    ArrayOfMaps,
    HashOfMaps,
    DevMap,
    DevMapHash,
    CpuMap,
    XskMap,
)
MAP_CLASSES: dict[MapType, type[Map]] = {t: cls for cls in _CLASSES for t in cls.map_types}
_U32 = 1 << 32


def _check_name(name: str) -> None:
    if not isinstance(name, str):
        raise MapError(f"map name must be a string, not {type(name).__name__}")
    if len(name) >= BPF_OBJ_NAME_LEN:
        raise MapError(f"map name {name!r} is longer than {BPF_OBJ_NAME_LEN - 1} characters")
    bad = [c for c in name if not (c.isascii() and (c.isalnum() or c in "_."))]
    if bad:
        raise MapError(f"map name {name!r} has invalid character {bad[0]!r} (allowed: A-Z a-z 0-9 _ .)")


def _spin_lock_from_btf(btf: Any, value_id: int) -> int | None:
    """Byte offset of a ``struct bpf_spin_lock`` member of the value type, if any."""
    t = btf.resolve(value_id)
    for m in getattr(t, "members", ()) or ():
        mt = btf.resolve(m.type_id)
        if getattr(mt, "name", "") == "bpf_spin_lock":
            return int(m.bits_offset) // 8
    return None


def create_map(
    map_type: MapType | int,
    key_size: int,
    value_size: int,
    max_entries: int,
    flags: int = 0,
    *,
    name: str = "",
    map_extra: int = 0,
    inner_map: Map | None = None,
    num_cpus: int | None = None,
    btf: Any = None,
    btf_key: int | None = None,
    btf_value: int | None = None,
    spin_lock_offset: int | None = None,
    path: str | os.PathLike[str] | None = None,
) -> Map:
    """Create a map as BPF_MAP_CREATE would; errors carry the kernel's errno.

    ``path`` backs the storage by a new file (a pinned map) instead of anonymous
    memory; :func:`open_map` reopens it.  ``spin_lock_offset`` (or a BTF value type
    with a ``struct bpf_spin_lock`` member) enables BPF_F_LOCK.
    """
    _check_name(name)
    label = name or "(unnamed)"
    try:
        mtype = MapType(map_type)
    except ValueError:
        raise MapError(f"unknown map type {map_type}", map_name=label) from None
    for what, v in (("key_size", key_size), ("value_size", value_size), ("max_entries", max_entries)):
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < _U32:
            raise MapError(f"{what} must be a u32, got {v!r}", map_name=label)
    if not isinstance(flags, int) or not 0 <= flags < _U32:
        raise MapError(f"flags must be a u32, got {flags!r}", map_name=label)
    if not isinstance(map_extra, int) or not 0 <= map_extra < 1 << 64:
        raise MapError(f"map_extra must be a u64, got {map_extra!r}", map_name=label)
    ncpu = os.cpu_count() or 1 if num_cpus is None else num_cpus
    if not isinstance(ncpu, int) or ncpu < 1:
        raise MapError(f"num_cpus must be >= 1, got {ncpu!r}", map_name=label)
    cls = MAP_CLASSES.get(mtype)
    if cls is None:
        raise NotSupportedError(f"map type {mtype.uapi_name} is not implemented in the userspace runtime")
    if flags & MapFlag.RDONLY and flags & MapFlag.WRONLY:
        raise MapError("BPF_F_RDONLY and BPF_F_WRONLY are exclusive", map_name=label)
    if map_extra and mtype not in (MapType.BLOOM_FILTER, MapType.ARENA):
        raise MapError("map_extra is only meaningful for bloom filters", map_name=label)
    if inner_map is not None and mtype not in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
        raise MapError("inner_map is only for map-in-map types", map_name=label)
    if btf is not None and btf_value is not None:
        if btf_key is not None and btf_key and btf.sizeof(btf_key) != key_size:
            raise MapError(f"BTF key type size {btf.sizeof(btf_key)} != key_size {key_size}", map_name=label)
        if btf.sizeof(btf_value) != value_size:
            raise MapError(
                f"BTF value type size {btf.sizeof(btf_value)} != value_size {value_size}", map_name=label
            )
        if spin_lock_offset is None:
            spin_lock_offset = _spin_lock_from_btf(btf, btf_value)
    if spin_lock_offset is not None and (
        spin_lock_offset % 4 or spin_lock_offset < 0 or spin_lock_offset + 4 > value_size
    ):
        raise MapError(f"bpf_spin_lock offset {spin_lock_offset} does not fit the value", map_name=label)
    spec = MapSpec(
        map_type=mtype,
        key_size=key_size,
        value_size=value_size,
        max_entries=max_entries,
        flags=int(flags),
        name=name,
        map_extra=map_extra,
        num_cpus=ncpu,
        spin_lock_offset=spin_lock_offset,
        btf=btf,
        btf_key=btf_key,
        btf_value=btf_value,
    )
    spec = cls.check_spec(spec)
    if mtype in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
        if inner_map is None:
            raise einval(spec, "map-in-map needs an inner map template", errno.EBADF)
        return cls.create_outer(spec, inner_map, path)  # type: ignore[attr-defined, no-any-return]
    storage = Storage.create(cls.layout(spec), None if path is None else os.fspath(path))
    if spin_lock_offset is not None:
        storage.words[Word.SPIN_LOCK] = spin_lock_offset + 1
    return cls(spec, storage)


def open_map(path: str | os.PathLike[str], *, name: str = "") -> Map:
    """Reopen a file-backed map created with ``create_map(..., path=...)``.

    The spec comes from the file's header; an interrupted update is rolled back.
    Map-in-map, program and perf arrays hold process-local objects and cannot be
    reopened this way.
    """
    storage = Storage.open(os.fspath(path))
    lay = storage.layout()
    mtype = MapType(lay.map_type)
    cls = MAP_CLASSES.get(mtype)
    if cls is None or mtype in (
        MapType.ARRAY_OF_MAPS,
        MapType.HASH_OF_MAPS,
        MapType.PROG_ARRAY,
        MapType.PERF_EVENT_ARRAY,
    ):
        storage.close()
        raise NotSupportedError(f"reopening a {mtype.uapi_name} map from a file")
    spec = MapSpec(
        map_type=mtype,
        key_size=lay.key_size,
        value_size=lay.value_size,
        max_entries=lay.max_entries,
        flags=lay.map_flags,
        name=name,
        map_extra=lay.map_extra,
        num_cpus=lay.num_cpus,
        spin_lock_offset=storage.words[Word.SPIN_LOCK] - 1 if storage.words[Word.SPIN_LOCK] else None,
    )
    return cls(spec, storage)
