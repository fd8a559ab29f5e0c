"""Legacy packet loads (LD_ABS / LD_IND), as the kernel runs them for socket filters.

They read 1, 2 or 4 bytes of the packet in network byte order into r0.  An
offset outside the packet does not fault: the kernel ends the program with
r0 = 0, and so does the VM (the caller sees ``None`` and returns 0).
"""

from __future__ import annotations


def load_packet(packet: bytes | bytearray | memoryview, offset: int, size: int) -> int | None:
    """Big-endian value of ``size`` bytes at ``offset`` (a signed 32-bit value), or None."""
    offset &= 0xFFFFFFFF
    if offset >> 31:
        return None  # negative offsets (SKF_NET_OFF, SKF_LL_OFF) are not supported: out of bounds
    if offset + size > len(packet):
        return None
    return int.from_bytes(packet[offset : offset + size], "big")
