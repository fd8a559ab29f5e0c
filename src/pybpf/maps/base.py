"""The map protocol every family implements, and the checks they all share.

Two callers reach a map, and the kernel treats them differently, so the API keeps
them apart:

* user space (the bpf(2) view, libbpf-like): :meth:`Map.lookup`, :meth:`Map.update`,
  :meth:`Map.delete`, :meth:`Map.next_key`, batches, :meth:`Map.freeze`.  These
  honour BPF_F_RDONLY / BPF_F_WRONLY and ``freeze()``.
* a running program (the VM): :meth:`Map.value_offset` (``bpf_map_lookup_elem``
  returns ``storage + offset``), :meth:`Map.prog_update`, :meth:`Map.prog_delete`.
  These honour BPF_F_RDONLY_PROG / BPF_F_WRONLY_PROG and ignore ``freeze()``,
  exactly as the kernel does.

Subclasses implement the ``_lookup``/``_update``/``_delete``/``_next_key`` hooks on
validated ``bytes``; the public methods do validation and permission checks once.
"""

from __future__ import annotations

import errno
import itertools
import time
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from pybpf.errors import MapError, MapFullError, MapKeyExistsError, MapKeyNotFoundError
from pybpf.maps.flags import BPF_F_LOCK, ENOTSUPP, MapFlag
from pybpf.maps.storage import Layout, Storage, Word, round8
from pybpf.uapi import MapType


class MapPermissionError(MapError):
    """EPERM: the map is frozen, or read-only/write-only for this caller."""

    errno = errno.EPERM


class MapBatchError(MapError):
    """A batch operation stopped part way; ``processed`` elements were done first."""

    def __init__(self, cause: MapError, processed: int) -> None:
        super().__init__(
            f"batch stopped after {processed} element(s): {cause.message}",
            errno=cause.errno,
            map_name=None,
        )
        self.processed = processed
        self.cause = cause


@dataclass(frozen=True)
class MapSpec:
    """Everything BPF_MAP_CREATE takes, as validated values.

    ``spin_lock_offset`` is where a ``struct bpf_spin_lock`` sits in the value
    (from BTF, or given directly); BPF_F_LOCK needs it.
    """

    map_type: MapType
    key_size: int
    value_size: int
    max_entries: int
    flags: int = 0
    name: str = ""
    map_extra: int = 0
    num_cpus: int = 1
    spin_lock_offset: int | None = None
    btf: Any = None
    btf_key: int | None = None
    btf_value: int | None = None

    def with_max_entries(self, n: int) -> MapSpec:
        return replace(self, max_entries=n)


@dataclass(frozen=True)
class BatchResult:
    """Keys and values of one batch, and the cursor to pass next (None when done)."""

    keys: list[bytes]
    values: list[bytes]
    cursor: bytes | None


_ids = itertools.count(1)
_registry: weakref.WeakValueDictionary[int, Map] = weakref.WeakValueDictionary()


def map_by_id(map_id: int) -> Map | None:
    """The live map with this id (ids play the role of the kernel's map ids/fds)."""
    return _registry.get(map_id)


def einval(spec_or_name: MapSpec | str, message: str, code: int = errno.EINVAL) -> MapError:
    """A creation error naming the map, as the kernel's EINVAL/E2BIG would."""
    name = spec_or_name if isinstance(spec_or_name, str) else spec_or_name.name
    return MapError(message, errno=code, map_name=name or "(unnamed)")


