"""create_map validation, cross-checked against the running kernel's BPF_MAP_CREATE."""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct

import pytest

from pybpf.errors import MapError, NotSupportedError
from pybpf.maps import MapFlag, create_map
from pybpf.maps.storage import PAGE_SIZE
from pybpf.uapi import MapType

F = MapFlag
T = MapType
# ((type, key, value, max_entries, flags, map_extra), expected errno; 0 = accepted)
CASES: list[tuple[tuple[T, int, int, int, int, int], int]] = [
    ((T.ARRAY, 4, 8, 4, 0, 0), 0),
    ((T.ARRAY, 8, 8, 4, 0, 0), errno.EINVAL),
    ((T.ARRAY, 4, 0, 4, 0, 0), errno.EINVAL),
    ((T.ARRAY, 4, 8, 0, 0, 0), errno.EINVAL),
    ((T.ARRAY, 4, 8, 4, F.NO_PREALLOC, 0), errno.EINVAL),
    ((T.ARRAY, 4, 8, 4, F.MMAPABLE, 0), 0),
    ((T.ARRAY, 4, 8, 4, F.RDONLY_PROG | F.WRONLY_PROG, 0), errno.EINVAL),
    ((T.ARRAY, 4, 8, 4, F.RDONLY | F.WRONLY, 0), errno.EINVAL),
    ((T.ARRAY, 4, 8, 4, F.PRESERVE_ELEMS, 0), errno.EINVAL),
    ((T.ARRAY, 4, 8, 4, 0, 1), errno.EINVAL),
    ((T.ARRAY, 4, (1 << 22) + 1, 1, 0, 0), 0),
    ((T.ARRAY, 4, 1 << 31, 1, 0, 0), errno.E2BIG),
    ((T.PERCPU_ARRAY, 4, 8, 4, F.MMAPABLE, 0), errno.EINVAL),
    ((T.PERCPU_ARRAY, 4, 40000, 4, 0, 0), errno.E2BIG),
    ((T.HASH, 4, 8, 4, 0, 0), 0),
    ((T.HASH, 0, 8, 4, 0, 0), errno.EINVAL),
    ((T.HASH, 4, 0, 4, 0, 0), errno.EINVAL),
    ((T.HASH, 4, 8, 0, 0, 0), errno.EINVAL),
    ((T.HASH, 513, 8, 4, 0, 0), 0),
    ((T.HASH, 4, 8, 4, F.NO_COMMON_LRU, 0), errno.EINVAL),
    ((T.HASH, 4, 8, 4, F.MMAPABLE, 0), errno.EINVAL),
    ((T.HASH, 4, 8, 4, 1 << 30, 0), errno.EINVAL),
    ((T.HASH, 4, 8, 1 << 27, F.NO_PREALLOC, 0), 0),
    ((T.HASH, 4, 8, (1 << 27) + 1, F.NO_PREALLOC, 0), errno.E2BIG),  # too many buckets
    ((T.PERCPU_HASH, 4, 8, 0xFFFFFFFF, F.NO_PREALLOC, 0), errno.E2BIG),
    ((T.LRU_HASH, 4, 8, 1 << 31, 0, 0), errno.E2BIG),
    ((T.ARRAY, 4, 8, 0xFFFFFFFF, 0, 0), errno.ENOMEM),
    ((T.QUEUE, 0, 8, 0xFFFFFFFF, 0, 0), errno.ENOMEM),
    ((T.LRU_HASH, 4, 8, 4, F.NO_PREALLOC, 0), 524),
    ((T.LRU_HASH, 4, 8, 4, F.NO_COMMON_LRU, 0), 0),
    ((T.LPM_TRIE, 8, 4, 4, F.NO_PREALLOC, 0), 0),
    ((T.LPM_TRIE, 8, 4, 4, 0, 0), errno.EINVAL),
    ((T.LPM_TRIE, 4, 4, 4, F.NO_PREALLOC, 0), errno.EINVAL),
    ((T.LPM_TRIE, 261, 4, 4, F.NO_PREALLOC, 0), errno.EINVAL),
    ((T.QUEUE, 0, 4, 4, 0, 0), 0),
    ((T.QUEUE, 4, 4, 4, 0, 0), errno.EINVAL),
    ((T.QUEUE, 0, 0, 4, 0, 0), errno.EINVAL),
    ((T.STACK, 0, 4, 4, F.NO_PREALLOC, 0), errno.EINVAL),
    ((T.BLOOM_FILTER, 0, 4, 4, 0, 3), 0),
    ((T.BLOOM_FILTER, 0, 4, 4, 0, 16), errno.EINVAL),
    ((T.BLOOM_FILTER, 4, 4, 4, 0, 0), errno.EINVAL),
    ((T.RINGBUF, 0, 0, PAGE_SIZE, 0, 0), 0),
    ((T.RINGBUF, 0, 0, 3 * PAGE_SIZE, 0, 0), errno.EINVAL),
    ((T.RINGBUF, 4, 0, PAGE_SIZE, 0, 0), errno.EINVAL),
    ((T.RINGBUF, 0, 0, PAGE_SIZE, F.RDONLY_PROG, 0), errno.EINVAL),
    ((T.PROG_ARRAY, 4, 4, 4, 0, 0), 0),
    ((T.PROG_ARRAY, 4, 8, 4, 0, 0), errno.EINVAL),
    ((T.PERF_EVENT_ARRAY, 4, 4, 4, F.PRESERVE_ELEMS, 0), 0),
    ((T.DEVMAP, 4, 4, 4, 0, 0), 0),
    ((T.DEVMAP, 4, 8, 4, 0, 0), 0),
    ((T.DEVMAP, 4, 6, 4, 0, 0), errno.EINVAL),
    ((T.DEVMAP_HASH, 4, 4, 4, F.NO_PREALLOC, 0), errno.EINVAL),
    ((T.CPUMAP, 4, 4, 4, 0, 0), 0),
    ((T.CPUMAP, 4, 4, 4, F.RDONLY_PROG, 0), errno.EINVAL),
    ((T.XSKMAP, 4, 4, 4, 0, 0), 0),
    ((T.XSKMAP, 4, 8, 4, 0, 0), errno.EINVAL),
]


