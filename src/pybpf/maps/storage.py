"""Native storage behind every map: one mmap with a header, an undo journal and data.

Layout (all little-endian, offsets in bytes)::

    0      header: HEADER_WORDS u32 words (see :class:`Word`)
    128    journal: u32 entry count, u32 bytes used, then entries
           (u64 offset, u32 length, u32 pad, old bytes rounded up to 8)
    data   page-aligned; the map family decides what lives here

Why a journal: a map backed by a file (a pinned map) outlives the process that
writes it.  Every mutation goes through :meth:`Storage.put` inside
:meth:`Storage.txn`; for a file-backed storage ``put`` first appends the bytes it is
about to overwrite to the journal, publishes the entry by bumping the aligned u32
entry count, and only then writes in place.  Committing resets the count.  A
process killed at any point leaves either an empty journal (the update is whole)
or entries that :meth:`Storage.open` rolls back (the old value is whole): never a
torn value.  Anonymous storage dies with its process, so it writes directly and
pays nothing for this.

Everything another process must see (element count, free list, LRU list heads,
frozen bit) lives in the header words, never in Python attributes.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import mmap
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum

from pybpf.errors import MapError

PAGE_SIZE = mmap.PAGESIZE
MAGIC = 0x46504250  # "PBPF"
LAYOUT_VERSION = 1
HEADER_WORDS = 32
JOURNAL_OFFSET = HEADER_WORDS * 4
_JOURNAL_HEAD = 8
_ENTRY_HEAD = struct.Struct("<QII")
_NO_TXN: contextlib.nullcontext[None] = contextlib.nullcontext()


class Word(IntEnum):
    """Index of each u32 header word."""

    MAGIC = 0
    VERSION = 1
    MAP_TYPE = 2
    KEY_SIZE = 3
    VALUE_SIZE = 4
    MAX_ENTRIES = 5
    MAP_FLAGS = 6
    NUM_CPUS = 7
    DATA_OFFSET = 8
    JOURNAL_CAP = 9
    GENERATION = 10
    FROZEN = 11
    COUNT = 12
    FREE_HEAD = 13
    BUMP = 14
    LRU_HEAD = 15
    LRU_TAIL = 16
    AUX0 = 17
    AUX1 = 18
    AUX2 = 19
    MAP_EXTRA_LO = 20
    MAP_EXTRA_HI = 21
    SPIN_LOCK = 22  # bpf_spin_lock offset + 1 (0: none)


def round8(n: int) -> int:
    """Round up to a multiple of 8 (the kernel's value alignment)."""
    return (n + 7) & ~7


def round_page(n: int) -> int:
    """Round up to a multiple of the page size."""
    return (n + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE


@dataclass(frozen=True)
class Layout:
    """What a storage holds: recorded in the header so a reopen can check it."""

    map_type: int
    key_size: int
    value_size: int
    max_entries: int
    map_flags: int
    num_cpus: int
    data_size: int
    journal_cap: int = 4096
    map_extra: int = 0

    @property
    def data_offset(self) -> int:
        return round_page(JOURNAL_OFFSET + _JOURNAL_HEAD + self.journal_cap)

    @property
    def total_size(self) -> int:
        return self.data_offset + round_page(max(self.data_size, 8))


class Storage:
    """An mmap (anonymous or file-backed) holding one map, with journaled writes."""

    def __init__(self, mm: mmap.mmap, *, path: str | None, fd: int | None) -> None:
        self.mm = mm
        self.path = path
        self._fd = fd
        self.journaled = path is not None
        self.words = memoryview(mm).cast("I")
        self.data_offset = self.words[Word.DATA_OFFSET]
        self._txn_depth = 0
        self._journal_cap = self.words[Word.JOURNAL_CAP]

    # -- creation ----------------------------------------------------------

    @classmethod
    def create(cls, layout: Layout, path: str | None = None) -> Storage:
        """New zeroed storage for ``layout``: anonymous, or a new file at ``path``."""
        size = layout.total_size
        fd: int | None = None
        try:
            if path is None:
                mm = mmap.mmap(-1, size)
            else:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
                os.ftruncate(fd, size)
                mm = mmap.mmap(fd, size)
        except (OSError, OverflowError, ValueError) as exc:
            if fd is not None:
                os.close(fd)
            code = exc.errno if isinstance(exc, OSError) and exc.errno else errno.ENOMEM
            raise MapError(f"cannot allocate {size} bytes of map storage: {exc}", errno=code) from exc
        w = memoryview(mm).cast("I")
        try:
            w[Word.MAGIC] = MAGIC
            w[Word.VERSION] = LAYOUT_VERSION
            w[Word.MAP_TYPE] = layout.map_type
            w[Word.KEY_SIZE] = layout.key_size
            w[Word.VALUE_SIZE] = layout.value_size
            w[Word.MAX_ENTRIES] = layout.max_entries
            w[Word.MAP_FLAGS] = layout.map_flags
            w[Word.NUM_CPUS] = layout.num_cpus
            w[Word.DATA_OFFSET] = layout.data_offset
            w[Word.JOURNAL_CAP] = layout.journal_cap
            w[Word.MAP_EXTRA_LO] = layout.map_extra & 0xFFFFFFFF
            w[Word.MAP_EXTRA_HI] = layout.map_extra >> 32
        finally:
            w.release()
        return cls(mm, path=path, fd=fd)

    @classmethod
    def open(cls, path: str) -> Storage:
        """Open an existing file-backed storage, rolling back an interrupted update."""
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError as exc:
            raise MapError(f"cannot open map storage {path}: {exc.strerror}", errno=exc.errno) from exc
        try:
            size = os.fstat(fd).st_size
            if size < PAGE_SIZE:
                raise MapError(f"{path} is too small to be map storage", errno=errno.EINVAL)
            mm = mmap.mmap(fd, size)
        except OSError as exc:
            os.close(fd)
            raise MapError(f"cannot map {path}: {exc.strerror}", errno=exc.errno) from exc
        except MapError:
            os.close(fd)
            raise
        magic = struct.unpack_from("<II", mm, 0)
        if magic != (MAGIC, LAYOUT_VERSION):
            mm.close()
            os.close(fd)
            raise MapError(f"{path} is not pybpf map storage (layout {LAYOUT_VERSION})", errno=errno.EINVAL)
        st = cls(mm, path=path, fd=fd)
        with st.locked():
            st.recover()
        return st

    def layout(self) -> Layout:
        """The layout recorded in the header."""
        w = self.words
        return Layout(
            map_type=w[Word.MAP_TYPE],
            key_size=w[Word.KEY_SIZE],
            value_size=w[Word.VALUE_SIZE],
            max_entries=w[Word.MAX_ENTRIES],
            map_flags=w[Word.MAP_FLAGS],
            num_cpus=w[Word.NUM_CPUS],
            data_size=len(self.mm) - self.data_offset,
            journal_cap=w[Word.JOURNAL_CAP],
            map_extra=w[Word.MAP_EXTRA_LO] | (w[Word.MAP_EXTRA_HI] << 32),
        )

    # -- writes --------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, mode: int = fcntl.LOCK_EX) -> Iterator[None]:
        """Exclusive (or, with LOCK_SH, shared) access against other processes sharing the file.

        A no-op for anonymous storage.
        """
        if self._fd is None:
            yield
            return
        fcntl.flock(self._fd, mode)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def txn(self) -> contextlib.AbstractContextManager[None]:
        """Group writes into one all-or-nothing update (journaled when file-backed).

        Anonymous storage gets a shared no-op context: the hot path stays cheap.
        """
        if not self.journaled:
            return _NO_TXN
        return self._journal_txn()

    @contextlib.contextmanager
    def _journal_txn(self) -> Iterator[None]:
        if self._txn_depth:
            self._txn_depth += 1
            try:
                yield
            finally:
                self._txn_depth -= 1
            return
        with self.locked():
            self._txn_depth = 1
            try:
                # Under the lock no live writer is mid-update: entries left in the
                # journal are a killed writer's; undo them before ours can commit them.
                self.recover()
                yield
            except BaseException:
                # A Python-level failure mid-update: undo what was written.
                self.recover()
                raise
            else:
                self._commit()
            finally:
                self._txn_depth = 0

    def reading(self) -> contextlib.AbstractContextManager[None]:
        """Hold a shared lock for one user-space read of a file-backed map.

        Writers hold the exclusive lock for a whole update, so a lookup or a
        next_key under the shared one never walks a chain another process is
        relinking, nor reads a value half-written.  A half-done update a killed
        process left is rolled back first (:meth:`heal`).  Anonymous storage (and
        a read inside this process's own update) needs nothing.
        """
        if self._fd is None or self._txn_depth:
            return _NO_TXN
        self.heal()
        return self.locked(fcntl.LOCK_SH)

    def heal(self) -> None:
        """Roll back an update a killed process left half-done (cheap when there is none).

        A process that opened the map before another one died mid-update would
        otherwise read the torn bytes until someone reopens it.  A non-empty
        journal may also be a live writer's: taking the lock waits for it to
        commit, and then there is nothing left to undo.
        """
        if not self.journaled or self._txn_depth or not self.words[JOURNAL_OFFSET // 4]:
            return
        with self.locked():
            self.recover()

    def put(self, off: int, data: bytes) -> None:
        """Write ``data`` at ``off`` (journaling the old bytes when file-backed)."""
        n = len(data)
        if self._txn_depth:
            self._log(off, n)
        self.mm[off : off + n] = data

    def put_word(self, index: int, value: int) -> None:
        """Write u32 word ``index`` (byte offset ``4 * index``)."""
        if self._txn_depth:
            self._log(index * 4, 4)
        self.words[index] = value

    def _log(self, off: int, n: int) -> None:
        w = self.words
        jbase = JOURNAL_OFFSET + _JOURNAL_HEAD
        used = w[JOURNAL_OFFSET // 4 + 1]
        need = _ENTRY_HEAD.size + round8(n)
        if used + need > self._journal_cap:
            raise MapError("update too large for the map journal", errno=errno.ENOMEM)
        pos = jbase + used
        _ENTRY_HEAD.pack_into(self.mm, pos, off, n, 0)
        self.mm[pos + _ENTRY_HEAD.size : pos + _ENTRY_HEAD.size + n] = self.mm[off : off + n]
        w[JOURNAL_OFFSET // 4 + 1] = used + need
        # Publishing the entry is this one aligned store; the write happens after it.
        w[JOURNAL_OFFSET // 4] += 1

    def _commit(self) -> None:
        w = self.words
        w[JOURNAL_OFFSET // 4] = 0
        w[JOURNAL_OFFSET // 4 + 1] = 0
        w[Word.GENERATION] = (w[Word.GENERATION] + 1) & 0xFFFFFFFF

    def recover(self) -> int:
        """Roll back the entries of an interrupted update; returns how many."""
        w = self.words
        count = w[JOURNAL_OFFSET // 4]
        entries: list[tuple[int, int, int]] = []
        pos = JOURNAL_OFFSET + _JOURNAL_HEAD
        for _ in range(count):
            off, n, _pad = _ENTRY_HEAD.unpack_from(self.mm, pos)
            entries.append((off, n, pos + _ENTRY_HEAD.size))
            pos += _ENTRY_HEAD.size + round8(n)
        for off, n, src in reversed(entries):
            self.mm[off : off + n] = self.mm[src : src + n]
        w[JOURNAL_OFFSET // 4] = 0
        w[JOURNAL_OFFSET // 4 + 1] = 0
        if count:
            w[Word.GENERATION] = (w[Word.GENERATION] + 1) & 0xFFFFFFFF
        return count

    # -- lifetime --------------------------------------------------------------

    @property
    def size(self) -> int:
        return len(self.mm)

    def close(self) -> None:
        """Unmap (and close the file).  Fails quietly while a VM still exports the buffer."""
        self.words.release()
        try:
            self.mm.close()
        except BufferError:
            self.words = memoryview(self.mm).cast("I")
            return
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
