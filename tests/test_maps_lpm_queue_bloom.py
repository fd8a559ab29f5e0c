"""LPM_TRIE, QUEUE, STACK and BLOOM_FILTER semantics."""

from __future__ import annotations

import errno
import ipaddress
import struct

import pytest

from pybpf.errors import MapError, MapFullError, MapKeyExistsError, MapKeyNotFoundError
from pybpf.maps import BPF_EXIST, BPF_NOEXIST, MapFlag, create_map
from pybpf.uapi import MapType


def pfx(cidr: str) -> bytes:
    net = ipaddress.ip_network(cidr, strict=False)
    return struct.pack("<I", net.prefixlen) + net.network_address.packed


def addr(ip: str, plen: int = 32) -> bytes:
    return struct.pack("<I", plen) + ipaddress.ip_address(ip).packed


def lpm(max_entries: int = 16):  # type: ignore[no-untyped-def]
    return create_map(MapType.LPM_TRIE, 8, 4, max_entries, MapFlag.NO_PREALLOC, name="lpm")


def test_lpm_longest_prefix_match() -> None:
    m = lpm()
    m.update(pfx("10.0.0.0/8"), b"A\0\0\0")
    m.update(pfx("10.1.0.0/16"), b"B\0\0\0")
    m.update(pfx("10.1.2.0/24"), b"C\0\0\0")
    m.update(pfx("0.0.0.0/0"), b"D\0\0\0")
    assert m.lookup(addr("10.1.2.3")) == b"C\0\0\0"
    assert m.lookup(addr("10.1.9.9")) == b"B\0\0\0"
    assert m.lookup(addr("10.200.0.1")) == b"A\0\0\0"
    assert m.lookup(addr("192.168.0.1")) == b"D\0\0\0"
    assert m.lookup(addr("10.1.2.3", 16)) == b"B\0\0\0"  # the key's prefixlen bounds the match
    off = m.value_offset(addr("10.1.2.3"))
    assert off is not None and m.storage[off : off + 1] == b"C"
    m.delete(pfx("0.0.0.0/0"))
    with pytest.raises(MapKeyNotFoundError):
        m.lookup(addr("192.168.0.1"))


def test_lpm_exact_update_delete_and_errors() -> None:
    m = lpm(2)
    m.update(pfx("192.168.0.0/16"), b"1111")
    with pytest.raises(MapKeyExistsError):
        m.update(pfx("192.168.0.0/16"), b"2222", BPF_NOEXIST)
    with pytest.raises(MapKeyNotFoundError):
        m.update(pfx("192.168.0.0/24"), b"2222", BPF_EXIST)
    with pytest.raises(MapKeyNotFoundError):
        m.delete(pfx("192.168.0.0/24"))  # delete is exact, not longest-prefix
    with pytest.raises(MapError) as ei:
        m.update(struct.pack("<I", 33) + bytes(4), b"xxxx")
    assert ei.value.errno == errno.EINVAL
    m.update(pfx("172.16.0.0/12"), b"3333")
    with pytest.raises(MapFullError) as ei2:
        m.update(pfx("10.0.0.0/8"), b"4444")
    assert ei2.value.errno == errno.ENOSPC
    m.update(pfx("172.16.0.0/12"), b"5555")  # replacing needs no room
    assert m.lookup(addr("172.20.1.1")) == b"5555"


def test_lpm_next_key_postorder() -> None:
    m = lpm()
    for c in ["10.0.0.0/8", "10.1.0.0/16", "0.0.0.0/0", "192.168.0.0/16", "10.1.2.0/24", "128.0.0.0/1"]:
        m.update(pfx(c), bytes(4))
    order = list(m.iter_keys())
    assert order == [
        pfx("10.1.2.0/24"),
        pfx("10.1.0.0/16"),
        pfx("10.0.0.0/8"),
        pfx("192.168.0.0/16"),
        pfx("128.0.0.0/1"),
        pfx("0.0.0.0/0"),
    ]
    assert m.next_key(pfx("11.0.0.0/8")) == order[0]  # missing key: restart


def test_lpm_creation_rules() -> None:
    with pytest.raises(MapError):
        create_map(MapType.LPM_TRIE, 8, 4, 16)  # needs BPF_F_NO_PREALLOC
    with pytest.raises(MapError):
        create_map(MapType.LPM_TRIE, 4, 4, 16, MapFlag.NO_PREALLOC)  # no data bytes
    with pytest.raises(MapError):
        create_map(MapType.LPM_TRIE, 4 + 257, 4, 16, MapFlag.NO_PREALLOC)


def test_queue_fifo_and_overwrite() -> None:
    q = create_map(MapType.QUEUE, 0, 4, 3, name="q")
    for x in (b"aaaa", b"bbbb", b"cccc"):
        q.update(None, x)
    with pytest.raises(MapFullError):
        q.update(None, b"dddd")
    q.update(None, b"dddd", BPF_EXIST)  # overwrite the oldest
    assert q.lookup(None) == b"bbbb"  # peek
    assert [q.lookup_and_delete(None) for _ in range(3)] == [b"bbbb", b"cccc", b"dddd"]
    with pytest.raises(MapKeyNotFoundError):
        q.pop()
    with pytest.raises(MapError) as ei:
        q.update(None, b"eeee", BPF_NOEXIST)
    assert ei.value.errno == errno.EINVAL
    with pytest.raises(MapError):
        q.delete(None)
    with pytest.raises(MapError):
        q.next_key(None)


def test_stack_lifo_and_overwrite_drops_oldest() -> None:
    s = create_map(MapType.STACK, 0, 4, 2)
    s.push(b"aaaa")
    s.push(b"bbbb")
    s.push(b"cccc", BPF_EXIST)  # drops aaaa, the oldest
    assert s.peek() == b"cccc"
    assert s.pop() == b"cccc"
    assert s.pop() == b"bbbb"
    with pytest.raises(MapKeyNotFoundError):
        s.pop()
    with pytest.raises(MapError):
        create_map(MapType.STACK, 4, 4, 2)


def test_bloom_no_false_negatives_and_few_false_positives() -> None:
    b = create_map(MapType.BLOOM_FILTER, 0, 4, 1000, map_extra=3)
    assert b.nr_hash_funcs == 3
    for i in range(1000):
        b.update(None, struct.pack("<I", i))
    assert all(b.contains(struct.pack("<I", i)) for i in range(1000))
    fp = sum(b.contains(struct.pack("<I", i)) for i in range(10_000, 20_000))
    assert fp < 2000
    with pytest.raises(MapKeyNotFoundError):
        empty = create_map(MapType.BLOOM_FILTER, 0, 4, 10)
        empty.peek(b"abcd")
    with pytest.raises(MapError):
        b.push(b"abcd", BPF_EXIST)
    with pytest.raises(MapError) as ei:
        b.lookup(None)
    assert ei.value.errno == errno.EOPNOTSUPP
    with pytest.raises(MapError):
        create_map(MapType.BLOOM_FILTER, 0, 4, 10, map_extra=16)
    with pytest.raises(MapError):
        create_map(MapType.BLOOM_FILTER, 4, 4, 10)
