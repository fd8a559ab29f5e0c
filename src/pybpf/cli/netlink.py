"""XDP attachments per interface from rtnetlink (RTM_GETLINK dump, IFLA_XDP), in pure Python.

Why netlink: an XDP program attached the legacy way (not through a BPF link)
is only visible in the interface's IFLA_XDP attribute, which is where
``bpftool net show`` reads it too.
"""

from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass

from ..errors import BPFError

NETLINK_ROUTE = 0
RTM_NEWLINK = 16
RTM_GETLINK = 18
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
IFLA_IFNAME = 3
IFLA_XDP = 43
IFLA_XDP_ATTACHED = 2
IFLA_XDP_PROG_ID = 4
IFLA_XDP_DRV_PROG_ID = 5
IFLA_XDP_SKB_PROG_ID = 6
IFLA_XDP_HW_PROG_ID = 7
_MODES = {IFLA_XDP_DRV_PROG_ID: "driver", IFLA_XDP_SKB_PROG_ID: "generic", IFLA_XDP_HW_PROG_ID: "offload"}
_ATTACHED_MODE = {1: "driver", 2: "generic", 3: "offload"}
_NLMSG = struct.Struct("=IHHII")
_IFINFO = struct.Struct("=BxHiII")
_RTA = struct.Struct("=HH")


@dataclass(frozen=True, slots=True)
class XdpAttachment:
    devname: str
    ifindex: int
    mode: str
    prog_id: int


def _attrs(data: bytes, off: int, end: int) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    while off + 4 <= end:
        length, kind = _RTA.unpack_from(data, off)
        if length < 4:
            break
        out[kind & 0x3FFF] = data[off + 4 : off + length]
        off += (length + 3) & ~3
    return out


def xdp_attachments() -> list[XdpAttachment]:
    """Every interface's XDP programs (one entry per mode), by interface index."""
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
    except OSError as exc:
        raise BPFError(f"cannot open an rtnetlink socket: {exc.strerror or exc}") from None
    out: list[XdpAttachment] = []
    with sock:
        sock.bind((0, 0))
        body = _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
        sock.send(
            _NLMSG.pack(_NLMSG.size + len(body), RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 1, os.getpid())
            + body
        )
        done = False
        while not done:
            data = sock.recv(1 << 16)
            off = 0
            while off + _NLMSG.size <= len(data):
                length, mtype, _, _, _ = _NLMSG.unpack_from(data, off)
                if length < _NLMSG.size:
                    done = True
                    break
                if mtype == NLMSG_DONE:
                    done = True
                    break
                if mtype == NLMSG_ERROR:
                    err = struct.unpack_from("=i", data, off + _NLMSG.size)[0]
                    if err:
                        raise BPFError(f"rtnetlink RTM_GETLINK failed: {os.strerror(-err)}")
                elif mtype == RTM_NEWLINK:
                    start = off + _NLMSG.size
                    _, _, ifindex, _, _ = _IFINFO.unpack_from(data, start)
                    attrs = _attrs(data, start + _IFINFO.size, off + length)
                    name = attrs.get(IFLA_IFNAME, b"").split(b"\0", 1)[0].decode()
                    xdp = attrs.get(IFLA_XDP)
                    if xdp:
                        out.extend(_xdp(name, ifindex, xdp))
                off += (length + 3) & ~3
    return sorted(out, key=lambda a: a.ifindex)


def _xdp(name: str, ifindex: int, raw: bytes) -> list[XdpAttachment]:
    nested = _attrs(raw, 0, len(raw))
    attached = nested.get(IFLA_XDP_ATTACHED, b"\0")[0]
    if attached == 0:
        return []
    found = []
    for kind, mode in _MODES.items():
        if kind in nested:
            found.append(XdpAttachment(name, ifindex, mode, struct.unpack("=I", nested[kind][:4])[0]))
    if not found and IFLA_XDP_PROG_ID in nested:
        mode = _ATTACHED_MODE.get(attached, "unknown")
        found.append(XdpAttachment(name, ifindex, mode, struct.unpack("=I", nested[IFLA_XDP_PROG_ID][:4])[0]))
    return found
