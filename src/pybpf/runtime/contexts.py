"""Context regions for each program family, laid out as ``progtypes`` describes.

A context region is the UAPI struct followed by the 8-byte pointer slots that
rewritten loads of ``data``/``data_end``/``data_meta`` read
(:class:`~pybpf.progtypes.base.CtxLayout`).  Packet contexts keep those slots,
``len`` and the VLAN fields in step with the packet whenever a helper moves it.
"""

from __future__ import annotations

import contextlib
import struct
from dataclasses import dataclass, field

from ..errors import BPFError
from ..progtypes.base import CtxLayout, FieldKind, ProgTypeSpec
from ..progtypes.skb import ETH_HLEN
from ..progtypes.xdp import XDP_PACKET_HEADROOM
from ..vm.memory import AddressSpace, Perm, Region
from .packet import PacketBuffer

XDP_FRAME_SIZE = 40  # sizeof(struct xdp_frame): adjust_head may not eat into it
SKB_SHARED_INFO_SIZE = 320  # SKB_DATA_ALIGN(sizeof(struct skb_shared_info)): reserved tailroom
XDP_FRAME_BYTES = 4096  # the test_run frame: headroom + data + tailroom in one page
_ZERO_XDP_FRAME = bytes(XDP_FRAME_BYTES)
NET_SKB_PAD = 64
LOOPBACK_IFINDEX = 1

ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
ETH_P_8021Q = 0x8100
ETH_P_8021AD = 0x88A8
PACKET_HOST, PACKET_BROADCAST, PACKET_MULTICAST, PACKET_OTHERHOST = 0, 1, 2, 3


_pack_u64 = struct.Struct("<Q").pack_into


def _offset(layout: CtxLayout, name: str) -> int:
    return layout.field(name).offset


def pointer_slots(layout: CtxLayout) -> dict[FieldKind, tuple[int, ...]]:
    """Pointer kind -> offsets of its slots in the context region."""
    out: dict[FieldKind, list[int]] = {}
    for member in layout.pointer_fields:
        out.setdefault(member.kind, []).append(layout.shadow_offset(member))
    return {kind: tuple(offsets) for kind, offsets in out.items()}


