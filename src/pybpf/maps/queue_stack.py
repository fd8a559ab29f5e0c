"""BPF_MAP_TYPE_QUEUE (FIFO) and STACK (LIFO): key_size 0, push / pop / peek.

Layout: ``max_entries + 1`` value slots used as a ring (one slot stays free to tell
full from empty, as the kernel does); head and tail indexes are header words.
From user space ``update`` pushes, ``lookup`` peeks and ``lookup_and_delete`` pops,
exactly as bpf(2) maps those commands for these types.  Pushing with BPF_EXIST on a
full map overwrites the oldest element, for a stack too.
"""

from __future__ import annotations

import errno
from typing import ClassVar

from pybpf.maps.array import check_access_flags
from pybpf.maps.base import Map, MapSpec, einval
from pybpf.maps.flags import ACCESS_MASK, BPF_EXIST, BPF_NOEXIST, KMALLOC_MAX_SIZE, MapFlag
from pybpf.maps.storage import Layout, Storage, Word, round8
from pybpf.uapi import MapType

QUEUE_STACK_CREATE_FLAG_MASK = int(MapFlag.NUMA_NODE | ACCESS_MASK)
_HEAD = Word.AUX0
_TAIL = Word.AUX1


class _QueueStackBase(Map):
    """Shared ring of a queue and a stack; they differ only in which end pops."""

    def __init__(self, spec: MapSpec, storage: Storage) -> None:
        super().__init__(spec, storage)
        self._size = spec.max_entries + 1
        self._vslot = round8(spec.value_size)
        self._data = storage.data_offset

    @classmethod
    def check_spec(cls, spec: MapSpec) -> MapSpec:
        if spec.max_entries == 0 or spec.key_size != 0 or spec.value_size == 0:
            raise einval(spec, "queue/stack maps need key_size 0, value_size > 0, max_entries > 0")
        unknown = spec.flags & ~QUEUE_STACK_CREATE_FLAG_MASK
        if unknown:
            raise einval(spec, f"flags {unknown:#x} not valid for {spec.map_type.uapi_name} maps")
        check_access_flags(spec)
        if spec.value_size > KMALLOC_MAX_SIZE:
            raise einval(spec, f"value_size {spec.value_size} is too large", errno.E2BIG)
        return spec

    @classmethod
    def layout(cls, spec: MapSpec) -> Layout:
        return cls._layout(spec, round8(spec.value_size) * (spec.max_entries + 1))

    def __len__(self) -> int:
        return (self._w[_HEAD] - self._w[_TAIL]) % self._size

    def _slot(self, i: int) -> int:
        return self._data + i * self._vslot

    # -- push / pop / peek (also the program helpers) ---------------------------

    def push(self, value: bytes, flags: int = 0) -> None:
        """bpf_map_push_elem: BPF_EXIST overwrites the oldest element when full."""
        v = self._value(value, self.value_size)
        if flags & BPF_NOEXIST or flags > BPF_EXIST:
            raise self._err(f"invalid push flags {flags:#x}")
        w = self._w
        with self._st.txn():  # head and tail read under the lock another pusher holds
            head, tail = w[_HEAD], w[_TAIL]
            if (head + 1) % self._size == tail:
                if not flags & BPF_EXIST:
                    raise self._full("queue/stack is full")
                self._st.put_word(_TAIL, (tail + 1) % self._size)
            self._st.put(self._slot(head), v)
            self._st.put_word(_HEAD, (head + 1) % self._size)

    def peek(self) -> bytes:
        """bpf_map_peek_elem: the next element pop would return (ENOENT if empty)."""
        return self._take(delete=False)

    def pop(self) -> bytes:
        """bpf_map_pop_elem (one lock from reading the slot to moving past it)."""
        with self._st.txn():
            return self._take(delete=True)

    def _take(self, delete: bool) -> bytes:
        raise NotImplementedError

    # -- bpf(2) view ----------------------------------------------------------------

    def _lookup(self, key: bytes, flags: int) -> bytes:
        if flags:
            raise self._err("BPF_F_LOCK is not valid for queue/stack maps")
        return self.peek()

    def update(self, key: bytes | None, value: object, flags: int = 0) -> None:
        self._check_user_write()
        self._key(key)
        self.push(value, flags)  # type: ignore[arg-type]

    def _lookup_and_delete(self, key: bytes, flags: int) -> bytes:
        if flags:
            raise self._err("BPF_F_LOCK is not valid for queue/stack maps")
        return self.pop()

    def _delete(self, key: bytes) -> None:
        raise self._err("queue/stack elements cannot be deleted by key")

    def _next_key(self, key: bytes | None) -> bytes:
        raise self._err("queue/stack maps have no keys to iterate")

    def next_key(self, key: bytes | None) -> bytes | None:
        self._check_user_read()
        return self._next_key(key)

    def prog_update(self, key: bytes, value: bytes, flags: int = 0, cpu: int = 0) -> None:
        self._check_prog_write()
        self.push(value, flags)


class QueueMap(_QueueStackBase):
    """BPF_MAP_TYPE_QUEUE: pop returns the oldest element."""

    map_types: ClassVar[tuple[MapType, ...]] = (MapType.QUEUE,)

    def _take(self, delete: bool) -> bytes:
        w = self._w
        head, tail = w[_HEAD], w[_TAIL]
        if head == tail:
            raise self._enoent("queue is empty")
        off = self._slot(tail)
        value = self._mm[off : off + self.value_size]
        if delete:
            with self._st.txn():
                self._st.put_word(_TAIL, (tail + 1) % self._size)
        return value


class StackMap(_QueueStackBase):
    """BPF_MAP_TYPE_STACK: pop returns the newest element."""

    map_types: ClassVar[tuple[MapType, ...]] = (MapType.STACK,)

    def _take(self, delete: bool) -> bytes:
        w = self._w
        head, tail = w[_HEAD], w[_TAIL]
        if head == tail:
            raise self._enoent("stack is empty")
        index = (head - 1) % self._size
        off = self._slot(index)
        value = self._mm[off : off + self.value_size]
        if delete:
            with self._st.txn():
                self._st.put_word(_HEAD, index)
        return value
