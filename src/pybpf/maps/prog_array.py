"""BPF_MAP_TYPE_PROG_ARRAY: tail-call targets by index.

Values are program handles.  User space stores any program object (the VM's
loaded program); the buffer holds its u32 id and a lookup from user space returns
that id, as the kernel returns program ids.  The objects themselves stay in a
process-local table: a program is not bytes another process could map.
"""

from __future__ import annotations

import errno
import itertools
from typing import Any, ClassVar

from pybpf.maps.array import ARRAY_CREATE_FLAG_MASK, SparseArrayMap, check_array_spec
from pybpf.maps.base import MapSpec, einval
from pybpf.maps.flags import BPF_ANY
from pybpf.uapi import MapType

_anon_prog_ids = itertools.count(1 << 24)


def check_fd_array_spec(spec: MapSpec) -> None:
    """fd_array_map_alloc_check(): values are 4-byte handles."""
    if spec.value_size != 4:
        raise einval(spec, f"{spec.map_type.uapi_name} maps need value_size 4, got {spec.value_size}")
    check_array_spec(spec, allowed=ARRAY_CREATE_FLAG_MASK)


def object_id(obj: Any) -> int:
    """The u32 id of a program/socket handle: its ``id`` attribute or a fresh one."""
    oid = getattr(obj, "id", None)
    if isinstance(oid, int) and not isinstance(oid, bool) and 0 < oid < 1 << 32:
        return oid
    return next(_anon_prog_ids)


class ProgArrayMap(SparseArrayMap):
    """PROG_ARRAY: ``update(index, program)``; ``get_program(index)`` for bpf_tail_call."""

    map_types: ClassVar[tuple[MapType, ...]] = (MapType.PROG_ARRAY,)

    def __init__(self, spec: MapSpec, storage: Any) -> None:
        super().__init__(spec, storage)
        self._objects: dict[int, Any] = {}

    @classmethod
    def check_spec(cls, spec: MapSpec) -> MapSpec:
        check_fd_array_spec(spec)
        return spec

    def _user_value(self, value: Any) -> bytes:
        if value is None or isinstance(value, bytes | bytearray | memoryview | int):
            raise self._err("a program array value is a program object", errno.EBADF)
        self._pending = value
        return object_id(value).to_bytes(4, "little")

    def _check_fd_update(self, i: int, flags: int) -> None:
        if flags != BPF_ANY:
            raise self._err(f"{self.map_type.uapi_name} updates take BPF_ANY only")
        if i >= self.max_entries:
            raise self._err(f"index {i} out of range", errno.E2BIG)

    def _update(self, key: bytes, value: bytes, flags: int) -> None:
        i = self._index(key)
        self._check_fd_update(i, flags)
        self._set(i, value)
        self._objects[i] = self._pending

    def _lookup(self, key: bytes, flags: int) -> bytes:
        i = self._index(key)
        if i >= self.max_entries or not self._present(i):
            raise self._enoent(f"no program at index {i}")
        return self._raw(i)

    def _delete(self, key: bytes) -> None:
        i = self._index(key)
        if i >= self.max_entries:
            raise self._err(f"index {i} out of range", errno.E2BIG)
        if not self._present(i):
            raise self._enoent(f"no program at index {i}")
        self._clear(i)
        self._objects.pop(i, None)

    def prog_update(self, key: bytes, value: bytes, flags: int = 0, cpu: int = 0) -> None:
        raise self._err("programs cannot update a program array")

    def get_program(self, index: int) -> Any:
        """The program at ``index`` (what bpf_tail_call jumps to), or None."""
        if not 0 <= index < self.max_entries or not self._present(index):
            return None
        return self._objects.get(index)

    def value_offset(self, key: bytes) -> int | None:
        return None
