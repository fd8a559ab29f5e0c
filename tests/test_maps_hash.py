"""HASH / PERCPU_HASH / LRU_HASH / LRU_PERCPU_HASH semantics (kernel hashtab.c)."""

from __future__ import annotations

import errno
import struct

import pytest

from pybpf.errors import MapError, MapFullError, MapKeyExistsError, MapKeyNotFoundError
from pybpf.maps import (
    BPF_EXIST,
    BPF_F_LOCK,
    BPF_NOEXIST,
    LruHashMap,
    MapBatchError,
    MapFlag,
    create_map,
)
from pybpf.uapi import MapType


def k(i: int) -> bytes:
    return struct.pack("<I", i)


def v(i: int) -> bytes:
    return struct.pack("<Q", i)


def test_hash_crud_and_flags() -> None:
    m = create_map(MapType.HASH, 4, 8, 4, name="h")
    with pytest.raises(MapKeyNotFoundError):
        m.lookup(k(1))
    with pytest.raises(MapKeyNotFoundError) as ei:
        m.update(k(1), v(1), BPF_EXIST)
    assert ei.value.errno == errno.ENOENT
    m.update(k(1), v(1), BPF_NOEXIST)
    with pytest.raises(MapKeyExistsError) as ei2:
        m.update(k(1), v(2), BPF_NOEXIST)
    assert ei2.value.errno == errno.EEXIST
    m.update(k(1), v(3), BPF_EXIST)
    assert m.lookup(k(1)) == v(3)
    m.delete(k(1))
    with pytest.raises(MapKeyNotFoundError):
        m.delete(k(1))
    with pytest.raises(MapError) as ei3:
        m.update(k(1), v(1), 3)
    assert ei3.value.errno == errno.EINVAL
    with pytest.raises(MapError):
        m.update(k(1), v(1), BPF_F_LOCK)  # no spin lock in the value


def test_hash_full_is_e2big_but_replace_works() -> None:
    m = create_map(MapType.HASH, 4, 8, 3)
    for i in range(3):
        m.update(k(i), v(i))
    with pytest.raises(MapFullError) as ei:
        m.update(k(9), v(9))
    assert ei.value.errno == errno.E2BIG
    m.update(k(0), v(100))  # existing key: no new element needed
    m.delete(k(1))
    m.update(k(9), v(9))  # a freed slot is reused
    assert {kk: m.lookup(kk) for kk in m} == {k(0): v(100), k(2): v(2), k(9): v(9)}
    assert len(m) == 3


def test_next_key_complete_and_restart_on_missing_key() -> None:
    m = create_map(MapType.HASH, 4, 8, 64)
    for i in range(50):
        m.update(k(i), v(i))
    seen = []
    key = m.next_key(None)
    while key is not None:
        seen.append(key)
        key = m.next_key(key)
    assert sorted(seen) == sorted(k(i) for i in range(50))
    assert m.next_key(k(1000)) == seen[0]  # missing key: restart from the first
    assert list(m.iter_keys()) == seen
    empty = create_map(MapType.HASH, 4, 8, 4)
    assert empty.next_key(None) is None


def test_deleting_while_iterating_visits_all() -> None:
    m = create_map(MapType.HASH, 4, 8, 32)
    for i in range(20):
        m.update(k(i), v(i))
    key = m.next_key(None)
    deleted = 0
    while key is not None:
        nxt = m.next_key(key)
        m.delete(key)
        deleted += 1
        key = nxt
    assert deleted == 20 and len(m) == 0


def test_value_offset_and_program_writes() -> None:
    m = create_map(MapType.HASH, 3, 5, 8)
    m.update(b"abc", b"12345")
    off = m.value_offset(b"abc")
    assert off is not None and off % 8 == 0
    assert m.storage[off : off + 5] == b"12345"
    m.storage[off : off + 5] = b"54321"
    assert m.lookup(b"abc") == b"54321"
    assert m.value_offset(b"abd") is None
    m.prog_delete(b"abc")
    assert m.value_offset(b"abc") is None


