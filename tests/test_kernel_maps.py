"""Kernel maps through bpf(2): every common type, element ops, batches and errors."""

from __future__ import annotations

import errno
import struct
from pathlib import Path

import pytest

from pybpf.errors import KernelError, MapError, MapFullError, MapKeyExistsError, MapKeyNotFoundError
from pybpf.kernel import KernelMap, MapFlags, UpdateFlags, create_map
from pybpf.kernel.cpus import parse_cpu_list, possible_cpus
from pybpf.loaded import load
from pybpf.maps import BatchResult, MapBatchError
from pybpf.uapi import MapType

pytestmark = pytest.mark.kernel


def u32(v: int) -> bytes:
    return struct.pack("<I", v)


def u64(v: int) -> bytes:
    return struct.pack("<Q", v)


def test_hash_ops_and_errors() -> None:
    with create_map(MapType.HASH, 4, 8, 4, name="h") as m:
        m.update(u32(1), u64(10))
        assert m.lookup(u32(1)) == u64(10)
        with pytest.raises(MapKeyExistsError) as exc:
            m.update(u32(1), u64(11), UpdateFlags.NOEXIST)
        assert exc.value.errno == errno.EEXIST and "map_update_elem" in str(exc.value)
        with pytest.raises(MapKeyNotFoundError):
            m.update(u32(2), u64(1), UpdateFlags.EXIST)
        with pytest.raises(KeyError):
            m.lookup(u32(99))
        for k in range(2, 5):
            m.update(u32(k), u64(k))
        with pytest.raises(MapFullError) as full:
            m.update(u32(5), u64(5))
        assert isinstance(full.value.__cause__, KernelError)
        assert sorted(m.keys()) == sorted(u32(k) for k in range(1, 5))
        assert dict(m.items())[u32(3)] == u64(3)
        m.delete(u32(1))
        with pytest.raises(MapKeyNotFoundError):
            m.delete(u32(1))
        assert m.next_key(None) is not None
        assert m.get(u32(1)) is None
        assert m.lookup_and_delete(u32(2)) == u64(2)
        assert u32(2) not in set(m.keys())


def test_bad_sizes_are_refused_before_the_kernel() -> None:
    with create_map(MapType.HASH, 4, 8, 4) as m:
        with pytest.raises(MapError) as exc:
            m.update(b"abc", u64(1))
        assert exc.value.errno == errno.EINVAL and "key is 3 bytes" in str(exc.value)
        with pytest.raises(MapError):
            m.lookup("abcd")  # type: ignore[arg-type]
        with pytest.raises(MapError):
            m.update(u32(1), b"short")


def test_array_and_freeze() -> None:
    with create_map(MapType.ARRAY, 4, 4, 3, name="arr") as m:
        assert m.lookup(u32(2)) == b"\0" * 4
        m.update(u32(1), b"abcd")
        assert list(m.keys()) == [u32(0), u32(1), u32(2)]
        with pytest.raises(MapFullError):  # E2BIG: index beyond max_entries
            m.update(u32(3), b"abcd")
        with pytest.raises(MapError) as exc:
            m.delete(u32(0))
        assert exc.value.errno == errno.EINVAL
        m.freeze()
        with pytest.raises(MapError) as frozen:
            m.update(u32(0), b"zzzz")
        assert frozen.value.errno == errno.EPERM
        assert m.lookup(u32(1)) == b"abcd"


@pytest.mark.parametrize("mtype", [MapType.PERCPU_ARRAY, MapType.PERCPU_HASH, MapType.LRU_PERCPU_HASH])
def test_percpu_values_are_split_per_possible_cpu(mtype: MapType) -> None:
    ncpu = possible_cpus()
    with create_map(mtype, 4, 12, 4) as m:
        values = [bytes([i + 1]) * 12 for i in range(ncpu)]
        m.update_percpu(u32(0), values)
        assert m.lookup_percpu(u32(0)) == values
        assert len(m.lookup(u32(0))) == 16 * ncpu  # raw layout, 8-byte rounded slots


def test_lru_evicts_instead_of_failing() -> None:
    with create_map(MapType.LRU_HASH, 4, 4, 8) as m:
        for k in range(64):
            m.update(u32(k), u32(k))
        assert 0 < len(list(m.keys())) <= 64


