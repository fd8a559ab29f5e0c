"""Userspace BPF maps with the kernel's semantics, over native (mmap) buffers.

``create_map`` validates a spec as BPF_MAP_CREATE does and returns a map whose
raw API mirrors bpf(2) (bytes in, bytes out, kernel errnos) and whose
``storage`` / ``value_offset`` let the VM hand programs pointers into the same
memory.  ``TypedMap`` wraps a map as a dict converting ints, bytes, dicts and
ctypes objects.
"""

from __future__ import annotations

from pybpf.errors import MapBatchError, MapPermissionError
from pybpf.maps.array import ArrayMap, SparseArrayMap
from pybpf.maps.base import BatchResult, Map, MapSpec, map_by_id
from pybpf.maps.bloom import BloomFilterMap
from pybpf.maps.factory import MAP_CLASSES, create_map, open_map
from pybpf.maps.flags import (
    BPF_ANY,
    BPF_EXIST,
    BPF_F_CURRENT_CPU,
    BPF_F_LOCK,
    BPF_NOEXIST,
    MapFlag,
    RingbufQuery,
    UpdateFlag,
)
from pybpf.maps.hash import HashMap
from pybpf.maps.lpm import LpmTrieMap
from pybpf.maps.lru import LruHashMap
from pybpf.maps.map_in_map import ArrayOfMaps, HashOfMaps
from pybpf.maps.perf import PerfBuffer, PerfEventArrayMap, PerfRing
from pybpf.maps.prog_array import ProgArrayMap
from pybpf.maps.queue_stack import QueueMap, StackMap
from pybpf.maps.redirect import CpuMap, DevMap, DevMapHash, XskMap
from pybpf.maps.ringbuf import RingBufMap
from pybpf.maps.typed import TypedMap

__all__ = [
    "BPF_ANY",
    "BPF_EXIST",
    "BPF_F_CURRENT_CPU",
    "BPF_F_LOCK",
    "BPF_NOEXIST",
    "MAP_CLASSES",
    "ArrayMap",
    "ArrayOfMaps",
    "BatchResult",
    "BloomFilterMap",
    "CpuMap",
    "DevMap",
    "DevMapHash",
    "HashMap",
    "HashOfMaps",
    "LpmTrieMap",
    "LruHashMap",
    "Map",
    "MapBatchError",
    "MapFlag",
    "MapPermissionError",
    "MapSpec",
    "PerfBuffer",
    "PerfEventArrayMap",
    "PerfRing",
    "ProgArrayMap",
    "QueueMap",
    "RingBufMap",
    "RingbufQuery",
    "SparseArrayMap",
    "StackMap",
    "TypedMap",
    "UpdateFlag",
    "XskMap",
    "create_map",
    "map_by_id",
    "open_map",
]