class Map:
    """Base of every map type.  Not instantiated directly: use :func:`create_map`."""

    #: Map types this class implements (the factory dispatches on it).
    map_types: ClassVar[tuple[MapType, ...]] = ()
    #: Per-CPU maps keep one copy of each value per CPU (set by the subclass).
    percpu: bool = False

    def __init__(self, spec: MapSpec, storage: Storage) -> None:
        self.spec = spec
        self._st = storage
        self._mm = storage.mm
        self._w = storage.words
        self.id = next(_ids)
        _registry[self.id] = self

    # -- creation -------------------------------------------------------------

    @classmethod
    def check_spec(cls, spec: MapSpec) -> MapSpec:
        """Validate a spec as the kernel's ``map_alloc_check`` does; may adjust it."""
        return spec

    @classmethod
    def layout(cls, spec: MapSpec) -> Layout:
        """How much data storage a map of this spec needs."""
        raise NotImplementedError

    @classmethod
    def _layout(cls, spec: MapSpec, data_size: int, journal: int = 4096) -> Layout:
        return Layout(
            map_type=int(spec.map_type),
            key_size=spec.key_size,
            value_size=spec.value_size,
            max_entries=spec.max_entries,
            map_flags=spec.flags,
            num_cpus=spec.num_cpus,
            data_size=data_size,
            journal_cap=round8(journal),
            map_extra=spec.map_extra,
        )

    # -- attributes -------------------------------------------------------------

    @property
    def map_type(self) -> MapType:
        return self.spec.map_type

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def key_size(self) -> int:
        return self.spec.key_size

    @property
    def value_size(self) -> int:
        return self.spec.value_size

    @property
    def max_entries(self) -> int:
        return self.spec.max_entries

    @property
    def flags(self) -> int:
        return self.spec.flags

    @property
    def num_cpus(self) -> int:
        return self.spec.num_cpus

    @property
    def storage(self) -> Any:
        """The native buffer (an ``mmap``) a VM registers as this map's memory region."""
        return self._mm

    @property
    def storage_size(self) -> int:
        return self._st.size

    @property
    def user_value_size(self) -> int:
        """Bytes of a value in the user-space view (per-CPU: one rounded slot per CPU)."""
        if self.percpu:
            return round8(self.value_size) * self.num_cpus
        return self.value_size

    @property
    def frozen(self) -> bool:
        return bool(self._w[Word.FROZEN])

    @property
    def prog_readable(self) -> bool:
        return not self.flags & MapFlag.WRONLY_PROG

    @property
    def prog_writable(self) -> bool:
        return not self.flags & MapFlag.RDONLY_PROG

    @property
    def mmapable(self) -> bool:
        return bool(self.flags & MapFlag.MMAPABLE)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} id={self.id} name={self.name!r} type={self.map_type.uapi_name} "
            f"key={self.key_size} value={self.value_size} max_entries={self.max_entries}>"
        )

    # -- errors ----------------------------------------------------------------------

    def _err(self, message: str, code: int = errno.EINVAL) -> MapError:
        if code == errno.EEXIST:
            return MapKeyExistsError(message, map_name=self.name or None)
        return MapError(message, errno=code, map_name=self.name or None)

    def _full(self, message: str = "map is full", code: int = errno.E2BIG) -> MapFullError:
        return MapFullError(message, errno=code, map_name=self.name or None)

    def _enoent(self, message: str = "no such element") -> MapKeyNotFoundError:
        return MapKeyNotFoundError(message, map_name=self.name or None)

    def _unsupported(self, what: str) -> MapError:
        return self._err(f"{what} is not supported by {self.map_type.uapi_name} maps", ENOTSUPP)

    # -- checks -------------------------------------------------------------------------

    def _check_user_read(self) -> None:
        if self.flags & MapFlag.WRONLY:
            raise MapPermissionError("map is write-only from user space", map_name=self.name or None)

    def _check_user_write(self) -> None:
        if self.frozen:
            raise MapPermissionError("map is frozen", map_name=self.name or None)
        if self.flags & MapFlag.RDONLY:
            raise MapPermissionError("map is read-only from user space", map_name=self.name or None)

    def _check_prog_write(self) -> None:
        if self.flags & MapFlag.RDONLY_PROG:
            raise MapPermissionError("map is read-only for programs", map_name=self.name or None)

    def _key(self, key: bytes | bytearray | memoryview | None) -> bytes:
        if key is None:
            if self.key_size == 0:
                return b""
            raise self._err(f"a {self.key_size}-byte key is required")
        if not isinstance(key, bytes | bytearray | memoryview):
            raise self._err(f"key must be bytes, not {type(key).__name__}")
        k = bytes(key)
        if len(k) != self.key_size:
            raise self._err(f"key is {len(k)} bytes, map key_size is {self.key_size}")
        return k

    def _value(self, value: bytes | bytearray | memoryview, size: int | None = None) -> bytes:
        want = self.user_value_size if size is None else size
        if not isinstance(value, bytes | bytearray | memoryview):
            raise self._err(f"value must be bytes, not {type(value).__name__}")
        v = bytes(value)
        if len(v) != want:
            raise self._err(f"value is {len(v)} bytes, expected {want}")
        return v

    def _check_lock_flag(self, flags: int) -> None:
        if flags & BPF_F_LOCK and self.spec.spin_lock_offset is None:
            raise self._err("BPF_F_LOCK on a map whose value has no bpf_spin_lock")

    def _check_lookup_flags(self, flags: int) -> None:
        if flags & ~BPF_F_LOCK:
            raise self._err(f"unknown lookup flags {flags:#x}")
        self._check_lock_flag(flags)

    # -- spin lock: the lock word is never copied in or out ---------------------------

    def _copy_out(self, raw: bytes) -> bytes:
        lo = self.spec.spin_lock_offset
        if lo is None:
            return raw
        return raw[:lo] + b"\0\0\0\0" + raw[lo + 4 :]

    def _write_value(self, off: int, value: bytes, lock: bool = False) -> None:
        """Store ``value`` at ``off`` preserving a bpf_spin_lock word (taken if ``lock``)."""
        lo = self.spec.spin_lock_offset
        if lo is None:
            self._st.put(off, value)
            return
        word = (off + lo) // 4
        if lock:
            self._acquire(word)
        try:
            self._st.put(off, value[:lo])
            self._st.put(off + lo + 4, value[lo + 4 :])
        finally:
            if lock:
                self._w[word] = 0

    def _acquire(self, word: int) -> None:
        deadline = time.monotonic() + 1.0
        while self._w[word]:
            if time.monotonic() > deadline:
                raise self._err("bpf_spin_lock held too long", errno.EBUSY)
            time.sleep(0)
        self._w[word] = 1

    # -- user-space API (bpf(2) semantics) ----------------------------------------------

    def lookup(self, key: bytes | None, flags: int = 0) -> bytes:
        """BPF_MAP_LOOKUP_ELEM: the value (per-CPU: all CPUs' rounded slots)."""
        self._check_user_read()
        self._check_lookup_flags(flags)
        return self._lookup(self._key(key), flags)

    def update(self, key: bytes | None, value: Any, flags: int = 0) -> None:
        """BPF_MAP_UPDATE_ELEM with BPF_ANY / BPF_NOEXIST / BPF_EXIST [| BPF_F_LOCK]."""
        self._check_user_write()
        self._check_lock_flag(flags)
        self._update(self._key(key), self._user_value(value), flags)

    def delete(self, key: bytes | None) -> None:
        """BPF_MAP_DELETE_ELEM."""
        self._check_user_write()
        self._delete(self._key(key))

    def next_key(self, key: bytes | None) -> bytes | None:
        """BPF_MAP_GET_NEXT_KEY: the key after ``key`` (the first for None); None at the end."""
        self._check_user_read()
        k = None if key is None else self._key(key)
        try:
            return self._next_key(k)
        except MapKeyNotFoundError:
            return None

    def lookup_and_delete(self, key: bytes | None, flags: int = 0) -> bytes:
        """BPF_MAP_LOOKUP_AND_DELETE_ELEM (hash family and queue/stack only)."""
        self._check_user_read()
        self._check_user_write()
        self._check_lookup_flags(flags)
        return self._lookup_and_delete(self._key(key), flags)

    def lookup_percpu(self, key: bytes) -> list[bytes]:
        """Per-CPU maps: one ``value_size`` value per CPU."""
        if not self.percpu:
            raise self._err("lookup_percpu on a map that is not per-CPU")
        flat = self.lookup(key)
        step = round8(self.value_size)
        return [flat[i * step : i * step + self.value_size] for i in range(self.num_cpus)]

    def update_percpu(self, key: bytes, values: Sequence[bytes], flags: int = 0) -> None:
        """Per-CPU maps: set each CPU's value (``num_cpus`` values of ``value_size``)."""
        if not self.percpu:
            raise self._err("update_percpu on a map that is not per-CPU")
        if len(values) != self.num_cpus:
            raise self._err(f"{len(values)} per-CPU values given, map has {self.num_cpus} CPUs")
        pad = round8(self.value_size) - self.value_size
        flat = b"".join(self._value(v, self.value_size) + b"\0" * pad for v in values)
        self.update(key, flat, flags)

    def freeze(self) -> None:
        """BPF_MAP_FREEZE: user space may no longer write; programs still may."""
        if self.spec.spin_lock_offset is not None:
            raise self._err("maps with special fields (bpf_spin_lock) cannot be frozen", ENOTSUPP)
        if self.frozen or self.flags & MapFlag.RDONLY:
            raise MapPermissionError("map is already frozen or read-only", map_name=self.name or None)
        with self._st.txn():
            self._st.put_word(Word.FROZEN, 1)

    # -- batches (the kernel's generic_map_*_batch, cursor = last key) ---------------------

    def _batch_keys(self, cursor: bytes | None, count: int) -> list[bytes]:
        keys: list[bytes] = []
        k = self.next_key(cursor)
        while k is not None and len(keys) < count:
            keys.append(k)
            if len(keys) < count:
                k = self.next_key(k)
        return keys

    def lookup_batch(self, count: int, cursor: bytes | None = None) -> BatchResult:
        """BPF_MAP_LOOKUP_BATCH: up to ``count`` elements after ``cursor``."""
        self._check_user_read()
        if count < 0:
            raise self._err("batch count must be >= 0")
        keys = self._batch_keys(cursor, count)
        values = [self._lookup(k, 0) for k in keys]
        more = bool(keys) and len(keys) == count and self.next_key(keys[-1]) is not None
        return BatchResult(keys, values, keys[-1] if more else None)

    def lookup_and_delete_batch(self, count: int, cursor: bytes | None = None) -> BatchResult:
        """BPF_MAP_LOOKUP_AND_DELETE_BATCH (hash family)."""
        self._check_user_read()
        self._check_user_write()
        if count < 0:
            raise self._err("batch count must be >= 0")
        res = self._lookup_and_delete_batch(count, cursor)
        return res

    def _lookup_and_delete_batch(self, count: int, cursor: bytes | None) -> BatchResult:
        raise self._unsupported("lookup_and_delete_batch")

    def update_batch(self, keys: Sequence[bytes], values: Sequence[Any], flags: int = 0) -> int:
        """BPF_MAP_UPDATE_BATCH: returns the number updated; MapBatchError part way."""
        if len(keys) != len(values):
            raise self._err("update_batch needs as many values as keys")
        if flags & ~BPF_F_LOCK:
            # The kernel's batch elem_flags take BPF_F_LOCK only (no NOEXIST/EXIST per batch).
            raise MapBatchError(self._err(f"batch element flags {flags:#x}: only BPF_F_LOCK is allowed"), 0)
        done = 0
        for k, v in zip(keys, values, strict=True):
            try:
                self.update(k, v, flags)
            except MapError as exc:
                raise MapBatchError(exc, done) from exc
            done += 1
        return done

    def delete_batch(self, keys: Sequence[bytes]) -> int:
        """BPF_MAP_DELETE_BATCH: returns the number deleted; MapBatchError part way."""
        done = 0
        for k in keys:
            try:
                self.delete(k)
            except MapError as exc:
                raise MapBatchError(exc, done) from exc
            done += 1
        return done

    # -- iteration --------------------------------------------------------------------------

    def iter_keys(self) -> Iterator[bytes]:
        """Every key, in next_key order."""
        k = self.next_key(None)
        while k is not None:
            yield k
            k = self.next_key(k)

    def __iter__(self) -> Iterator[bytes]:
        return self.iter_keys()

    def __len__(self) -> int:
        return sum(1 for _ in self.iter_keys())

    # -- program-side API (the VM) ------------------------------------------------------

    def value_offset(self, key: bytes) -> int | None:
        """Offset in ``storage`` of ``key``'s value (bpf_map_lookup_elem), None if absent."""
        return None

    def value_offset_cpu(self, key: bytes, cpu: int) -> int | None:
        """Per-CPU maps: the offset of ``cpu``'s copy of the value."""
        if self.percpu:
            raise NotImplementedError
        return self.value_offset(key)

    def prog_update(self, key: bytes, value: bytes, flags: int = 0, cpu: int = 0) -> None:
        """bpf_map_update_elem from a program (per-CPU maps: this CPU's copy)."""
        self._check_prog_write()
        if flags & BPF_F_LOCK:
            self._check_lock_flag(flags)
        self._prog_update(self._key(key), self._value(value, self.value_size), flags, cpu)

    def prog_delete(self, key: bytes) -> None:
        """bpf_map_delete_elem from a program."""
        self._check_prog_write()
        self._delete(self._key(key))

    def _prog_update(self, key: bytes, value: bytes, flags: int, cpu: int) -> None:
        self._update(key, value, flags)

    def _check_cpu(self, cpu: int) -> None:
        if not 0 <= cpu < self.num_cpus:
            raise self._err(f"cpu {cpu} out of range (map has {self.num_cpus} CPUs)")

    # -- hooks -----------------------------------------------------------------------------

    def _user_value(self, value: Any) -> bytes:
        return self._value(value)

    def _lookup(self, key: bytes, flags: int) -> bytes:
        raise self._unsupported("lookup")

    def _update(self, key: bytes, value: bytes, flags: int) -> None:
        raise self._unsupported("update")

    def _delete(self, key: bytes) -> None:
        raise self._unsupported("delete")

    def _next_key(self, key: bytes | None) -> bytes:
        raise self._unsupported("next_key")

    def _lookup_and_delete(self, key: bytes, flags: int) -> bytes:
        raise self._unsupported("lookup_and_delete")

    # -- lifetime -------------------------------------------------------------------------

    def close(self) -> None:
        """Release the storage (an exported buffer keeps it alive until released)."""
        _registry.pop(self.id, None)
        self._st.close()

    def __enter__(self) -> Map:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