def ours(case: tuple[T, int, int, int, int, int]) -> int:
    t, ks, vs, n, flags, extra = case
    try:
        create_map(t, ks, vs, n, flags, map_extra=extra, name="t").close()
    except MapError as exc:
        return exc.errno
    return 0


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0][0].uapi_name}-{c[0][1]}-{c[0][2]}-{c[0][4]:#x}")
def test_validation_errno(case: tuple[tuple[T, int, int, int, int, int], int]) -> None:
    spec, want = case
    assert ours(spec) == want


def _kernel_map_create(case: tuple[T, int, int, int, int, int]) -> int:
    t, ks, vs, n, flags, extra = case
    attr = bytearray(128)
    struct.pack_into("<IIIII", attr, 0, t, ks, vs, n, flags)
    attr[28:30] = b"t\0"
    struct.pack_into("<Q", attr, 64, extra)
    buf = ctypes.create_string_buffer(bytes(attr), 128)
    libc = ctypes.CDLL(None, use_errno=True)
    nr = {"x86_64": 321, "aarch64": 280}[platform.machine()]
    fd = libc.syscall(nr, 0, buf, 128)
    if fd < 0:
        return ctypes.get_errno()
    os.close(fd)
    return 0


@pytest.mark.kernel
def test_validation_matches_the_kernel() -> None:
    mismatches = []
    for case, _ in CASES:
        k, o = _kernel_map_create(case), ours(case)
        if k != o:
            mismatches.append((case[0].uapi_name, case[1:], f"kernel={k}", f"ours={o}"))
    assert not mismatches


def test_generic_checks() -> None:
    with pytest.raises(MapError):
        create_map(T.ARRAY, 4, 4, 1, name="has space")
    with pytest.raises(MapError):
        create_map(T.ARRAY, 4, 4, 1, name="x" * 16)
    with pytest.raises(MapError):
        create_map(999, 4, 4, 1)
    with pytest.raises(MapError):
        create_map(T.ARRAY, -1, 4, 1)
    with pytest.raises(MapError):
        create_map(T.ARRAY, 4, 4, 1, num_cpus=0)
    with pytest.raises(NotSupportedError):
        create_map(T.SOCKMAP, 4, 4, 1)
    with pytest.raises(MapError):
        create_map(T.ARRAY, 4, 8, 1, spin_lock_offset=6)
    with pytest.raises(MapError) as ei:
        create_map(T.PERCPU_HASH, 4, 8, 1, spin_lock_offset=0)
    assert ei.value.errno == errno.EOPNOTSUPP
    m = create_map(T.HASH, 4, 4, 1, name="ok.name_1")
    assert m.name == "ok.name_1" and "hash" in repr(m)
