"""Kernel maps through bpf(2), with the same raw API as the VM's maps.

Keys and values are ``bytes`` of exactly ``key_size`` / ``value_size``.  A missing
key raises :class:`~pybpf.errors.MapKeyNotFoundError` (a ``KeyError``); EEXIST and
E2BIG become :class:`MapKeyExistsError` / :class:`MapFullError`; every other errno
a :class:`MapError`.  Each keeps the errno, names the bpf(2) command in its message,
carries the hint and chains the underlying :class:`KernelError`.

Per-CPU maps: the kernel exchanges one slot per *possible* CPU, each rounded up to
8 bytes.  :meth:`KernelMap.lookup` and :meth:`KernelMap.update` use that raw layout
(``percpu_value_size`` bytes); :meth:`lookup_percpu` / :meth:`update_percpu` split
and join it into one ``value_size`` value per CPU.
"""

from __future__ import annotations

import ctypes
import errno as _errno
import os
from collections.abc import Iterator, Sequence

from ..errors import BPFError, MapBatchError, MapError, MapKeyNotFoundError, map_error_class
from ..maps.base import BatchResult
from ..uapi import Cmd, MapFlag, MapType, UpdateFlag
from . import syscall
from .attr import OBJ_NAME_LEN, FdAttr, MapBatchAttr, MapCreateAttr, MapElemAttr, addr
from .cpus import possible_cpus
from .fd import FDObject, OwnedFD
from .info import MapInfo, map_info

# The UAPI flag enums under the names this module has always exported.
UpdateFlags = UpdateFlag
MapFlags = MapFlag


PERCPU_MAP_TYPES = frozenset(
    {MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH, MapType.PERCPU_CGROUP_STORAGE}
)
"""Map types whose values hold one slot per possible CPU."""


_BATCH_CHUNK = 256


def _round8(n: int) -> int:
    return (n + 7) & ~7


def map_error(cmd: Cmd, err: int, map_name: str | None, detail: str = "") -> MapError:
    """The MapError subclass for ``err`` from ``cmd``, chained to the KernelError."""
    kernel = syscall.error(cmd, err, detail)
    cls = map_error_class(err)
    text = f"{cmd.uapi_name} failed: {os.strerror(err)}" + (f": {detail}" if detail else "")
    exc = cls(text, errno=err, map_name=map_name)
    if kernel.hint is not None:
        exc.hint = kernel.hint
    exc.__cause__ = kernel
    return exc


def _name_bytes(name: str) -> bytes:
    raw = name.encode()
    if len(raw) >= OBJ_NAME_LEN:
        raise MapError(f"map name {name!r} longer than {OBJ_NAME_LEN - 1} bytes", errno=_errno.EINVAL)
    return raw


def create_map(
    map_type: MapType | int,
    key_size: int,
    value_size: int,
    max_entries: int,
    *,
    flags: int = 0,
    name: str = "",
    numa_node: int | None = None,
    map_extra: int = 0,
    btf_fd: int | None = None,
    btf_key_type_id: int = 0,
    btf_value_type_id: int = 0,
    btf_vmlinux_value_type_id: int = 0,
    inner_map_fd: int | None = None,
    ifindex: int = 0,
) -> KernelMap:
    """BPF_MAP_CREATE: a new map owned by the returned :class:`KernelMap`.

    ``numa_node`` sets BPF_F_NUMA_NODE; ``btf_fd`` with type ids attaches BTF
    (needed for spin locks, timers, kptrs and pretty printing).
    """
    for label, value in (("key_size", key_size), ("value_size", value_size), ("max_entries", max_entries)):
        if not 0 <= value <= 0xFFFFFFFF:
            raise MapError(f"{label} {value} out of range", errno=_errno.EINVAL, map_name=name or None)
    attr = MapCreateAttr(
        map_type=int(map_type),
        key_size=key_size,
        value_size=value_size,
        max_entries=max_entries,
        map_flags=flags | (MapFlags.NUMA_NODE if numa_node is not None else 0),
        inner_map_fd=inner_map_fd or 0,
        numa_node=numa_node or 0,
        map_name=_name_bytes(name),
        map_ifindex=ifindex,
        btf_fd=btf_fd or 0,
        btf_key_type_id=btf_key_type_id,
        btf_value_type_id=btf_value_type_id,
        btf_vmlinux_value_type_id=btf_vmlinux_value_type_id,
        map_extra=map_extra,
    )
    try:
        mtype: MapType | int = MapType(int(map_type))
    except ValueError:
        mtype = int(map_type)
    shape = f"{getattr(mtype, 'uapi_name', mtype)} key {key_size} value {value_size} max {max_entries}"
    detail = f"map {name!r}: {shape}" if name else shape
    fd = syscall.bpf(Cmd.MAP_CREATE, attr, detail=detail)
    return KernelMap(OwnedFD(fd, "map"), mtype, key_size, value_size, max_entries, flags, name)


