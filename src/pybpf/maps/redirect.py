"""Redirect targets: DEVMAP, DEVMAP_HASH (ifindex), CPUMAP (queue size), XSKMAP (socket).

Enough of each for ``bpf_redirect_map`` to resolve a target through
:meth:`redirect_target`, with the kernel's update/lookup/delete errors.  Values:
devmap ``u32 ifindex [, u32 prog fd/id]``, cpumap ``u32 qsize [, u32 prog]``,
xskmap ``u32`` socket handle.  Interfaces are not checked against the host: in
the VM an ifindex names a simulated device (the kernel answers EINVAL for an
ifindex it does not have), and a socket handle a simulated AF_XDP socket.  A
program fd in a devmap/cpumap entry is refused (EOPNOTSUPP): the kernel would run
it on every redirect, the VM does not.
"""

from __future__ import annotations

import errno
from typing import ClassVar

from pybpf.maps.array import SparseArrayMap, check_access_flags
from pybpf.maps.base import MapSpec, einval
from pybpf.maps.flags import BPF_EXIST, BPF_NOEXIST, EOPNOTSUPP, NR_CPUS, MapFlag
from pybpf.maps.hash import HashMap
from pybpf.uapi import MapType

DEV_CREATE_FLAG_MASK = int(MapFlag.NUMA_NODE | MapFlag.RDONLY | MapFlag.WRONLY)
CPUMAP_CREATE_FLAG_MASK = int(MapFlag.NUMA_NODE)
XSK_CREATE_FLAG_MASK = int(MapFlag.NUMA_NODE | MapFlag.RDONLY | MapFlag.WRONLY)
CPUMAP_MAX_QSIZE = 16384


def _check_shape(spec: MapSpec, mask: int, value_sizes: tuple[int, ...]) -> None:
    if spec.key_size != 4 or spec.value_size not in value_sizes or spec.max_entries == 0:
        raise einval(
            spec, f"{spec.map_type.uapi_name} needs key_size 4, value_size in {value_sizes}, max_entries > 0"
        )
    unknown = spec.flags & ~mask
    if unknown:
        raise einval(spec, f"flags {unknown:#x} not valid for {spec.map_type.uapi_name} maps")
    check_access_flags(spec)


def _entry_program(value: bytes) -> int:
    """The program fd of an 8-byte devmap/cpumap value (``bpf_devmap_val.bpf_prog.fd``); <= 0 is none."""
    return int.from_bytes(value[4:8], "little", signed=True) if len(value) == 8 else 0


class _ArrayTarget(SparseArrayMap):
    """Array-shaped redirect map: an index holds a target or nothing."""

    def _refuse_entry_program(self, prog: int) -> None:
        """The kernel runs a program given in the entry on every redirect; the VM does not."""
        if prog > 0:
            raise self._err(
                f"{self.map_type.uapi_name} entry names program {prog}: the VM does not run programs "
                "attached to redirect entries",
                EOPNOTSUPP,
            )

    def _check_update(self, i: int, flags: int) -> None:
        if flags > BPF_EXIST:
            raise self._err(f"unknown update flags {flags:#x}")
        if i >= self.max_entries:
            raise self._err(f"index {i} out of range", errno.E2BIG)
        if flags == BPF_NOEXIST:
            raise self._err("array entries always exist (BPF_NOEXIST)", errno.EEXIST)

    def _lookup(self, key: bytes, flags: int) -> bytes:
        i = self._index(key)
        if i >= self.max_entries or not self._present(i):
            raise self._enoent(f"no target at index {i}")
        return self._raw(i)

    def _delete(self, key: bytes) -> None:
        i = self._index(key)
        if i >= self.max_entries:
            raise self._err(f"index {i} out of range")
        if self._present(i):
            self._clear(i)

    def redirect_target(self, key: int | bytes) -> int | None:
        """The u32 target (ifindex, cpu, socket) bpf_redirect_map would use, or None."""
        i = key if isinstance(key, int) else int.from_bytes(key, "little")
        if not 0 <= i < self.max_entries or not self._present(i):
            return None
        return int.from_bytes(self._raw(i)[:4], "little") if self.map_type != MapType.CPUMAP else i


