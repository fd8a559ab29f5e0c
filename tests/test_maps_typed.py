"""TypedMap: dict semantics with int / bytes / dict / ctypes conversion."""

from __future__ import annotations

import ctypes

import pytest

from pybpf.errors import MapError, MapKeyNotFoundError
from pybpf.maps import BPF_NOEXIST, TypedMap, create_map
from pybpf.uapi import MapType


class Flow(ctypes.Structure):
    _fields_ = [("saddr", ctypes.c_uint32), ("dport", ctypes.c_uint16), ("proto", ctypes.c_uint8)]


def test_plain_ints() -> None:
    m = TypedMap(create_map(MapType.HASH, 4, 8, 8))
    m[1] = 10
    m[2] = -1
    assert m[1] == 10 and m[2] == 0xFFFFFFFFFFFFFFFF
    assert 1 in m and 3 not in m
    assert sorted(m) == [1, 2] and len(m) == 2
    assert dict(m.items()) == {1: 10, 2: 0xFFFFFFFFFFFFFFFF}
    del m[1]
    with pytest.raises(KeyError):
        m[1]
    with pytest.raises(MapKeyNotFoundError):
        del m[1]
    assert m.get(1, "dflt") == "dflt"
    with pytest.raises(MapError):
        m[1 << 40] = 1
    with pytest.raises(MapError):
        m["x"] = 1
    m.update_elem(5, 5, BPF_NOEXIST)
    with pytest.raises(MapError):
        m.update_elem(5, 6, BPF_NOEXIST)


def test_ctypes_struct_keys_and_dict_input() -> None:
    m = TypedMap(create_map(MapType.HASH, ctypes.sizeof(Flow), 8, 8), Flow)
    m[{"saddr": 0x0A000001, "dport": 80, "proto": 6}] = 3
    m[Flow(0x0A000002, 443, 6)] = 4
    keys = sorted((f.saddr, f.dport) for f in m)
    assert keys == [(0x0A000001, 80), (0x0A000002, 443)]
    assert m[Flow(0x0A000002, 443, 6)] == 4
    with pytest.raises(MapError):
        m[{"nope": 1}] = 1
    with pytest.raises(MapError):
        TypedMap(create_map(MapType.HASH, 4, 8, 8), Flow)


def test_percpu_values_are_lists() -> None:
    m = TypedMap(create_map(MapType.PERCPU_ARRAY, 4, 8, 2, num_cpus=2))
    m[0] = 7
    assert m[0] == [7, 7]
    m[1] = [1, 2]
    assert m[1] == [1, 2]
    assert list(m.values()) == [[7, 7], [1, 2]]


def test_odd_sizes_are_bytes_and_keyless_maps_refused() -> None:
    m = TypedMap(create_map(MapType.ARRAY, 4, 3, 2))
    m[0] = b"abc"
    assert m[0] == b"abc"
    with pytest.raises(MapError):
        TypedMap(create_map(MapType.QUEUE, 0, 4, 2))