def test_queue_and_stack() -> None:
    with create_map(MapType.QUEUE, 0, 4, 3) as q, create_map(MapType.STACK, 0, 4, 3) as s:
        for v in (1, 2, 3):
            q.push(u32(v))
            s.push(u32(v))
        with pytest.raises(MapFullError):
            q.push(u32(4))
        assert q.lookup(None) == u32(1)  # peek
        assert [q.pop() for _ in range(3)] == [u32(1), u32(2), u32(3)]
        assert [s.pop() for _ in range(3)] == [u32(3), u32(2), u32(1)]
        with pytest.raises(MapKeyNotFoundError):
            q.pop()


def test_lpm_trie_longest_prefix() -> None:
    with create_map(MapType.LPM_TRIE, 8, 4, 16, flags=MapFlags.NO_PREALLOC) as m:
        m.update(u32(8) + bytes([10, 0, 0, 0]), b"net8")
        m.update(u32(24) + bytes([10, 1, 2, 0]), b"n24_")
        assert m.lookup(u32(32) + bytes([10, 1, 2, 3])) == b"n24_"
        assert m.lookup(u32(32) + bytes([10, 9, 9, 9])) == b"net8"
        with pytest.raises(MapKeyNotFoundError):
            m.lookup(u32(32) + bytes([11, 0, 0, 0]))


def test_bloom_filter() -> None:
    with create_map(MapType.BLOOM_FILTER, 0, 4, 100, map_extra=3) as m:
        m.push(u32(7))
        assert m.contains_value(u32(7))
        assert not m.contains_value(u32(12345))


def test_map_in_map_and_prog_array() -> None:
    with (
        create_map(MapType.ARRAY, 4, 4, 1, name="inner") as inner,
        create_map(MapType.ARRAY_OF_MAPS, 4, 4, 2, inner_map_fd=inner.fd) as outer,
    ):
        outer.update(u32(0), u32(inner.fd))
        assert struct.unpack("<I", outer.lookup(u32(0)))[0] == inner.info().id
    with create_map(MapType.PROG_ARRAY, 4, 4, 2) as pa, pytest.raises(MapKeyNotFoundError):
        pa.lookup(u32(0))


def test_batch_operations() -> None:
    with create_map(MapType.HASH, 4, 8, 200) as m:
        keys = [u32(k) for k in range(100)]
        values = [u64(k * 3) for k in range(100)]
        assert m.update_batch(keys, values) == 100
        first = m.lookup_batch(7)
        assert len(first.keys) <= 7 and first.cursor is not None
        assert sorted(m.lookup_all(chunk=7)) == sorted(zip(keys, values, strict=True))
        assert m.delete_batch(keys[:40]) == 40
        with pytest.raises(MapBatchError) as part:
            m.delete_batch([keys[50], keys[0]])  # keys[0] is gone: stops after one
        assert part.value.processed == 1 and part.value.errno == errno.ENOENT
        drained: list[bytes] = []
        cursor = None
        while True:
            res = m.lookup_and_delete_batch(16, cursor)
            drained += res.keys
            if res.cursor is None:
                break
            cursor = res.cursor
        assert sorted(drained) == sorted(keys[40:50] + keys[51:])
        assert m.next_key(None) is None
        assert m.lookup_batch(10) == BatchResult([], [], None)
        m.update_batch(keys[:2], values[:2])
        with pytest.raises(MapError) as refused:  # refused up front: no element was processed
            m.update_batch(keys[1:3], values[1:3], elem_flags=UpdateFlags.NOEXIST)  # BPF_F_LOCK only
        assert refused.value.errno == errno.EINVAL and not isinstance(refused.value, MapBatchError)


