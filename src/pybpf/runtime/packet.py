"""A packet in VM memory, with room to grow at both ends.

The kernel keeps a frame in one buffer: headroom, optional metadata, the data,
tailroom.  Programs see pointers ``data_meta <= data <= data_end`` into it, and
helpers such as ``bpf_xdp_adjust_head`` move those bounds.  :class:`PacketBuffer`
is that buffer mapped as one VM region: the bounds are offsets into it, and
observers (the context region's pointer slots, the VM's LD_ABS view) are told
whenever a helper moves them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from ..errors import BPFError
from ..vm.memory import AddressSpace, Perm, Region


class PacketError(BPFError):
    """A packet that does not fit the buffer the program type gives it."""


class PacketBuffer:
    """Packet bytes in a VM region; ``meta <= data <= end`` are offsets into :attr:`buf`."""

    def __init__(
        self,
        memory: AddressSpace,
        packet: bytes,
        *,
        headroom: int,
        tailroom: int,
        meta_len: int = 0,
        capacity: int | None = None,
        growable: bool = False,
        reserved_head: int = 0,
        name: str = "packet",
    ) -> None:
        if meta_len > headroom:
            raise PacketError(f"metadata of {meta_len} bytes does not fit {headroom} bytes of headroom")
        size = headroom + len(packet) - meta_len + tailroom
        if capacity is not None:
            if capacity < size:
                raise PacketError(f"packet of {len(packet)} bytes does not fit a {capacity}-byte frame")
            size = capacity
        self.memory = memory
        self.buf = bytearray(size)
        self.meta = headroom - meta_len
        self.data = headroom
        self.end = self.meta + len(packet)
        self.buf[self.meta : self.end] = packet
        self.tailroom = tailroom
        self.growable = growable
        self.reserved_head = reserved_head
        self.region: Region = memory.add(name, self.buf, Perm.RW)
        self.observers: list[Callable[[PacketBuffer], None]] = []
        #: ids of the VMs whose LD_ABS view already follows this packet (one observer each).
        self.followers: set[int] = set()

    # -- views -------------------------------------------------------------
    @property
    def base(self) -> int:
        return self.region.base

    def address(self, offset: int) -> int:
        return self.region.base + offset

    @property
    def length(self) -> int:
        return self.end - self.data

    @property
    def meta_len(self) -> int:
        return self.data - self.meta

    @property
    def hard_end(self) -> int:
        """Furthest ``end`` may move (the tailroom stays reserved)."""
        return len(self.buf) - self.tailroom

    def payload(self) -> bytes:
        """data .. data_end."""
        return bytes(self.buf[self.data : self.end])

    def with_meta(self) -> bytes:
        """data_meta .. data_end (what XDP test_run returns as data_out)."""
        return bytes(self.buf[self.meta : self.end])

    def view(self) -> memoryview:
        """A live view of data .. data_end (LD_ABS reads through it)."""
        return memoryview(self.buf)[self.data : self.end]

    # -- changes -----------------------------------------------------------
    def set_bounds(self, *, meta: int | None = None, data: int | None = None, end: int | None = None) -> None:
        """Move the bounds and tell the observers (callers have checked the kernel's limits)."""
        if meta is not None:
            self.meta = meta
        if data is not None:
            self.data = data
        if end is not None:
            self.end = end
        self.notify()

    def notify(self) -> None:
        for observer in self.observers:
            observer(self)

    def ensure_tailroom(self, extra: int) -> bool:
        """Make ``end + extra`` fit, reallocating a growable buffer; False when it cannot."""
        need = self.end + extra + self.tailroom
        if need <= len(self.buf):
            return True
        if not self.growable:
            return False
        self.buf = self.buf + bytes(need - len(self.buf))  # a new buffer: old views stay valid
        self.region = self.memory.rebind(self.region, self.buf)
        return True

    def ensure_headroom(self, extra: int) -> bool:
        """Make ``meta - extra >= reserved_head``, moving the bytes of a growable buffer."""
        if self.meta - extra >= self.reserved_head:
            return True
        if not self.growable:
            return False
        shift = extra - (self.meta - self.reserved_head)
        self.buf = bytearray(shift) + self.buf
        self.meta += shift
        self.data += shift
        self.end += shift
        self.region = self.memory.rebind(self.region, self.buf)
        return True

    def close(self) -> None:
        """Unmap the packet's region."""
        with contextlib.suppress(BPFError):
            self.memory.remove(self.region)
