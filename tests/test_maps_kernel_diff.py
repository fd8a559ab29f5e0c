"""VM maps against the running kernel's maps: the same operations, the same answers.

Each map type gets a sequence of element operations (lookup, update with each flag,
delete, next_key, lookup_and_delete, push/pop, batches, freeze) applied to a VM map
and to a kernel map of the same shape.  The outcome of every step must be equal:
the value returned, or the errno and the typed exception class.  Iteration is
compared as the set of keys a complete next_key walk visits (hash order is an
implementation detail the kernel does not promise).
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any

import pytest

from pybpf.errors import MapError
from pybpf.kernel.maps import create_map as kernel_create
from pybpf.maps import create_map as vm_create
from pybpf.uapi import MapType

pytestmark = pytest.mark.kernel

T = MapType
BPF_F_NO_PREALLOC = 1
BPF_F_NO_COMMON_LRU = 2
BPF_F_RDONLY = 1 << 3
BPF_F_WRONLY = 1 << 4
BPF_F_RDONLY_PROG = 1 << 7
ENOTSUPP = 524


def k(i: int, n: int = 4) -> bytes:
    return i.to_bytes(n, "little")


V = k(7, 8)
V2 = k(9, 8)
Op = tuple[Any, ...]


def outcome(m: Any, op: Op) -> tuple[Any, ...]:
    name, *args = op
    try:
        result = getattr(m, name)(*args)
    except MapError as exc:
        return ("error", errno.errorcode.get(exc.errno, exc.errno), type(exc).__name__)
    if isinstance(result, bytes | bytearray | memoryview):
        result = bytes(result)
    return ("ok", result)


def lpm(prefix: int, *octets: int) -> bytes:
    return k(prefix) + bytes(octets)


CASES: dict[str, tuple[tuple[Any, ...], list[Op]]] = {
    "array": (
        (T.ARRAY, 4, 8, 4),
        [
            ("lookup", k(4)),
            ("lookup", k(1)),
            ("update", k(4), V),
            ("update", k(0), V, 1),
            ("update", k(0), V, 2),
            ("update", k(0), V, 3),
            ("update", k(0), V, 4),
            ("lookup", k(0)),
            ("delete", k(0)),
            ("next_key", None),
            ("next_key", k(3)),
            ("next_key", k(9)),
            ("lookup_and_delete", k(0)),
            ("update", k(1), k(1, 4)),
            ("lookup", b"\0\0"),
            ("delete_batch", [k(0)]),
            ("freeze",),
            ("update", k(0), V),
            ("lookup", k(0)),
            ("freeze",),
        ],
    ),
    "percpu_array": (
        (T.PERCPU_ARRAY, 4, 4, 2),
        [
            ("lookup", k(0)),
            ("update", k(0), k(1) + bytes(4) + k(2) + bytes(4)),
            ("lookup", k(0)),
            ("delete", k(0)),
            ("update", k(2), bytes(16)),
            ("update", k(0), bytes(8)),
        ],
    ),
    "hash": (
        (T.HASH, 4, 8, 2),
        [
            ("lookup", k(1)),
            ("delete", k(1)),
            ("update", k(1), V, 2),
            ("update", k(1), V, 1),
            ("update", k(1), V2, 1),
            ("lookup", k(1)),
            ("update", k(2), V),
            ("update", k(3), V),
            ("update", k(3), V, 2),
            ("update", k(1), V2, 0),
            ("update", k(1), V, 5),
            ("update", k(1), V, 4),
            ("lookup_and_delete", k(1)),
            ("lookup_and_delete", k(1)),
            ("update", k(9), V),
            ("delete", k(9)),
            ("lookup", k(9)),
            ("update", k(1), bytes(4)),
            ("delete_batch", [k(2), k(5)]),
            ("lookup", k(2)),
            ("freeze",),
            ("update", k(4), V),
            ("delete", k(2)),
        ],
    ),
    "hash_no_prealloc": (
        (T.HASH, 4, 8, 1, BPF_F_NO_PREALLOC),
        [
            ("update", k(1), V),
            ("update", k(2), V),
            ("update", k(1), V2, 2),
            ("lookup", k(1)),
            ("delete", k(1)),
            ("update", k(2), V),
        ],
    ),
    "percpu_hash": (
        (T.PERCPU_HASH, 4, 8, 2),
        [
            ("update", k(1), V + V2),
            ("lookup", k(1)),
            ("update", k(1), V, 0),
            ("update", k(2), V2 + V),
            ("update", k(3), V + V),
            ("delete", k(1)),
            ("lookup", k(1)),
        ],
    ),
    "lru_hash": (  # room to spare: when the kernel's per-CPU LRU lists evict early is its own business
        (T.LRU_HASH, 4, 8, 256),
        [
            ("update", k(1), V),
            ("update", k(2), V),
            ("update", k(4), V, 2),
            ("update", k(1), V, 1),
            ("update", k(1), V2, 2),
            ("lookup", k(1)),
            ("delete", k(1)),
            ("delete", k(1)),
            ("update", k(1), V, 4),
        ],
    ),
    "lpm_trie": (
        (T.LPM_TRIE, 8, 8, 3, BPF_F_NO_PREALLOC),
        [
            ("lookup", lpm(32, 10, 0, 0, 1)),
            ("update", lpm(33, 10, 0, 0, 0), V),
            ("update", lpm(24, 10, 0, 0, 0), V),
            ("update", lpm(16, 10, 0, 0, 0), V2),
            ("lookup", lpm(32, 10, 0, 0, 9)),
            ("lookup", lpm(32, 10, 0, 1, 9)),
            ("lookup", lpm(32, 11, 0, 0, 0)),
            ("delete", lpm(8, 10, 0, 0, 0)),
            ("update", lpm(24, 10, 0, 0, 0), V, 1),
            ("update", lpm(8, 10, 0, 0, 0), V, 2),
            ("update", lpm(8, 10, 0, 0, 0), V),
            ("update", lpm(4, 16, 0, 0, 0), V),
            ("next_key", None),
            ("delete", lpm(16, 10, 0, 0, 0)),
            ("lookup", lpm(32, 10, 0, 1, 9)),
        ],
    ),
    "queue": (
        (T.QUEUE, 0, 8, 2),
        [
            ("lookup", None),
            ("update", None, V),
            ("update", None, V2),
            ("update", None, V),
            ("update", None, k(3, 8), 2),
            ("lookup", None),
            ("lookup_and_delete", None),
            ("lookup_and_delete", None),
            ("lookup_and_delete", None),
            ("delete", None),
            ("next_key", None),
            ("update", None, V, 1),
        ],
    ),
    "stack": (
        (T.STACK, 0, 8, 2),
        [
            ("lookup", None),
            ("update", None, V),
            ("update", None, V2),
            ("lookup", None),
            ("update", None, k(3, 8), 2),
            ("lookup_and_delete", None),
            ("lookup_and_delete", None),
            ("lookup_and_delete", None),
        ],
    ),
    "bloom_filter": (
        (T.BLOOM_FILTER, 0, 8, 16),
        [
            ("contains_value", V),
            ("update", None, V),
            ("contains_value", V),
            ("delete", None),
            ("next_key", None),
            ("update", None, V, 1),
            ("lookup_and_delete", None),
        ],
    ),
    "ringbuf": (
        (T.RINGBUF, 0, 0, 4096),
        [("lookup", None), ("update", None, b""), ("next_key", None), ("delete", None)],
    ),
    "prog_array": (
        (T.PROG_ARRAY, 4, 4, 2),
        [("lookup", k(0)), ("delete", k(0)), ("delete", k(5)), ("next_key", None), ("next_key", k(1))],
    ),
    "rdonly": (
        (T.HASH, 4, 8, 2, BPF_F_RDONLY),
        [("update", k(1), V), ("lookup", k(1)), ("delete", k(1)), ("next_key", None)],
    ),
    "wronly": (
        (T.HASH, 4, 8, 2, BPF_F_WRONLY),
        [("update", k(1), V), ("lookup", k(1)), ("next_key", None), ("delete", k(1))],
    ),
    "rdonly_prog": (
        (T.ARRAY, 4, 8, 1, BPF_F_RDONLY_PROG),
        [("update", k(0), V), ("lookup", k(0)), ("freeze",), ("update", k(0), V)],
    ),
    # redirect targets: ifindex 1 (lo) exists on both sides; the VM's simulated devices and
    # sockets (any ifindex, any socket handle) are its documented departure, not compared here
    "devmap": (
        (T.DEVMAP, 4, 4, 4),
        [
            ("lookup", k(0)),
            ("update", k(0), k(1)),
            ("lookup", k(0)),
            ("update", k(9), k(1)),
            ("update", k(1), k(1), 1),
            ("update", k(0), k(1), 2),
            ("delete", k(0)),
            ("delete", k(0)),
            ("delete", k(7)),
            ("next_key", None),
            ("next_key", k(3)),
        ],
    ),
    "devmap_val": (
        (T.DEVMAP, 4, 8, 2),
        [("update", k(1), k(1) + bytes(4)), ("lookup", k(1)), ("update", k(0), bytes(8))],
    ),
    "devmap_hash": (
        (T.DEVMAP_HASH, 4, 4, 4),
        [
            ("lookup", k(0)),
            ("update", k(7), k(1)),
            ("lookup", k(7)),
            ("update", k(7), k(1), 1),
            ("update", k(8), k(1), 2),
            ("delete", k(7)),
            ("delete", k(7)),
            ("update", k(9), k(0)),
        ],
    ),
    "cpumap": (
        (T.CPUMAP, 4, 4, 2),
        [
            ("lookup", k(0)),
            ("update", k(0), k(192)),
            ("lookup", k(0)),
            ("update", k(0), k(0)),
            ("update", k(1), k(1 << 20)),
            ("update", k(9), k(192)),
            ("update", k(1), k(192), 1),
            ("delete", k(0)),
            ("next_key", None),
        ],
    ),
    "xskmap": (
        (T.XSKMAP, 4, 4, 4),
        [("lookup", k(0)), ("delete", k(0)), ("delete", k(9)), ("next_key", None)],
    ),
    "perf_event_array": (
        (T.PERF_EVENT_ARRAY, 4, 4, 4),
        [("lookup", k(0)), ("update", k(0), k(1)), ("delete", k(0)), ("delete", k(9)), ("next_key", k(3))],
    ),
}


def _pair(shape: tuple[Any, ...]) -> tuple[Any, Any]:
    mtype, ks, vs, n, *rest = shape
    flags = rest[0] if rest else 0
    kernel_map = kernel_create(mtype, ks, vs, n, flags=flags, name="i4diff")
    cpus = len(kernel_map.lookup_percpu(bytes(ks))) if mtype is T.PERCPU_ARRAY else 2
    vm_map = vm_create(mtype, ks, vs, n, flags=flags, name="i4diff", num_cpus=cpus)
    return vm_map, kernel_map


def _walk(m: Any) -> set[bytes] | tuple[Any, ...]:
    keys: set[bytes] = set()
    try:
        key = m.next_key(None)
        while key is not None:
            keys.add(bytes(key))
            key = m.next_key(key)
    except MapError as exc:
        return ("error", exc.errno)
    return keys


@pytest.mark.parametrize("name", list(CASES))
def test_element_operations_answer_like_the_kernel(name: str):
    shape, ops = CASES[name]
    vm_map, kernel_map = _pair(shape)
    try:
        for step, op in enumerate(ops):
            assert outcome(vm_map, op) == outcome(kernel_map, op), f"step {step}: {op[0]}{op[1:]!r}"
        assert _walk(vm_map) == _walk(kernel_map)
    finally:
        kernel_map.close()
        vm_map.close()


def _fill(m: Any, keys: range) -> None:
    for i in keys:
        m.update(k(i), k(i, 8))


@pytest.mark.parametrize("mtype", [T.HASH, T.LRU_HASH, T.ARRAY])
def test_next_key_walk_and_missing_key_restart(mtype: MapType):
    vm_map, kernel_map = _pair((mtype, 4, 8, 64))
    try:
        for m in (vm_map, kernel_map):
            _fill(m, range(40))
            if mtype is not T.ARRAY:
                m.delete(k(7))
        assert _walk(vm_map) == _walk(kernel_map)
        for m in (vm_map, kernel_map):  # a key not in the map: iteration starts over
            assert m.next_key(k(1000)) == m.next_key(None)
    finally:
        kernel_map.close()
        vm_map.close()


def test_batches_answer_like_the_kernel():
    vm_map, kernel_map = _pair((T.HASH, 4, 8, 32))
    try:
        keys, values = [k(i) for i in range(20)], [k(i * 3, 8) for i in range(20)]
        both: list[Callable[[Any], Any]] = [
            lambda m: m.update_batch(keys, values),
            lambda m: m.update_batch(keys[:2], values[:2], 0, 1),  # elem_flags: only BPF_F_LOCK, so EINVAL
            lambda m: m.update_batch(keys[:2], values[:2], 1),  # the batch flags word: not looked at
            lambda m: m.delete_batch(keys[19:], 1),
            lambda m: m.delete_batch(keys[:5]),
            lambda m: m.delete_batch([keys[10], k(999), keys[11]]),  # stops at the missing key
        ]
        for run in both:
            assert _call(run, vm_map) == _call(run, kernel_map)
        vm_items = set(zip(*_vm_all(vm_map), strict=True))
        assert vm_items == set(kernel_map.lookup_all(chunk=3))
    finally:
        kernel_map.close()
        vm_map.close()


def _call(run: Callable[[Any], Any], m: Any) -> tuple[Any, ...]:
    try:
        return ("ok", run(m))
    except MapError as exc:
        return ("error", exc.errno)


def _vm_all(m: Any) -> tuple[list[bytes], list[bytes]]:
    keys: list[bytes] = []
    values: list[bytes] = []
    cursor = None
    while True:
        batch = m.lookup_batch(3, cursor)
        keys += batch.keys
        values += batch.values
        if batch.cursor is None:
            return keys, values
        cursor = batch.cursor


def test_lru_evicts_instead_of_failing_like_the_kernel():
    vm_map, kernel_map = _pair((T.LRU_HASH, 4, 8, 16, BPF_F_NO_COMMON_LRU))
    try:
        for m in (vm_map, kernel_map):
            _fill(m, range(200))
            assert 0 < len(_walk(m)) <= 16  # type: ignore[arg-type]
            assert m.lookup(k(199)) == k(199, 8)  # the newest element survives
    finally:
        kernel_map.close()
        vm_map.close()


BPF_F_LOCK = 4


def test_bpf_f_lock_on_a_spin_locked_value_like_the_kernel():
    """helpers_mix's ``locked`` array (struct { bpf_spin_lock; u64 count; }, from BTF) in both backends."""
    from pathlib import Path

    import pybpf

    path = Path(__file__).parent / "bpf" / "helpers_mix.v3.o"
    with pybpf.load(path) as vm_obj, pybpf.load(path, backend="kernel") as k_obj:
        maps = [getattr(o.maps[n], "raw", o.maps[n]) for o in (vm_obj, k_obj) for n in ("locked", "q")]
        vm_locked, vm_q, k_locked, k_q = maps
        zero = bytes(4)

        def val(lock: int, count: int) -> bytes:
            return lock.to_bytes(4, "little") + bytes(4) + count.to_bytes(8, "little")

        ops: list[Op] = [
            ("update", zero, val(0, 5), BPF_F_LOCK),
            ("lookup", zero, BPF_F_LOCK),
            ("update", zero, val(1, 6), BPF_F_LOCK),  # the lock word is never copied in
            ("lookup", zero),
            ("update", zero, val(1, 7), 0),
            ("lookup", zero),
            ("update", zero, val(0, 8), BPF_F_LOCK | 1),  # BPF_NOEXIST on an array
            ("update", zero, val(0, 8), BPF_F_LOCK | 2),
            ("lookup", zero, 8),  # unknown lookup flag
            ("freeze",),  # maps with a spin lock cannot be frozen: ENOTSUPP
        ]
        for step, op in enumerate(ops):
            assert outcome(vm_locked, op) == outcome(k_locked, op), f"step {step}: {op[0]}{op[1:]!r}"
        for op in [("update", None, bytes(4), BPF_F_LOCK), ("lookup", None, BPF_F_LOCK)]:  # no lock in q
            assert outcome(vm_q, op) == outcome(k_q, op)


