"""The VM address space: a sandbox of memory regions a program may touch.

Every byte a BPF program can read or write lives in a :class:`Region`: a stack
frame, the input memory of a run, a context structure, a packet, the value
storage of a map, a ring buffer.  A region is a named window onto a Python
buffer (``bytearray``, ``mmap``, a ctypes array, any writable buffer) that is
*not copied*: a map keeps its values in a native buffer and registers that
buffer here, so the program, the Python API and the JIT see the same bytes.

Address layout
--------------
Each region gets its own 4 GiB *slot*: its base address is ``tag << 32`` where
``tag`` is a small integer above :data:`FIRST_TAG` (so bases look like kernel
pointers, ``0xffff8000_00000000`` and up).  NULL, small integers and garbage
pointers therefore never land in a region, and finding the region of an address
is one shift and one dict lookup: ``space.readable[addr >> 32]`` is the buffer,
``addr & 0xffffffff`` the offset in it.  The interpreter's generated code uses
exactly that fast path, and lets the buffer's own bounds check (``struct``
raising, ``bytearray`` indexing raising) catch overruns, so a correct access
costs no Python-level comparison at all.

``readable`` and ``writable`` are two dicts (tag -> buffer) that stay the same
objects for the life of the address space; adding, removing or re-pointing a
region is a dict store, so per-run regions (the packet of this run, the input
memory) are cheap.  Read-only regions are only in ``readable``: a store to one
misses the ``writable`` dict and faults.

Checked accessors (:meth:`AddressSpace.load`, :meth:`~AddressSpace.store`,
:meth:`~AddressSpace.read`, :meth:`~AddressSpace.write`,
:meth:`~AddressSpace.view`) are for helpers and the reference interpreter: they
raise :class:`~pybpf.errors.MemoryAccessError` with the address and the nearest
region; the VM adds the pc and instruction text when the fault happens inside a
program.
"""

from __future__ import annotations

import contextlib
import mmap
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import IntFlag
from typing import Any, Literal

from ..errors import MemoryAccessError

#: Bits of an address that select the offset inside a region's slot.
SLOT_BITS = 32
SLOT_SIZE = 1 << SLOT_BITS
OFFSET_MASK = SLOT_SIZE - 1
#: Tag of the first slot: bases start at 0xffff8000_00000000.
FIRST_TAG = 0xFFFF8000
LAST_TAG = 0xFFFFFFFF
#: Addresses below this are reported as NULL-pointer dereferences.
NULL_GUARD = 0x10000

#: What a region can hold: any object supporting the buffer protocol.
Buffer = bytearray | bytes | memoryview | mmap.mmap | Any


class Perm(IntFlag):
    """What a program may do with a region."""

    NONE = 0
    READ = 1
    WRITE = 2
    RW = READ | WRITE

    def text(self) -> str:
        return ("r" if self & Perm.READ else "-") + ("w" if self & Perm.WRITE else "-")


@dataclass(frozen=True, slots=True, eq=False)
class Region:
    """One named window of the address space.

    ``buffer`` is what loads and stores touch (a ``bytearray`` or a byte-format
    ``memoryview`` onto the caller's object); ``owner`` is the object the caller
    passed, kept alive as long as the region is mapped.
    """

    name: str
    tag: int
    size: int
    perm: Perm
    buffer: bytearray | memoryview = field(repr=False)
    owner: object = field(default=None, repr=False, compare=False)

    @property
    def base(self) -> int:
        """Address of the region's first byte."""
        return self.tag << SLOT_BITS

    @property
    def end(self) -> int:
        """Address one past the region's last byte."""
        return self.base + self.size

    def contains(self, address: int, size: int = 1) -> bool:
        return self.base <= address and address + size <= self.end

    def describe(self) -> str:
        """``name [base, end) rw``: how errors and traces name the region."""
        return f"{self.name} [{self.base:#x}, {self.end:#x}) {self.perm.text()}"


def as_byte_buffer(obj: Buffer, *, writable: bool) -> bytearray | memoryview:
    """A flat byte view of ``obj`` without copying it.

    bytearray stays itself (indexing it is the fastest path); anything else is
    wrapped in a memoryview cast to unsigned bytes.  ``writable`` demands a
    buffer the program can store into.
    """
    if isinstance(obj, bytearray):
        return obj
    try:
        view = memoryview(obj)
    except TypeError as exc:
        raise MemoryAccessError(f"region buffer must support the buffer protocol: {exc}") from None
    if not view.c_contiguous:
        raise MemoryAccessError("region buffer must be C-contiguous")
    if writable and view.readonly:
        raise MemoryAccessError("region buffer is read-only but the region is writable")
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return view