def _batch_error(cause: MapError, processed: int, total: int) -> MapError:
    """A batch that stopped on an element (MapBatchError with the count), or a refused request.

    A request the kernel refuses up front leaves ``count`` as it was (0 or all).
    """
    if cause.errno in (syscall.ENOTSUPP, _errno.EINVAL) and processed in (0, total):
        return cause
    exc = MapBatchError(cause, processed)
    exc.__cause__ = cause
    return exc


class KernelMap(FDObject):
    """A kernel map: raw byte-level element operations over its fd."""

    __slots__ = (
        "flags",
        "key_size",
        "map_type",
        "max_entries",
        "name",
        "percpu_value_size",
        "value_size",
    )

    def __init__(
        self,
        owned: OwnedFD,
        map_type: MapType | int,
        key_size: int,
        value_size: int,
        max_entries: int,
        flags: int = 0,
        name: str = "",
    ) -> None:
        super().__init__(owned)
        self.map_type = map_type
        self.key_size = key_size
        self.value_size = value_size
        self.max_entries = max_entries
        self.flags = flags
        self.name = name
        if map_type in PERCPU_MAP_TYPES:
            self.percpu_value_size: int = _round8(value_size) * possible_cpus()
        else:
            self.percpu_value_size = value_size

    # -- construction from existing objects --------------------------------
    @classmethod
    def from_fd(cls, fd: int) -> KernelMap:
        """Adopt ``fd`` (the map now owns it) and read its shape from the kernel."""
        owned = OwnedFD(fd, "map")
        try:
            info = map_info(fd)
        except BPFError:
            owned.close()
            raise
        return cls(owned, info.type, info.key_size, info.value_size, info.max_entries, info.flags, info.name)

    @property
    def is_percpu(self) -> bool:
        return self.map_type in PERCPU_MAP_TYPES

    def info(self) -> MapInfo:
        return map_info(self.fd)

    @property
    def id(self) -> int:
        return self.info().id

    def pin(self, path: str) -> None:
        """Pin the map at ``path`` on bpffs."""
        from .pin import pin_fd

        pin_fd(self.fd, path)

    def __repr__(self) -> str:
        t = getattr(self.map_type, "uapi_name", self.map_type)
        state = "closed" if self.closed else f"fd={self._owned._fd}"
        return f"<KernelMap {self.name!r} {t} {state}>"

    # -- helpers -----------------------------------------------------------
    def _buf(self, data: bytes | None, size: int, what: str) -> ctypes.Array[ctypes.c_char] | None:
        if size == 0 and not data:
            return None
        if data is None:
            raise MapError(f"{what} required", errno=_errno.EINVAL, map_name=self.name or None)
        if not isinstance(data, bytes | bytearray | memoryview):
            raise MapError(
                f"{what} must be bytes, not {type(data).__name__}",
                errno=_errno.EINVAL,
                map_name=self.name or None,
            )
        if len(data) != size:
            raise MapError(
                f"{what} is {len(data)} bytes, map expects {size}",
                errno=_errno.EINVAL,
                map_name=self.name or None,
            )
        return ctypes.create_string_buffer(bytes(data), size)

    def _elem(self, cmd: Cmd, key: bytes | None, value_buf: ctypes._CData | None, flags: int = 0) -> int:
        kbuf = self._buf(key, self.key_size, "key")
        attr = MapElemAttr(map_fd=self.fd, key=addr(kbuf), value=addr(value_buf), flags=flags)
        return syscall.bpf_raw(cmd, attr)

    def _raise(self, cmd: Cmd, err: int, detail: str = "") -> MapError:
        return map_error(cmd, err, self.name or None, detail)

    # -- element operations --------------------------------------------------
    def lookup(self, key: bytes | None, flags: int = 0) -> bytes:
        """The value under ``key`` (raw per-CPU layout for per-CPU maps; peek for queue/stack)."""
        out = ctypes.create_string_buffer(max(self.percpu_value_size, 1))
        rc = self._elem(Cmd.MAP_LOOKUP_ELEM, key, out, flags)
        if rc < 0:
            raise self._raise(Cmd.MAP_LOOKUP_ELEM, -rc)
        return out.raw[: self.percpu_value_size]

    def contains_value(self, value: bytes) -> bool:
        """Bloom filter membership: may the filter hold ``value`` (false positives possible)?"""
        vbuf = self._buf(value, self.value_size, "value")
        rc = self._elem(Cmd.MAP_LOOKUP_ELEM, None, vbuf)
        if rc == -_errno.ENOENT:
            return False
        if rc < 0:
            raise self._raise(Cmd.MAP_LOOKUP_ELEM, -rc)
        return True

    def get(self, key: bytes, default: bytes | None = None) -> bytes | None:
        try:
            return self.lookup(key)
        except MapKeyNotFoundError:
            return default

    def lookup_percpu(self, key: bytes) -> list[bytes]:
        """One ``value_size`` value per possible CPU."""
        if not self.is_percpu:
            raise MapError(
                "lookup_percpu on a map that is not per-CPU", errno=_errno.EINVAL, map_name=self.name
            )
        raw = self.lookup(key)
        step = _round8(self.value_size)
        return [raw[i : i + self.value_size] for i in range(0, len(raw), step)]

    def update(self, key: bytes | None, value: bytes, flags: int = UpdateFlags.ANY) -> None:
        """Insert or replace (``flags``: ANY / NOEXIST / EXIST / F_LOCK); push for queue/stack."""
        vbuf = self._buf(value, self.percpu_value_size, "value")
        rc = self._elem(Cmd.MAP_UPDATE_ELEM, key, vbuf, flags)
        if rc < 0:
            raise self._raise(Cmd.MAP_UPDATE_ELEM, -rc)

    def update_percpu(self, key: bytes, values: Sequence[bytes], flags: int = UpdateFlags.ANY) -> None:
        """Set one value per possible CPU (``len(values)`` must equal the CPU count)."""
        ncpus = possible_cpus()
        if not self.is_percpu or len(values) != ncpus:
            raise MapError(
                f"update_percpu needs a per-CPU map and {ncpus} values",
                errno=_errno.EINVAL,
                map_name=self.name,
            )
        pad = _round8(self.value_size) - self.value_size
        parts = []
        for v in values:
            if len(v) != self.value_size:
                raise MapError(
                    f"per-CPU value is {len(v)} bytes, map expects {self.value_size}",
                    errno=_errno.EINVAL,
                    map_name=self.name,
                )
            parts.append(bytes(v) + b"\0" * pad)
        self.update(key, b"".join(parts), flags)

    def push(self, value: bytes, flags: int = UpdateFlags.ANY) -> None:
        """Queue/stack push (BPF_EXIST overwrites the oldest when full)."""
        self.update(None, value, flags)

    def delete(self, key: bytes) -> None:
        rc = self._elem(Cmd.MAP_DELETE_ELEM, key, None)
        if rc < 0:
            raise self._raise(Cmd.MAP_DELETE_ELEM, -rc)

    def lookup_and_delete(self, key: bytes | None = None, flags: int = 0) -> bytes:
        """Atomically read and remove (queue/stack pop with ``key=None``)."""
        out = ctypes.create_string_buffer(max(self.percpu_value_size, 1))
        rc = self._elem(Cmd.MAP_LOOKUP_AND_DELETE_ELEM, key, out, flags)
        if rc < 0:
            raise self._raise(Cmd.MAP_LOOKUP_AND_DELETE_ELEM, -rc)
        return out.raw[: self.percpu_value_size]

    def pop(self) -> bytes:
        return self.lookup_and_delete(None)

    def next_key(self, key: bytes | None) -> bytes | None:
        """The key after ``key`` (the first key for None); None at the end."""
        out = ctypes.create_string_buffer(max(self.key_size, 1))
        kbuf = None if key is None else self._buf(key, self.key_size, "key")
        attr = MapElemAttr(map_fd=self.fd, key=addr(kbuf), value=addr(out))
        rc = syscall.bpf_raw(Cmd.MAP_GET_NEXT_KEY, attr)
        if rc == -_errno.ENOENT:
            return None
        if rc < 0:
            raise self._raise(Cmd.MAP_GET_NEXT_KEY, -rc)
        return out.raw[: self.key_size]

    def keys(self) -> Iterator[bytes]:
        key = self.next_key(None)
        while key is not None:
            yield key
            key = self.next_key(key)

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) pairs; keys deleted during iteration are skipped."""
        for key in self.keys():
            try:
                yield key, self.lookup(key)
            except MapKeyNotFoundError:
                continue

    def freeze(self) -> None:
        """BPF_MAP_FREEZE: no more writes from userspace (programs still may)."""
        rc = syscall.bpf_raw(Cmd.MAP_FREEZE, FdAttr(fd=self.fd))
        if rc < 0:
            raise self._raise(Cmd.MAP_FREEZE, -rc)

    # -- batch operations (the VM's signatures: count + cursor, BatchResult) ----------
    def _lookup_batch(self, cmd: Cmd, count: int, cursor: bytes | None) -> BatchResult:
        if count < 0:
            raise MapError("batch count must be >= 0", errno=_errno.EINVAL, map_name=self.name or None)
        if count == 0:
            return BatchResult([], [], cursor)
        ks, vs = self.key_size, self.percpu_value_size
        keys = ctypes.create_string_buffer(ks * count)
        values = ctypes.create_string_buffer(vs * count)
        # The kernel's cursor is opaque: a bucket or an index, at most a key wide.
        token_size = max(ks, 8)
        in_token = None if cursor is None else ctypes.create_string_buffer(bytes(cursor), token_size)
        out_token = ctypes.create_string_buffer(token_size)
        attr = MapBatchAttr(
            in_batch=addr(in_token),
            out_batch=addr(out_token),
            keys=addr(keys),
            values=addr(values),
            count=count,
            map_fd=self.fd,
        )
        rc = syscall.bpf_raw(cmd, attr)
        if rc < 0 and rc != -_errno.ENOENT:
            raise self._raise(cmd, -rc)
        got = attr.count
        kraw, vraw = keys.raw, values.raw
        return BatchResult(
            [kraw[i * ks : (i + 1) * ks] for i in range(got)],
            [vraw[i * vs : (i + 1) * vs] for i in range(got)],
            None if rc == -_errno.ENOENT else out_token.raw,
        )

    def lookup_batch(self, count: int, cursor: bytes | None = None) -> BatchResult:
        """BPF_MAP_LOOKUP_BATCH: up to ``count`` elements after ``cursor`` (None: from the start).

        ``cursor`` of the result is None once the map is exhausted.
        """
        return self._lookup_batch(Cmd.MAP_LOOKUP_BATCH, count, cursor)

    def lookup_and_delete_batch(self, count: int, cursor: bytes | None = None) -> BatchResult:
        """BPF_MAP_LOOKUP_AND_DELETE_BATCH: as :meth:`lookup_batch`, removing what it returns."""
        return self._lookup_batch(Cmd.MAP_LOOKUP_AND_DELETE_BATCH, count, cursor)

    def lookup_all(self, chunk: int = _BATCH_CHUNK) -> list[tuple[bytes, bytes]]:
        """Every (key, value) through as many batches of ``chunk`` as it takes."""
        out: list[tuple[bytes, bytes]] = []
        cursor: bytes | None = None
        while True:
            res = self.lookup_batch(chunk, cursor)
            out.extend(zip(res.keys, res.values, strict=True))
            if res.cursor is None:
                return out
            cursor = res.cursor

    def _packed(self, items: Sequence[bytes], size: int, what: str) -> ctypes.Array[ctypes.c_char]:
        for item in items:
            if len(item) != size:
                raise MapError(
                    f"{what} is {len(item)} bytes, map expects {size}",
                    errno=_errno.EINVAL,
                    map_name=self.name,
                )
        return ctypes.create_string_buffer(b"".join(bytes(i) for i in items), max(size * len(items), 1))

    def update_batch(
        self, keys: Sequence[bytes], values: Sequence[bytes], flags: int = 0, elem_flags: int = 0
    ) -> int:
        """BPF_MAP_UPDATE_BATCH: the number written; MapBatchError part way.

        ``flags`` is the batch's own flags word; ``elem_flags`` may only be
        BPF_F_LOCK (the kernel refuses anything else with EINVAL).  The
        per-element error is the MapBatchError's ``cause``.
        """
        if len(keys) != len(values):
            raise MapError(
                "update_batch needs as many values as keys", errno=_errno.EINVAL, map_name=self.name
            )
        kbuf = self._packed(keys, self.key_size, "key")
        vbuf = self._packed(values, self.percpu_value_size, "value")
        attr = MapBatchAttr(
            keys=addr(kbuf), values=addr(vbuf), count=len(keys), map_fd=self.fd,
            elem_flags=elem_flags, flags=flags,
        )  # fmt: skip
        rc = syscall.bpf_raw(Cmd.MAP_UPDATE_BATCH, attr)
        if rc < 0:
            cause = self._raise(Cmd.MAP_UPDATE_BATCH, -rc, f"{attr.count} of {len(keys)} written")
            raise _batch_error(cause, int(attr.count), len(keys))
        return int(attr.count)

    def delete_batch(self, keys: Sequence[bytes], flags: int = 0) -> int:
        """BPF_MAP_DELETE_BATCH: the number deleted; MapBatchError part way (e.g. a missing key)."""
        kbuf = self._packed(keys, self.key_size, "key")
        attr = MapBatchAttr(keys=addr(kbuf), count=len(keys), map_fd=self.fd, flags=flags)
        rc = syscall.bpf_raw(Cmd.MAP_DELETE_BATCH, attr)
        if rc < 0:
            cause = self._raise(Cmd.MAP_DELETE_BATCH, -rc, f"{attr.count} of {len(keys)} deleted")
            raise _batch_error(cause, int(attr.count), len(keys))
        return int(attr.count)

    # -- the VM map's spelling of the same things ------------------------------------
    @property
    def percpu(self) -> bool:
        return self.is_percpu

    @property
    def num_cpus(self) -> int:
        """CPUs a per-CPU value has slots for (the possible CPUs)."""
        return possible_cpus()

    def iter_keys(self) -> Iterator[bytes]:
        return self.keys()

    def __iter__(self) -> Iterator[bytes]:
        return self.keys()

    def __len__(self) -> int:
        return sum(1 for _ in self.keys())

    def peek(self) -> bytes:
        """Queue/stack: the next value pop would return, left in place."""
        return self.lookup(None)

    def contains(self, value: bytes) -> bool:
        """Bloom filter membership (the VM map's name for :meth:`contains_value`)."""
        return self.contains_value(value)


__all__ = [
    "PERCPU_MAP_TYPES",
    "KernelMap",
    "MapFlags",
    "UpdateFlags",
    "create_map",
    "map_error",
]
