"""PROG_ARRAY, ARRAY_OF_MAPS / HASH_OF_MAPS, DEVMAP, DEVMAP_HASH, CPUMAP, XSKMAP."""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass

import pytest

from pybpf.errors import MapError, MapKeyExistsError, MapKeyNotFoundError
from pybpf.maps import BPF_EXIST, BPF_NOEXIST, MapFlag, create_map
from pybpf.uapi import MapType


def k(i: int) -> bytes:
    return struct.pack("<I", i)


@dataclass
class Prog:
    id: int
    name: str


def test_prog_array() -> None:
    m = create_map(MapType.PROG_ARRAY, 4, 4, 4, name="jmp")
    p = Prog(17, "tail")
    m.update(k(1), p)
    assert m.lookup(k(1)) == k(17)  # user space sees the program id
    assert m.get_program(1) is p
    assert m.get_program(0) is None
    with pytest.raises(MapKeyNotFoundError):
        m.lookup(k(0))
    with pytest.raises(MapError) as ei:
        m.update(k(4), p)
    assert ei.value.errno == errno.E2BIG
    with pytest.raises(MapError):
        m.update(k(0), p, BPF_NOEXIST)
    with pytest.raises(MapError) as ei2:
        m.update(k(0), b"\1\0\0\0")
    assert ei2.value.errno == errno.EBADF
    m.delete(k(1))
    assert m.get_program(1) is None
    with pytest.raises(MapKeyNotFoundError):
        m.delete(k(1))
    with pytest.raises(MapError):
        create_map(MapType.PROG_ARRAY, 4, 8, 4)


def test_array_of_maps_template_check() -> None:
    inner = create_map(MapType.ARRAY, 4, 8, 4)
    outer = create_map(MapType.ARRAY_OF_MAPS, 4, 4, 2, inner_map=inner)
    other = create_map(MapType.ARRAY, 4, 8, 4)
    outer.update(k(0), other)
    assert outer.lookup(k(0)) == k(other.id)
    assert outer.inner_map(k(0)) is other
    outer.update(k(1), inner.id)  # by id, as the kernel takes an fd
    assert outer.inner_map(k(1)) is inner
    for bad in (
        create_map(MapType.ARRAY, 4, 16, 4),
        create_map(MapType.ARRAY, 4, 8, 5),
        create_map(MapType.HASH, 4, 8, 4),
    ):
        with pytest.raises(MapError) as ei:
            outer.update(k(0), bad)
        assert ei.value.errno == errno.EINVAL
    outer.delete(k(0))
    assert outer.inner_map(k(0)) is None
    with pytest.raises(MapError) as ei2:
        create_map(MapType.ARRAY_OF_MAPS, 4, 4, 2)
    assert ei2.value.errno == errno.EBADF
    with pytest.raises(MapError):
        create_map(MapType.ARRAY_OF_MAPS, 4, 4, 2, inner_map=outer)  # no nesting


def test_inner_map_flag_relaxes_max_entries() -> None:
    tmpl = create_map(MapType.ARRAY, 4, 8, 4, MapFlag.INNER_MAP)
    outer = create_map(MapType.HASH_OF_MAPS, 4, 4, 8, inner_map=tmpl)
    bigger = create_map(MapType.ARRAY, 4, 8, 100, MapFlag.INNER_MAP)
    outer.update(k(7), bigger)
    assert outer.inner_map(k(7)) is bigger
    assert outer.lookup(k(7)) == k(bigger.id)
    with pytest.raises(MapKeyExistsError):
        outer.update(k(7), bigger, BPF_NOEXIST)
    assert outer.lookup_and_delete(k(7)) == k(bigger.id)
    assert outer.inner_map(k(7)) is None


def test_devmap_and_devmap_hash() -> None:
    d = create_map(MapType.DEVMAP, 4, 4, 4)
    d.update(k(1), k(7))
    assert d.lookup(k(1)) == k(7) and d.redirect_target(1) == 7
    assert d.redirect_target(0) is None
    with pytest.raises(MapKeyNotFoundError):
        d.lookup(k(0))
    with pytest.raises(MapKeyExistsError):
        d.update(k(1), k(8), BPF_NOEXIST)
    d.delete(k(1))
    d.delete(k(1))  # deleting an empty slot succeeds, as in the kernel
    with pytest.raises(MapError):
        d.delete(k(4))
    with pytest.raises(MapError):
        create_map(MapType.DEVMAP, 4, 6, 4)
    h = create_map(MapType.DEVMAP_HASH, 4, 8, 2)
    h.update(k(100), k(3) + k(0))
    assert h.redirect_target(100) == 3
    with pytest.raises(MapError):
        h.update(k(101), k(0) + k(0))  # ifindex 0 is no device


def test_cpumap_and_xskmap() -> None:
    c = create_map(MapType.CPUMAP, 4, 4, 4, num_cpus=2)
    c.update(k(1), k(192))
    assert c.lookup(k(1)) == k(192) and c.redirect_target(1) == 1
    with pytest.raises(MapError) as ei:
        c.update(k(3), k(192))
    assert ei.value.errno == errno.ENODEV
    with pytest.raises(MapError) as ei2:
        c.update(k(0), k(20000))
    assert ei2.value.errno == errno.EOVERFLOW
    c.update(k(1), k(0))  # qsize 0 removes
    assert c.redirect_target(1) is None
    x = create_map(MapType.XSKMAP, 4, 4, 4)
    with pytest.raises(MapKeyNotFoundError):
        x.update(k(0), k(5), BPF_EXIST)
    x.update(k(0), k(5))
    assert x.redirect_target(0) == 5
    with pytest.raises(MapError) as ei3:
        x.lookup(k(0))
    assert ei3.value.errno == errno.EOPNOTSUPP


def test_entry_programs_are_refused_not_silently_ignored() -> None:
    """A bpf_devmap_val / bpf_cpumap_val program would run on each redirect in the kernel."""
    for mtype in (MapType.DEVMAP, MapType.DEVMAP_HASH, MapType.CPUMAP):
        m = create_map(mtype, 4, 8, 4, num_cpus=2)
        target = k(192) if mtype is MapType.CPUMAP else k(3)
        m.update(k(1), target + (-1).to_bytes(4, "little", signed=True))  # fd -1: no program
        with pytest.raises(MapError, match="does not run programs") as info:
            m.update(k(1), target + k(5))
        assert info.value.errno == errno.EOPNOTSUPP