def _api_script(m: object) -> list[object]:
    """The same calls on a VM map and a kernel map of one object: the results must agree."""
    out: list[object] = []
    keys = [u32(k) for k in range(20)]
    out.append(m.update_batch(keys, [u64(k * 7) for k in range(20)]))  # type: ignore[attr-defined]
    got, cursor = [], None
    while True:
        res = m.lookup_batch(6, cursor)  # type: ignore[attr-defined]
        got += zip(res.keys, res.values, strict=True)
        if res.cursor is None:
            break
        cursor = res.cursor
    out.append(sorted(got))
    out.append(sorted(m.iter_keys()))  # type: ignore[attr-defined]
    out.append(len(m))  # type: ignore[arg-type]
    out.append(m.delete_batch(keys[:5]))  # type: ignore[attr-defined]
    try:
        m.delete_batch([keys[6], keys[0]])  # type: ignore[attr-defined]
    except MapBatchError as exc:
        out.append(("batch error", exc.processed, exc.errno))
    try:
        m.update_batch([keys[7]], [u64(1)], UpdateFlags.NOEXIST)  # type: ignore[attr-defined]
    except MapBatchError as exc:
        out.append(("batch error", exc.processed, exc.errno))
    out.append(sorted(m.iter_keys()))  # type: ignore[attr-defined]
    return out


def test_raw_and_typed_api_same_as_the_vm(pin_root: str) -> None:
    path = Path(__file__).resolve().parent / "bpf" / "maps_btf.v3.o"
    with load(path, backend="kernel", pin_root=pin_root) as kobj, load(path) as vobj:
        kmap, vmap = kobj.maps["lru"], vobj.maps["lru"]
        assert _api_script(kmap.raw) == _api_script(vmap.raw)
        # Typed access through the object's BTF, identical in both backends.
        flow = {"saddr": 1, "daddr": 2, "sport": 3, "dport": 4, "proto": 17, "pad": [0, 0, 0]}
        for obj in (kobj, vobj):
            obj.maps["flows"][flow] = {"packets": 5, "bytes": 640}
        assert kobj.maps["flows"][flow] == vobj.maps["flows"][flow] == {"packets": 5, "bytes": 640}
        assert list(kobj.maps["flows"]) == list(vobj.maps["flows"]) == [flow]
        for obj in (kobj, vobj):
            obj.maps["percpu_counters"][1] = 9
        assert kobj.maps["percpu_counters"][1] == [9] * kobj.maps["percpu_counters"].num_cpus
        assert vobj.maps["percpu_counters"][1] == [9] * vobj.maps["percpu_counters"].num_cpus
        # Program arrays and maps of maps take loaded programs and maps, as in the VM.
        kobj.maps["jmp_table"][1] = kobj.programs["tail_b"]
        kobj.maps["outer_array"][1] = kobj.maps["inner1"]
        inner_id = struct.unpack("<I", kobj.maps["outer_array"].lookup(u32(1)))[0]
        assert inner_id == kobj.maps["inner1"].id
        assert (
            struct.unpack("<I", kobj.maps["jmp_table"].lookup(u32(1)))[0] == kobj.programs["tail_b"].handle.id
        )
        # Queues, stacks and bloom filters: the VM's spellings.
        kobj.maps["fifo"].push(u32(4))
        assert kobj.maps["fifo"].peek() == u32(4) and kobj.maps["fifo"].pop() == u32(4)
        kobj.maps["seen"].push(u32(77))
        assert kobj.maps["seen"].contains(u32(77))


def test_ringbuf_has_no_element_ops() -> None:
    with create_map(MapType.RINGBUF, 0, 0, 4096) as rb, pytest.raises(MapError):
        rb.lookup(None)


def test_create_errors_carry_command_errno_and_hint() -> None:
    with pytest.raises(KernelError) as exc:
        create_map(MapType.ARRAY, 3, 4, 0)
    assert exc.value.command == "map_create" and exc.value.errno == errno.EINVAL
    assert exc.value.hint and "key_size" in exc.value.hint
    with pytest.raises(MapError):
        create_map(MapType.HASH, 4, 4, 1, name="x" * 16)


def test_from_fd_reads_shape_and_info() -> None:
    with create_map(MapType.HASH, 8, 16, 32, name="shape") as m:
        info = m.info()
        assert (info.type, info.key_size, info.value_size, info.max_entries, info.name) == (
            MapType.HASH,
            8,
            16,
            32,
            "shape",
        )
        import os

        twin = KernelMap.from_fd(os.dup(m.fd))
        with twin:
            assert (twin.key_size, twin.value_size, twin.name) == (8, 16, "shape")
            twin.update(b"k" * 8, b"v" * 16)
        assert m.lookup(b"k" * 8) == b"v" * 16


def test_cpu_list_parser() -> None:
    assert parse_cpu_list("0-3,8,10-11\n") == [0, 1, 2, 3, 8, 10, 11]