def test_lpm_trie_walk_order_is_the_kernels():
    """trie_get_next_key walks the trie in post-order: the same sequence, not just the same set."""
    prefixes = {
        (p, (10 << 24 | b << 16 | c << 8 | d) & (0xFFFFFFFF << (32 - p)) & 0xFFFFFFFF)
        for p, b, c, d in [(8, 0, 0, 0), (16, 1, 0, 0), (16, 2, 0, 0), (24, 1, 3, 0), (24, 1, 2, 0),
                           (32, 1, 2, 3), (32, 2, 0, 1), (24, 2, 0, 0), (32, 1, 3, 9), (16, 3, 0, 0)]
    }  # fmt: skip
    vm_map, kernel_map = _pair((T.LPM_TRIE, 8, 8, 32, BPF_F_NO_PREALLOC))
    try:
        walks = []
        for m in (vm_map, kernel_map):
            for plen, addr in sorted(prefixes):
                m.update(k(plen) + addr.to_bytes(4, "big"), k(plen, 8))
            walk, key = [], m.next_key(None)
            while key is not None:
                walk.append(bytes(key))
                key = m.next_key(key)
            walks.append(walk)
            assert m.next_key(k(32) + bytes([99, 0, 0, 1])) == m.next_key(None)  # unknown key: from the start
        assert walks[0] == walks[1] and len(walks[0]) == len(prefixes)
    finally:
        kernel_map.close()
        vm_map.close()