def test_lookup_and_delete_and_batches() -> None:
    m = create_map(MapType.HASH, 4, 8, 16)
    assert m.update_batch([k(i) for i in range(10)], [v(i) for i in range(10)]) == 10
    assert m.lookup_and_delete(k(3)) == v(3)
    with pytest.raises(MapKeyNotFoundError):
        m.lookup(k(3))
    r = m.lookup_batch(4)
    assert len(r.keys) == 4 and r.cursor == r.keys[-1]
    everything = r.keys + m.lookup_batch(100, r.cursor).keys
    assert sorted(everything) == sorted(k(i) for i in range(10) if i != 3)
    d = m.lookup_and_delete_batch(5)
    assert len(d.keys) == 5 and [m.next_key(None)] != [None]
    assert all(
        int.from_bytes(kk, "little") == int.from_bytes(vv, "little")
        for kk, vv in zip(d.keys, d.values, strict=True)
    )
    rest = m.lookup_and_delete_batch(100)
    assert len(rest.keys) == 4 and rest.cursor is None and len(m) == 0
    m.update(k(1), v(1))
    with pytest.raises(MapBatchError) as ei:
        m.delete_batch([k(1), k(2)])
    assert ei.value.processed == 1 and ei.value.errno == errno.ENOENT


def test_spin_lock_update_in_hash() -> None:
    m = create_map(MapType.HASH, 4, 16, 4, spin_lock_offset=0)
    m.update(k(1), b"\xff" * 4 + b"x" * 12, BPF_F_LOCK)  # creates
    m.update(k(1), b"\xff" * 4 + b"y" * 12, BPF_F_LOCK)  # in place, under the lock
    assert m.lookup(k(1), BPF_F_LOCK) == bytes(4) + b"y" * 12
    assert m.lookup_and_delete(k(1), BPF_F_LOCK) == bytes(4) + b"y" * 12


def test_percpu_hash() -> None:
    m = create_map(MapType.PERCPU_HASH, 4, 4, 4, num_cpus=2)
    m.update_percpu(k(1), [b"aaaa", b"bbbb"])
    assert m.lookup(k(1)) == b"aaaa\0\0\0\0bbbb\0\0\0\0"
    m.prog_update(k(2), b"cccc", cpu=1)  # new element from a program: other CPUs zeroed
    assert m.lookup_percpu(k(2)) == [bytes(4), b"cccc"]
    off = m.value_offset_cpu(k(1), 1)
    assert off is not None and m.storage[off : off + 4] == b"bbbb"
    assert m.value_offset_cpu(k(1), 2) is None
    with pytest.raises(MapError):
        m.update(k(1), b"\0" * 16, BPF_F_LOCK)


def test_lru_evicts_least_recently_used() -> None:
    m = create_map(MapType.LRU_HASH, 4, 8, 3)
    assert isinstance(m, LruHashMap)
    for i in range(3):
        m.update(k(i), v(i))
    assert m.value_offset(k(0)) is not None  # a program lookup refreshes key 0
    m.update(k(3), v(3))  # full: evicts key 1, the least recently used
    assert sorted(m) == [k(0), k(2), k(3)]
    assert m.lru_order() == [k(3), k(0), k(2)]
    m.lookup(k(2))  # a user-space lookup does not refresh (kernel: lookup_elem_sys_only)
    m.update(k(4), v(4))
    assert k(2) not in set(m)
    m.update(k(0), v(9))  # an update refreshes
    m.update(k(5), v(5))
    m.update(k(6), v(6))
    assert sorted(m) == [k(0), k(5), k(6)]
    assert len(m) == 3


def test_lru_percpu_and_no_common_lru() -> None:
    m = create_map(MapType.LRU_PERCPU_HASH, 4, 8, 5, MapFlag.NO_COMMON_LRU, num_cpus=2)
    assert m.max_entries == 6  # rounded up to a multiple of the CPU count
    for i in range(10):
        m.update_percpu(k(i), [v(i), v(i + 100)])
    assert len(m) == 6
    assert m.lookup_percpu(k(9)) == [v(9), v(109)]
    with pytest.raises(MapError) as ei:
        create_map(MapType.LRU_HASH, 4, 8, 4, MapFlag.NO_PREALLOC)
    assert ei.value.errno == 524
    with pytest.raises(MapError):
        create_map(MapType.HASH, 4, 8, 4, MapFlag.NO_COMMON_LRU)


def test_no_prealloc_hash_behaves_the_same() -> None:
    m = create_map(MapType.HASH, 8, 8, 2, MapFlag.NO_PREALLOC)
    m.update(b"12345678", v(1))
    m.update(b"abcdefgh", v(2))
    with pytest.raises(MapFullError):
        m.update(b"zzzzzzzz", v(3))