def _release(region: Region) -> None:
    """Drop the memoryview pybpf made, so the owner (an mmap) can be closed or resized."""
    if isinstance(region.buffer, memoryview):
        # A helper may still hold a view(); then the owner stays exported until it lets go.
        with contextlib.suppress(BufferError):
            region.buffer.release()


class AddressSpace:
    """The regions one program (or one VM) may touch; see the module docstring.

    Not thread-safe: one program runs at a time in one address space.
    """

    def __init__(self) -> None:
        #: tag -> buffer of every readable region (the interpreter's load fast path).
        self.readable: dict[int, bytearray | memoryview] = {}
        #: tag -> buffer of every writable region (the store fast path).
        self.writable: dict[int, bytearray | memoryview] = {}
        self._regions: dict[int, Region] = {}
        self._free: list[int] = []
        self._next_tag = FIRST_TAG

    # -- mapping ------------------------------------------------------------
    def add(self, name: str, buffer: Buffer | int, perm: Perm = Perm.RW) -> Region:
        """Map ``buffer`` (or a new zeroed bytearray of that many bytes) as a region.

        The buffer is used in place, not copied.  Raise MemoryAccessError when
        the buffer is unusable (read-only but ``perm`` has WRITE, larger than
        4 GiB, not a buffer) or when the address space is full.
        """
        if isinstance(buffer, bool) or not isinstance(perm, Perm):
            raise MemoryAccessError(f"region {name!r}: bad buffer or permissions")
        if isinstance(buffer, int):
            if not 0 <= buffer <= SLOT_SIZE:
                raise MemoryAccessError(f"region {name!r}: size {buffer} out of range")
            buf: bytearray | memoryview = bytearray(buffer)
            owner: object = buf
        else:
            buf = as_byte_buffer(buffer, writable=bool(perm & Perm.WRITE))
            owner = buffer
        size = len(buf)
        if size > SLOT_SIZE:
            raise MemoryAccessError(f"region {name!r}: {size} bytes exceed the 4 GiB slot")
        tag = self._take_tag(name)
        region = Region(name, tag, size, perm, buf, owner)
        self._install(region)
        return region

    def remove(self, region: Region) -> None:
        """Unmap ``region``; its slot is reused by a later :meth:`add`.

        The view onto the caller's buffer is released, so an mmap can be closed
        afterwards; the Region object must not be used any more.
        """
        if self._regions.get(region.tag) is not region:
            raise MemoryAccessError(f"region {region.name!r} is not mapped in this address space")
        del self._regions[region.tag]
        self.readable.pop(region.tag, None)
        self.writable.pop(region.tag, None)
        self._free.append(region.tag)
        _release(region)

    def rebind(self, region: Region, buffer: Buffer, perm: Perm | None = None) -> Region:
        """Point an existing region at another buffer (same base address), e.g. the next packet.

        Cheaper than remove + add and keeps pointers into the region's slot valid.
        Returns the new Region object (Region is immutable).
        """
        if self._regions.get(region.tag) is not region:
            raise MemoryAccessError(f"region {region.name!r} is not mapped in this address space")
        perm = region.perm if perm is None else perm
        buf = as_byte_buffer(buffer, writable=bool(perm & Perm.WRITE))
        if len(buf) > SLOT_SIZE:
            raise MemoryAccessError(f"region {region.name!r}: {len(buf)} bytes exceed the 4 GiB slot")
        new = Region(region.name, region.tag, len(buf), perm, buf, buffer)
        self._install(new)
        if new.buffer is not region.buffer:
            _release(region)
        return new

    def _take_tag(self, name: str) -> int:
        if self._free:
            return self._free.pop()
        if self._next_tag > LAST_TAG:
            raise MemoryAccessError(f"region {name!r}: address space is full")
        tag = self._next_tag
        self._next_tag += 1
        return tag

    def _install(self, region: Region) -> None:
        self._regions[region.tag] = region
        if region.perm & Perm.READ:
            self.readable[region.tag] = region.buffer
        else:
            self.readable.pop(region.tag, None)
        if region.perm & Perm.WRITE:
            self.writable[region.tag] = region.buffer
        else:
            self.writable.pop(region.tag, None)

    # -- lookup -------------------------------------------------------------
    def __iter__(self) -> Iterator[Region]:
        return iter(sorted(self._regions.values(), key=lambda r: r.tag))

    def __len__(self) -> int:
        return len(self._regions)

    def find(self, address: int) -> Region | None:
        """The region containing ``address``, or None."""
        region = self._regions.get(address >> SLOT_BITS) if address >= 0 else None
        if region is not None and region.contains(address):
            return region
        return None

    def by_name(self, name: str) -> Region | None:
        """The first mapped region called ``name`` (lowest address), or None."""
        for region in self:
            if region.name == name:
                return region
        return None

    def nearest(self, address: int) -> Region | None:
        """The region whose bytes are closest to ``address`` (for error messages)."""
        best: Region | None = None
        best_dist = -1
        for region in self._regions.values():
            if address < region.base:
                dist = region.base - address
            elif address >= region.end:
                dist = address - region.end + 1
            else:
                return region
            if best is None or dist < best_dist:
                best, best_dist = region, dist
        return best

    # -- checked access (helpers, reference interpreter) --------------------
    def fault(
        self,
        address: int,
        size: int,
        access: Literal["read", "write"],
        *,
        pc: int | None = None,
        insn: str | None = None,
    ) -> MemoryAccessError:
        """The MemoryAccessError describing a bad ``size``-byte ``access`` at ``address``."""
        address &= (1 << 64) - 1
        region = self._regions.get(address >> SLOT_BITS)
        if region is not None and region.contains(address, size):
            what = f"{access} of {size} bytes in a {region.perm.text()} region"
        elif region is not None:
            what = f"{access} of {size} bytes outside the region (offset {address - region.base:#x})"
        elif address < NULL_GUARD:
            what = f"{access} of {size} bytes through a NULL pointer"
        else:
            what = f"{access} of {size} bytes at an unmapped address"
        near = self.nearest(address)
        return MemoryAccessError(
            f"invalid memory access: {what}",
            pc=pc,
            insn=insn,
            address=address,
            region=near.describe() if near is not None else "none (no regions mapped)",
        )

    def _slot(
        self,
        address: int,
        size: int,
        table: dict[int, bytearray | memoryview],
        access: Literal["read", "write"],
    ) -> tuple[bytearray | memoryview, int]:
        if address < 0 or size < 0:
            raise self.fault(address, size, access)
        buf = table.get(address >> SLOT_BITS)
        offset = address & OFFSET_MASK
        if buf is None or offset + size > len(buf):
            raise self.fault(address, size, access)
        return buf, offset

    def load(self, address: int, size: int) -> int:
        """The unsigned little-endian integer of ``size`` bytes at ``address``."""
        buf, off = self._slot(address, size, self.readable, "read")
        return int.from_bytes(buf[off : off + size], "little")

    def store(self, address: int, size: int, value: int) -> None:
        """Store the low ``size`` bytes of ``value`` at ``address``, little-endian."""
        buf, off = self._slot(address, size, self.writable, "write")
        buf[off : off + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")

    def read(self, address: int, size: int) -> bytes:
        """A copy of ``size`` bytes at ``address``."""
        buf, off = self._slot(address, size, self.readable, "read")
        return bytes(buf[off : off + size])

    def write(self, address: int, data: bytes | bytearray | memoryview) -> None:
        """Copy ``data`` to ``address``."""
        buf, off = self._slot(address, len(data), self.writable, "write")
        buf[off : off + len(data)] = data

    def view(self, address: int, size: int, *, writable: bool = False) -> memoryview:
        """A zero-copy memoryview of ``size`` bytes at ``address`` (helpers that fill buffers)."""
        table = self.writable if writable else self.readable
        buf, off = self._slot(address, size, table, "write" if writable else "read")
        return memoryview(buf)[off : off + size]

    def read_cstring(self, address: int, limit: int) -> bytes:
        """Bytes from ``address`` up to (not including) a NUL, at most ``limit`` bytes."""
        buf, off = self._slot(address, 0, self.readable, "read")
        end = min(len(buf), off + limit)
        chunk = bytes(buf[off:end])
        nul = chunk.find(b"\0")
        if nul < 0:
            if end - off < limit:
                raise self.fault(address + len(chunk), 1, "read")
            return chunk
        return chunk[:nul]