@dataclass(slots=True)
class CtxRegion:
    """The bytes of a context and the region the program sees them through."""

    layout: CtxLayout
    buf: bytearray
    region: Region
    #: Offsets of the 8-byte pointer slots of each pointer kind (computed once: syncs are per run).
    slots: dict[FieldKind, tuple[int, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.slots:
            self.slots = pointer_slots(self.layout)

    @property
    def address(self) -> int:
        return self.region.base

    def set_u32(self, name: str, value: int) -> None:
        struct.pack_into("<I", self.buf, _offset(self.layout, name), value & 0xFFFFFFFF)

    def get_u32(self, name: str) -> int:
        return int(struct.unpack_from("<I", self.buf, _offset(self.layout, name))[0])

    def set_u64(self, name: str, value: int) -> None:
        struct.pack_into("<Q", self.buf, _offset(self.layout, name), value & 0xFFFFFFFFFFFFFFFF)

    def get_u64(self, name: str) -> int:
        return int(struct.unpack_from("<Q", self.buf, _offset(self.layout, name))[0])

    def set_pointer(self, kind: FieldKind, address: int) -> None:
        for offset in self.slots.get(kind, ()):
            _pack_u64(self.buf, offset, address)

    def uapi_bytes(self) -> bytes:
        return bytes(self.buf[: self.layout.size])


def make_ctx_region(
    memory: AddressSpace, layout: CtxLayout, init: bytes = b"", *, writable: bool
) -> CtxRegion:
    buf = bytearray(layout.region_size)
    buf[: len(init)] = init[: layout.size]
    region = memory.add(f"ctx:{layout.name}", buf, Perm.RW if writable else Perm.READ)
    return CtxRegion(layout, buf, region)


def make_plain_ctx(memory: AddressSpace, data: bytes, name: str) -> CtxRegion:
    """A read-only context that is just bytes (tracepoint record, pt_regs, u64 args)."""
    layout = CtxLayout(name, len(data), ())
    buf = bytearray(data)
    region = memory.add(f"ctx:{name}", buf, Perm.READ)
    return CtxRegion(layout, buf, region)


# -- XDP -------------------------------------------------------------------


@dataclass(slots=True)
class XdpContext:
    """An xdp_buff: the frame and the read-only xdp_md the program sees."""

    packet: PacketBuffer
    ctx: CtxRegion
    ingress_ifindex: int = 0
    rx_queue_index: int = 0
    #: Slot offsets of data, data_end and data_meta (looked up once: sync runs on every run).
    pointer_slots: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]] = ((), (), ())

    def __post_init__(self) -> None:
        slots = self.ctx.slots
        self.pointer_slots = (
            slots.get(FieldKind.PACKET, ()),
            slots.get(FieldKind.PACKET_END, ()),
            slots.get(FieldKind.PACKET_META, ()),
        )

    def sync(self, packet: PacketBuffer) -> None:
        buf = self.ctx.buf
        base = packet.region.base
        data_slots, end_slots, meta_slots = self.pointer_slots
        for slot in data_slots:
            _pack_u64(buf, slot, base + packet.data)
        for slot in end_slots:
            _pack_u64(buf, slot, base + packet.end)
        for slot in meta_slots:
            _pack_u64(buf, slot, base + packet.meta)

    def reset(self, frame: bytes, *, meta_len: int, ingress_ifindex: int, rx_queue_index: int) -> None:
        """Make this context what :func:`make_xdp_context` would build for ``frame``, in place.

        test_run gives every call a fresh zeroed page; reusing the page (zeroed
        again, same base address) and the read-only xdp_md is the same thing,
        without mapping two regions per call.
        """
        packet = self.packet
        buf = packet.buf
        buf[:] = _ZERO_XDP_FRAME
        meta = XDP_PACKET_HEADROOM - meta_len
        end = meta + len(frame)
        buf[meta:end] = frame
        packet.meta, packet.data, packet.end = meta, XDP_PACKET_HEADROOM, end
        if (ingress_ifindex, rx_queue_index) != (self.ingress_ifindex, self.rx_queue_index):
            # xdp_md is read-only for programs, so only these two members ever change.
            self.ingress_ifindex = ingress_ifindex
            self.rx_queue_index = rx_queue_index
            self.ctx.set_u32("ingress_ifindex", ingress_ifindex)
            self.ctx.set_u32("rx_queue_index", rx_queue_index)
        packet.notify()

    def reusable(self) -> bool:
        """True while the frame is still the fixed page make_xdp_context mapped."""
        return len(self.packet.buf) == XDP_FRAME_BYTES and self.packet.region.buffer is self.packet.buf

    def close(self) -> None:
        """Unmap the frame and the context."""
        self.packet.close()
        with contextlib.suppress(BPFError):
            self.packet.memory.remove(self.ctx.region)

    def xdp_md_out(self, ctx_in: bytes) -> bytes:
        """The xdp_md test_run hands back: data/data_end relative to data_meta."""
        out = bytearray(ctx_in.ljust(self.ctx.layout.size, b"\0")[: self.ctx.layout.size])
        p = self.packet
        struct.pack_into("<III", out, 0, p.data - p.meta, p.end - p.meta, 0)
        struct.pack_into("<II", out, 12, self.ingress_ifindex, self.rx_queue_index)
        return bytes(out)


def make_xdp_context(
    memory: AddressSpace,
    spec: ProgTypeSpec,
    frame: bytes,
    *,
    meta_len: int = 0,
    ingress_ifindex: int = 0,
    rx_queue_index: int = 0,
) -> XdpContext:
    packet = PacketBuffer(
        memory,
        frame,
        headroom=XDP_PACKET_HEADROOM,
        tailroom=SKB_SHARED_INFO_SIZE,
        meta_len=meta_len,
        capacity=XDP_FRAME_BYTES,
        reserved_head=XDP_FRAME_SIZE,
        name="xdp frame",
    )
    # test_run places data_meta at the headroom boundary: data = data_meta + meta_len
    packet.meta, packet.data = XDP_PACKET_HEADROOM - meta_len, XDP_PACKET_HEADROOM
    packet.end = packet.data + len(frame) - meta_len
    ctx = make_ctx_region(memory, spec.ctx, writable=False)
    xdp = XdpContext(packet, ctx, ingress_ifindex, rx_queue_index)
    ctx.set_u32("ingress_ifindex", ingress_ifindex)
    ctx.set_u32("rx_queue_index", rx_queue_index)
    packet.observers.append(xdp.sync)
    xdp.sync(packet)
    return xdp


# -- sk_buff ---------------------------------------------------------------


