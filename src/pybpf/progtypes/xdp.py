"""BPF_PROG_TYPE_XDP: ``struct xdp_md`` and the XDP actions (linux/bpf.h).

Every xdp_md member is a read-only ``__u32`` that must be read with a 4-byte load
(``__is_valid_xdp_access``); ``data``, ``data_end`` and ``data_meta`` yield packet
pointers.  ``egress_ifindex`` is only readable by programs attached to a devmap.
"""

from __future__ import annotations

from enum import IntEnum

from ..uapi import ProgType
from .base import (
    XDP_HELPERS,
    CtxField,
    CtxLayout,
    FieldKind,
    ProgTypeSpec,
    ReturnKind,
    ReturnRule,
)

XDP_PACKET_HEADROOM = 256
"""Bytes the kernel reserves in front of an XDP frame; ``xdp_adjust_head`` grows into them."""

XDP_METADATA_MAX = 255
"""Largest metadata area (``xdp_metalen_invalid``: skb_shared_info.meta_len is a u8); it must
also leave room for struct xdp_frame in the headroom, so a test run allows up to 216 bytes."""


class XdpAction(IntEnum):
    """enum xdp_action."""

    ABORTED = 0
    DROP = 1
    PASS = 2
    TX = 3
    REDIRECT = 4


def _xdp_fields(devmap: bool) -> tuple[CtxField, ...]:
    def u32(name: str, off: int, kind: FieldKind = FieldKind.SCALAR, readable: bool = True) -> CtxField:
        return CtxField(name, off, 4, kind=kind, readable=readable, narrow_read=False)

    return (
        u32("data", 0, FieldKind.PACKET),
        u32("data_end", 4, FieldKind.PACKET_END),
        u32("data_meta", 8, FieldKind.PACKET_META),
        u32("ingress_ifindex", 12),
        u32("rx_queue_index", 16),
        u32("egress_ifindex", 20, readable=devmap),
    )


XDP_MD = CtxLayout("struct xdp_md", 24, _xdp_fields(devmap=False))
XDP_MD_DEVMAP = CtxLayout("struct xdp_md", 24, _xdp_fields(devmap=True))

XDP_RETURNS = ReturnRule(
    ReturnKind.ACTION,
    tuple((int(a), f"XDP_{a.name}") for a in XdpAction),
    unknown_means="invalid action, treated as XDP_ABORTED",
)

XDP_SPEC = ProgTypeSpec(
    ProgType.XDP,
    XDP_MD,
    XDP_RETURNS,
    XDP_HELPERS,
    packet_access=True,
    description="eXpress Data Path: runs on a raw frame in the driver",
)

XDP_DEVMAP_SPEC = ProgTypeSpec(
    ProgType.XDP,
    XDP_MD_DEVMAP,
    XDP_RETURNS,
    XDP_HELPERS,
    packet_access=True,
    description="XDP program attached to a devmap entry (may read egress_ifindex)",
)