class DevMap(_ArrayTarget):
    """DEVMAP: index -> ifindex (ifindex 0 empties the slot)."""

    map_types: ClassVar[tuple[MapType, ...]] = (MapType.DEVMAP,)

    @classmethod
    def check_spec(cls, spec: MapSpec) -> MapSpec:
        _check_shape(spec, DEV_CREATE_FLAG_MASK, (4, 8))
        return spec

    def _update(self, key: bytes, value: bytes, flags: int) -> None:
        i = self._index(key)
        self._check_update(i, flags)
        ifindex = int.from_bytes(value[:4], "little")
        prog = _entry_program(value)
        if not ifindex:
            if prog > 0:
                raise self._err("a program fd needs a device (ifindex 0)")
            self._delete(key)
            return
        self._refuse_entry_program(prog)
        self._set(i, value)


class CpuMap(_ArrayTarget):
    """CPUMAP: cpu -> queue size (0 removes the entry)."""

    map_types: ClassVar[tuple[MapType, ...]] = (MapType.CPUMAP,)

    @classmethod
    def check_spec(cls, spec: MapSpec) -> MapSpec:
        _check_shape(spec, CPUMAP_CREATE_FLAG_MASK, (4, 8))
        if spec.max_entries > NR_CPUS:
            raise einval(spec, f"cpumap max_entries {spec.max_entries} exceeds NR_CPUS", errno.E2BIG)
        return spec

    def _update(self, key: bytes, value: bytes, flags: int) -> None:
        i = self._index(key)
        self._check_update(i, flags)
        qsize = int.from_bytes(value[:4], "little")
        if qsize > CPUMAP_MAX_QSIZE:
            raise self._err(f"queue size {qsize} exceeds {CPUMAP_MAX_QSIZE}", errno.EOVERFLOW)
        if i >= self.num_cpus:
            raise self._err(f"cpu {i} is not possible here ({self.num_cpus} CPUs)", errno.ENODEV)
        if not qsize:
            self._delete(key)
            return
        self._refuse_entry_program(_entry_program(value))
        self._set(i, value)


class XskMap(_ArrayTarget):
    """XSKMAP: queue index -> AF_XDP socket handle."""

    map_types: ClassVar[tuple[MapType, ...]] = (MapType.XSKMAP,)

    @classmethod
    def check_spec(cls, spec: MapSpec) -> MapSpec:
        _check_shape(spec, XSK_CREATE_FLAG_MASK, (4,))
        return spec

    def _update(self, key: bytes, value: bytes, flags: int) -> None:
        i = self._index(key)
        if flags > BPF_EXIST:
            raise self._err(f"unknown update flags {flags:#x}")
        if i >= self.max_entries:
            raise self._err(f"index {i} out of range", errno.E2BIG)
        present = self._present(i)
        if present and flags == BPF_NOEXIST:
            raise self._err("socket already set (BPF_NOEXIST)", errno.EEXIST)
        if not present and flags == BPF_EXIST:
            raise self._enoent("no socket to replace (BPF_EXIST)")
        self._set(i, value)

    def _lookup(self, key: bytes, flags: int) -> bytes:
        raise self._err("XSKMAP elements cannot be read from user space", EOPNOTSUPP)


class DevMapHash(HashMap):
    """DEVMAP_HASH: arbitrary u32 key -> ifindex."""

    map_types: ClassVar[tuple[MapType, ...]] = (MapType.DEVMAP_HASH,)

    @classmethod
    def check_spec(cls, spec: MapSpec) -> MapSpec:
        _check_shape(spec, DEV_CREATE_FLAG_MASK, (4, 8))
        return spec

    def _update(self, key: bytes, value: bytes, flags: int) -> None:
        if flags > BPF_EXIST:
            raise self._err(f"unknown update flags {flags:#x}")
        if not int.from_bytes(value[:4], "little"):
            raise self._err("ifindex 0 is not a device")
        if flags == BPF_EXIST:  # __dev_map_hash_update_elem checks BPF_NOEXIST only
            flags = 0
        if _entry_program(value) > 0:
            raise self._err(
                "DEVMAP_HASH entry names a program: the VM does not run programs attached to "
                "redirect entries",
                EOPNOTSUPP,
            )
        super()._update(key, value, flags)

    def redirect_target(self, key: int | bytes) -> int | None:
        """The ifindex bpf_redirect_map would use, or None."""
        k = key.to_bytes(4, "little") if isinstance(key, int) else bytes(key)
        off = self.value_offset(k)
        return None if off is None else int.from_bytes(self._mm[off : off + 4], "little")
