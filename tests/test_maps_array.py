"""ARRAY / PERCPU_ARRAY semantics (kernel arraymap.c)."""

from __future__ import annotations

import errno
import struct

import pytest

from pybpf.errors import MapError, MapKeyExistsError, MapKeyNotFoundError
from pybpf.maps import BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST, MapFlag, MapPermissionError, create_map
from pybpf.maps.flags import ENOTSUPP
from pybpf.uapi import MapType


def k(i: int) -> bytes:
    return struct.pack("<I", i)


def test_array_starts_zeroed_and_updates() -> None:
    m = create_map(MapType.ARRAY, 4, 12, 4, name="arr")
    assert m.lookup(k(3)) == bytes(12)
    m.update(k(3), b"abcdefghijkl")
    assert m.lookup(k(3)) == b"abcdefghijkl"
    m.update(k(3), b"x" * 12, BPF_EXIST)
    assert m.lookup(k(3)) == b"x" * 12
    assert len(m) == 4


def test_array_errors() -> None:
    m = create_map(MapType.ARRAY, 4, 8, 4, name="arr")
    with pytest.raises(MapKeyNotFoundError) as ei:
        m.lookup(k(4))
    assert ei.value.errno == errno.ENOENT and isinstance(ei.value, KeyError)
    with pytest.raises(MapError) as ei2:
        m.update(k(4), bytes(8))
    assert ei2.value.errno == errno.E2BIG
    with pytest.raises(MapKeyExistsError):
        m.update(k(0), bytes(8), BPF_NOEXIST)
    with pytest.raises(MapError) as ei3:
        m.delete(k(0))
    assert ei3.value.errno == errno.EINVAL
    with pytest.raises(MapError) as ei4:
        m.update(k(0), bytes(8), 8)
    assert ei4.value.errno == errno.EINVAL
    with pytest.raises(MapError) as ei5:
        m.update(k(0), bytes(7))
    assert ei5.value.errno == errno.EINVAL
    with pytest.raises(MapError) as ei6:
        m.lookup_and_delete(k(0))
    assert ei6.value.errno == ENOTSUPP
    with pytest.raises(MapError) as ei7:
        m.update(k(0), bytes(8), BPF_F_LOCK)
    assert ei7.value.errno == errno.EINVAL


def test_array_next_key() -> None:
    m = create_map(MapType.ARRAY, 4, 4, 3)
    assert m.next_key(None) == k(0)
    assert m.next_key(k(0)) == k(1)
    assert m.next_key(k(2)) is None
    assert m.next_key(k(99)) == k(0)  # out of range restarts
    assert list(m.iter_keys()) == [k(0), k(1), k(2)]


def test_percpu_array_user_view_rounds_to_8() -> None:
    m = create_map(MapType.PERCPU_ARRAY, 4, 4, 2, num_cpus=3)
    assert m.user_value_size == 24
    m.update_percpu(k(1), [b"aaaa", b"bbbb", b"cccc"])
    assert m.lookup(k(1)) == b"aaaa\0\0\0\0bbbb\0\0\0\0cccc\0\0\0\0"
    assert m.lookup_percpu(k(1)) == [b"aaaa", b"bbbb", b"cccc"]
    # A program on CPU 2 sees and writes only its own copy.
    off = m.value_offset_cpu(k(1), 2)
    assert off is not None and off % 8 == 0
    assert m.storage[off : off + 4] == b"cccc"
    m.prog_update(k(1), b"zzzz", cpu=1)
    assert m.lookup_percpu(k(1)) == [b"aaaa", b"zzzz", b"cccc"]
    with pytest.raises(MapError):
        m.update(k(1), b"aaaa")  # user space must pass all CPUs
    with pytest.raises(MapError):
        m.update_percpu(k(1), [b"aaaa"])


def test_value_offset_points_into_storage() -> None:
    m = create_map(MapType.ARRAY, 4, 8, 4)
    off = m.value_offset(k(2))
    assert off is not None and off % 8 == 0
    m.storage[off : off + 8] = struct.pack("<Q", 42)  # a program's store
    assert m.lookup(k(2)) == struct.pack("<Q", 42)
    assert m.value_offset(k(4)) is None


def test_mmapable_view_is_flat() -> None:
    m = create_map(MapType.ARRAY, 4, 4, 4, MapFlag.MMAPABLE)
    view = m.mmap_view()
    view[8:12] = b"\x07\0\0\0"  # element 1 (values rounded to 8 bytes)
    assert m.lookup(k(1)) == b"\x07\0\0\0"
    view.release()
    with pytest.raises(MapError):
        create_map(MapType.ARRAY, 4, 4, 4).mmap_view()


def test_freeze_blocks_user_writes_not_program_writes() -> None:
    m = create_map(MapType.ARRAY, 4, 4, 2)
    m.freeze()
    with pytest.raises(MapPermissionError) as ei:
        m.update(k(0), b"abcd")
    assert ei.value.errno == errno.EPERM
    with pytest.raises(MapPermissionError):
        m.freeze()
    m.prog_update(k(0), b"abcd")
    assert m.lookup(k(0)) == b"abcd"


def test_access_flags() -> None:
    ro = create_map(MapType.ARRAY, 4, 4, 2, MapFlag.RDONLY)
    assert ro.lookup(k(0)) == bytes(4)
    with pytest.raises(MapPermissionError):
        ro.update(k(0), b"abcd")
    wo = create_map(MapType.ARRAY, 4, 4, 2, MapFlag.WRONLY)
    wo.update(k(0), b"abcd")
    with pytest.raises(MapPermissionError):
        wo.lookup(k(0))
    with pytest.raises(MapPermissionError):
        wo.next_key(None)
    rop = create_map(MapType.ARRAY, 4, 4, 2, MapFlag.RDONLY_PROG)
    assert not rop.prog_writable
    with pytest.raises(MapPermissionError):
        rop.prog_update(k(0), b"abcd")
    rop.update(k(0), b"abcd")


def test_spin_lock_field_is_never_copied() -> None:
    m = create_map(MapType.ARRAY, 4, 16, 2, spin_lock_offset=8)
    m.update(k(0), b"AAAAAAAA" + b"\xff\xff\xff\xff" + b"BBBB", BPF_F_LOCK)
    assert m.lookup(k(0)) == b"AAAAAAAA\0\0\0\0BBBB"
    assert m.lookup(k(0), BPF_F_LOCK) == b"AAAAAAAA\0\0\0\0BBBB"
    off = m.value_offset(k(0))
    assert off is not None
    assert m.storage[off + 8 : off + 12] == bytes(4)  # lock released, not overwritten
    with pytest.raises(MapError) as ei:
        m.freeze()
    assert ei.value.errno == ENOTSUPP


def test_batch_ops() -> None:
    m = create_map(MapType.ARRAY, 4, 4, 5)
    assert m.update_batch([k(i) for i in range(5)], [bytes([i]) * 4 for i in range(5)]) == 5
    r = m.lookup_batch(2)
    assert r.keys == [k(0), k(1)] and r.values == [b"\0" * 4, b"\1" * 4]
    r2 = m.lookup_batch(10, r.cursor)
    assert r2.keys == [k(2), k(3), k(4)] and r2.cursor is None
    with pytest.raises(MapError) as ei:
        m.delete_batch([k(0)])
    assert ei.value.errno == ENOTSUPP