@dataclass(slots=True)
class SkbContext:
    """An sk_buff: packet with mac/network offsets, hardware VLAN tag, hash, and the __sk_buff."""

    packet: PacketBuffer
    ctx: CtxRegion
    is_l2: bool
    mac: int = 0  # offsets into packet.buf
    net: int = 0
    vlan_present: bool = False
    vlan_tci: int = 0
    vlan_proto: int = 0  # network byte order value as stored (bpf_htons(0x8100) == 0x0081)
    hash: int = 0
    protocol: int = 0  # as __sk_buff.protocol reads it (network order in a u32)
    extras: dict[str, int] = field(default_factory=dict)

    @property
    def length(self) -> int:
        return self.packet.end - self.packet.data

    def sync(self, packet: PacketBuffer) -> None:
        c = self.ctx
        c.set_pointer(FieldKind.PACKET, packet.address(packet.data))
        c.set_pointer(FieldKind.PACKET_END, packet.address(packet.end))
        c.set_pointer(FieldKind.PACKET_META, packet.address(packet.meta))
        c.set_u32("len", packet.end - packet.data)
        c.set_u32("protocol", self.protocol)
        c.set_u32("vlan_present", int(self.vlan_present))
        c.set_u32("vlan_tci", self.vlan_tci)
        c.set_u32("vlan_proto", self.vlan_proto)
        c.set_u32("hash", self.hash)


ETH_P_802_3_MIN = 0x0600
ETH_P_802_3 = 0x0001
ETH_P_802_2 = 0x0004


def _eth_proto_raw(frame: bytes) -> int:
    """__sk_buff.protocol as eth_type_trans sets it, read as the u32 the context holds.

    A field below 0x600 is an 802.3 length, not an EtherType: the kernel then
    reports ETH_P_802_3 for a raw Novell frame (payload starting 0xFFFF) and
    ETH_P_802_2 otherwise -- also when the payload is too short to tell.
    """
    proto = int.from_bytes(frame[12:14], "big")
    if proto < ETH_P_802_3_MIN:
        proto = ETH_P_802_3 if frame[14:16] == b"\xff\xff" else ETH_P_802_2
    return int.from_bytes(proto.to_bytes(2, "big"), "little")


def _pkt_type(frame: bytes) -> int:
    dst = frame[:6]
    if dst == b"\xff" * 6:
        return PACKET_BROADCAST
    if dst[0] & 1:
        return PACKET_MULTICAST
    return PACKET_OTHERHOST if dst != bytes(6) else PACKET_HOST  # lo's address is all zeros


def make_skb_context(
    memory: AddressSpace, spec: ProgTypeSpec, frame: bytes, *, is_l2: bool, ctx_in: bytes = b""
) -> SkbContext:
    """The skb BPF_PROG_TEST_RUN builds: eth_type_trans, then the header pushed back for L2 types."""
    packet = PacketBuffer(
        memory, frame, headroom=NET_SKB_PAD, tailroom=SKB_SHARED_INFO_SIZE, growable=True, name="skb data"
    )
    ctx = make_ctx_region(memory, spec.ctx, ctx_in, writable=True)
    skb = SkbContext(packet, ctx, is_l2, mac=packet.data, net=packet.data + ETH_HLEN)
    skb.protocol = _eth_proto_raw(frame)
    if not is_l2:
        packet.data += ETH_HLEN  # eth_type_trans pulled the MAC header
        packet.meta = packet.data
    ctx.set_u32("pkt_type", _pkt_type(frame))
    ifindex = ctx.get_u32("ifindex")
    ctx.set_u32("ifindex", ifindex if ifindex > 1 else LOOPBACK_IFINDEX)
    ctx.set_u32("ingress_ifindex", ctx.get_u32("ingress_ifindex"))
    if ctx.get_u32("wire_len") == 0:
        ctx.set_u32("wire_len", len(frame) - (0 if is_l2 else ETH_HLEN))
    ethertype = int.from_bytes(frame[12:14], "big")
    net = frame[ETH_HLEN:]
    if ethertype == ETH_P_IP and len(net) >= 20:
        ctx.set_u32("family", 2)
        ctx.set_u32("remote_ip4", int.from_bytes(net[16:20], "little"))
        ctx.set_u32("local_ip4", int.from_bytes(net[12:16], "little"))
    elif ethertype == ETH_P_IPV6 and len(net) >= 40:
        ctx.set_u32("family", 10)
        o = ctx.layout.field("remote_ip6").offset
        ctx.buf[o : o + 16] = net[24:40]
        o = ctx.layout.field("local_ip6").offset
        ctx.buf[o : o + 16] = net[8:24]
    packet.observers.append(skb.sync)
    skb.sync(packet)
    return skb
