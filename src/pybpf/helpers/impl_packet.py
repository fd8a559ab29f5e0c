"""Packet helpers for XDP and sk_buff programs, with the kernel's bounds and errno rules.

The packet of the run is ``runtime.run.packet`` (a
:class:`~pybpf.runtime.packet.PacketBuffer`); sk_buff state (mac/network offsets,
hardware VLAN tag, hash) is ``runtime.run.extra["skb"]``.  Helpers that move the
packet bounds notify the context, which rewrites its pointer slots and ``len``.
"""

from __future__ import annotations

import errno
import itertools
import zlib
from typing import Any

from ..errors import MapError
from ..progtypes.skb import ETH_HLEN, TcAction
from ..progtypes.xdp import XDP_METADATA_MAX, XdpAction
from ..runtime.contexts import ETH_P_8021AD, ETH_P_8021Q, ETH_P_IP, ETH_P_IPV6, SkbContext
from ..runtime.packet import PacketBuffer
from ..runtime.state import runtime_of
from ..uapi import ProgType
from ..vm.context import CallContext
from .impl_common import U32, A, HelperDef, neg, proto, s32, s64

ENOTSUPP = 524  # kernel-internal errno some skb helpers return
BPF_F_RECOMPUTE_CSUM = 1
BPF_F_INVALIDATE_HASH = 2
BPF_F_HDR_FIELD_MASK = 0xF
BPF_F_PSEUDO_HDR = 0x10
BPF_F_MARK_MANGLED_0 = 0x20
BPF_F_MARK_ENFORCE = 0x40
BPF_F_INGRESS = 1
BPF_HDR_START_MAC, BPF_HDR_START_NET = 0, 1
BPF_ADJ_ROOM_NET, BPF_ADJ_ROOM_MAC = 0, 1
BPF_F_ADJ_ROOM_MASK = 0x1FF | (0xFF << 56)
BPF_F_ADJ_ROOM_NO_CSUM_RESET = 1 << 5
BPF_SKB_MAX_LEN = 0xFFFF + 14  # lo: mtu 65536 + hard_header_len, capped by the 16-bit offsets
CSUM_MANGLED_0 = 0xFFFF


# -- checksum arithmetic (RFC 1071 / 1624, byte-order independent) ---------


def csum_add(a: int, b: int) -> int:
    s = (a & U32) + (b & U32)
    return (s + (s >> 32)) & U32


def csum_fold(csum: int) -> int:
    """Fold a 32-bit partial sum to 16 bits and complement it (the checksum field value)."""
    s = (csum & 0xFFFF) + (csum >> 16 & 0xFFFF)
    s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def csum_partial(data: bytes, seed: int = 0) -> int:
    """One's complement sum of little-endian 32-bit words (x86 csum_partial), folded to 32 bits."""
    if len(data) % 4:
        data += bytes(4 - len(data) % 4)
    total = seed & U32
    for i in range(0, len(data), 4):
        total += int.from_bytes(data[i : i + 4], "little")
    while total >> 32:
        total = (total & U32) + (total >> 32)
    return total


def csum_replace(check: int, old: int, new: int, size: int) -> int:
    """The updated 16-bit checksum after a ``size``-byte field changed from ``old`` to ``new``."""
    if size == 2:
        s = (~check & 0xFFFF) + (~old & 0xFFFF) + (new & 0xFFFF)
        s = (s & 0xFFFF) + (s >> 16)
        s = (s & 0xFFFF) + (s >> 16)
        return ~s & 0xFFFF
    tmp = csum_add(~check & 0xFFFF, ~old & U32)
    return csum_fold(csum_add(tmp, new))


def csum_replace_by_diff(check: int, diff: int) -> int:
    return csum_fold(csum_add(diff, ~check & 0xFFFF))


# -- access helpers ---------------------------------------------------------


def _packet(ctx: CallContext) -> PacketBuffer:
    return runtime_of(ctx).packet()


def _skb(ctx: CallContext) -> SkbContext:
    skb = runtime_of(ctx).run.extra.get("skb")
    if not isinstance(skb, SkbContext):
        from ..runtime.state import RuntimeStateError

        raise RuntimeStateError("this helper needs an sk_buff, and the run has none")
    return skb


def _is_xdp(ctx: CallContext) -> bool:
    spec = runtime_of(ctx).run.spec
    return spec is not None and spec.prog_type is ProgType.XDP


# -- XDP ----------------------------------------------------------------------

"""Largest metadata bpf_xdp_adjust_meta accepts: kernels since 6.x bound it by the u8
skb_shared_info.meta_len (xdp_metalen_invalid), no longer by 32 bytes."""


def xdp_adjust_head(ctx: CallContext, xdp: int, offset: int, r3: int, r4: int, r5: int) -> int:
    p = _packet(ctx)
    delta = s32(offset)
    data = p.data + delta
    if data < p.reserved_head + p.meta_len or data > p.end - ETH_HLEN:
        return neg(errno.EINVAL)
    metalen = p.meta_len
    if metalen:
        p.buf[p.meta + delta : p.meta + delta + metalen] = p.buf[p.meta : p.meta + metalen]
    p.set_bounds(meta=p.meta + delta, data=data)
    return 0


def xdp_adjust_meta(ctx: CallContext, xdp: int, offset: int, r3: int, r4: int, r5: int) -> int:
    p = _packet(ctx)
    meta = p.meta + s32(offset)
    if meta < p.reserved_head or meta > p.data:
        return neg(errno.EINVAL)
    metalen = p.data - meta
    if metalen % 4 or metalen > XDP_METADATA_MAX:
        return neg(errno.EACCES)
    p.set_bounds(meta=meta)
    return 0


def xdp_adjust_tail(ctx: CallContext, xdp: int, offset: int, r3: int, r4: int, r5: int) -> int:
    p = _packet(ctx)
    delta = s32(offset)
    end = p.end + delta
    if end > p.hard_end or end < p.data + ETH_HLEN:
        return neg(errno.EINVAL)
    if delta > 0:
        p.buf[p.end : end] = bytes(delta)
    p.set_bounds(end=end)
    return 0


def _xdp_range(p: PacketBuffer, offset: int, length: int) -> int | None:
    if offset > 0xFFFF or length > 0xFFFF:
        return neg(errno.EFAULT)
    if offset + length > p.length:
        return neg(errno.EINVAL)
    return None


def xdp_load_bytes(ctx: CallContext, xdp: int, offset: int, buf: int, length: int, r5: int) -> int:
    p = _packet(ctx)
    err = _xdp_range(p, offset & U32, length & U32)
    if err is not None:
        return err
    start = p.data + offset
    ctx.memory.write(buf, bytes(p.buf[start : start + length]))
    return 0


def xdp_store_bytes(ctx: CallContext, xdp: int, offset: int, buf: int, length: int, r5: int) -> int:
    p = _packet(ctx)
    err = _xdp_range(p, offset & U32, length & U32)
    if err is not None:
        return err
    start = p.data + offset
    p.buf[start : start + length] = ctx.memory.read(buf, length)
    return 0


def xdp_get_buff_len(ctx: CallContext, xdp: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return _packet(ctx).length


# -- redirect -----------------------------------------------------------------


def redirect(ctx: CallContext, ifindex: int, flags: int, r3: int, r4: int, r5: int) -> int:
    """Remember the target; XDP_REDIRECT / TC_ACT_REDIRECT, or the abort verdict for bad flags."""
    run = runtime_of(ctx).run
    if _is_xdp(ctx):
        if flags:
            return int(XdpAction.ABORTED)
        run.redirect_ifindex, run.redirect_flags = ifindex & U32, 0
        return int(XdpAction.REDIRECT)
    if flags & ~BPF_F_INGRESS:
        return int(TcAction.SHOT)
    run.redirect_ifindex, run.redirect_flags = ifindex & U32, flags
    return int(TcAction.REDIRECT)


def redirect_map(ctx: CallContext, map_handle: int, key: int, flags: int, r4: int, r5: int) -> int:
    """Redirect to a devmap/cpumap/xskmap entry; a missing entry returns the action in the low flag bits."""
    runtime = runtime_of(ctx)
    bpf_map: Any = runtime.map_of(map_handle)
    fallback = flags & 0x3
    try:
        value = bpf_map.lookup((key & U32).to_bytes(4, "little"))
    except (MapError, KeyError):
        return fallback
    runtime.run.redirect_ifindex = int.from_bytes(bytes(value)[:4], "little")
    runtime.run.redirect_flags = flags
    return int(XdpAction.REDIRECT) if _is_xdp(ctx) else int(TcAction.REDIRECT)


# -- sk_buff data ------------------------------------------------------------


def skb_load_bytes(ctx: CallContext, skb_ptr: int, offset: int, to: int, length: int, r5: int) -> int:
    p = _packet(ctx)
    off = offset & U32
    if off > 0xFFFF or off + length > p.length:
        ctx.memory.write(to, bytes(length))
        return neg(errno.EFAULT)
    ctx.memory.write(to, bytes(p.buf[p.data + off : p.data + off + length]))
    return 0


def skb_load_bytes_relative(
    ctx: CallContext, skb_ptr: int, offset: int, to: int, length: int, start: int
) -> int:
    skb = _skb(ctx)
    p = skb.packet
    if start > BPF_HDR_START_NET or offset > 0xFFFF:
        ctx.memory.write(to, bytes(length))
        return neg(errno.EFAULT)
    base = skb.mac if start == BPF_HDR_START_MAC else skb.net
    begin = base + (offset & U32)
    if begin < skb.mac or begin + length > p.end:
        ctx.memory.write(to, bytes(length))
        return neg(errno.EFAULT)
    ctx.memory.write(to, bytes(p.buf[begin : begin + length]))
    return 0


def skb_store_bytes(ctx: CallContext, skb_ptr: int, offset: int, frm: int, length: int, flags: int) -> int:
    skb = _skb(ctx)
    p = skb.packet
    off = offset & U32
    if flags & ~(BPF_F_RECOMPUTE_CSUM | BPF_F_INVALIDATE_HASH):
        return neg(errno.EINVAL)
    if off > 0xFFFF or off + length > p.length:
        return neg(errno.EFAULT)
    p.buf[p.data + off : p.data + off + length] = ctx.memory.read(frm, length)
    if flags & BPF_F_INVALIDATE_HASH:
        skb.hash = 0
        skb.sync(p)
    return 0


def _csum_field(skb: SkbContext, offset: int) -> int | None:
    p = skb.packet
    off = offset & U32
    if off > 0xFFFF or off + 2 > p.length:
        return None
    return p.data + off


def l3_csum_replace(ctx: CallContext, skb_ptr: int, offset: int, frm: int, to: int, flags: int) -> int:
    skb = _skb(ctx)
    if flags & ~BPF_F_HDR_FIELD_MASK:
        return neg(errno.EINVAL)
    at = _csum_field(skb, offset)
    if at is None:
        return neg(errno.EFAULT)
    buf = skb.packet.buf
    check = int.from_bytes(buf[at : at + 2], "little")
    size = flags & BPF_F_HDR_FIELD_MASK
    if size == 0:
        if frm:
            return neg(errno.EINVAL)
        new = csum_replace_by_diff(check, to)
    elif size in (2, 4):
        new = csum_replace(check, frm, to, size)
    else:
        return neg(errno.EINVAL)
    buf[at : at + 2] = new.to_bytes(2, "little")
    return 0


def l4_csum_replace(ctx: CallContext, skb_ptr: int, offset: int, frm: int, to: int, flags: int) -> int:
    skb = _skb(ctx)
    allowed = BPF_F_MARK_MANGLED_0 | BPF_F_MARK_ENFORCE | BPF_F_PSEUDO_HDR | BPF_F_HDR_FIELD_MASK
    if flags & ~allowed:
        return neg(errno.EINVAL)
    at = _csum_field(skb, offset)
    if at is None:
        return neg(errno.EFAULT)
    buf = skb.packet.buf
    check = int.from_bytes(buf[at : at + 2], "little")
    mangled = bool(flags & BPF_F_MARK_MANGLED_0)
    if mangled and check == 0:
        return 0  # a UDP datagram without checksum stays without
    size = flags & BPF_F_HDR_FIELD_MASK
    if size == 0:
        new = csum_replace_by_diff(check, to)
    elif size in (2, 4):
        new = csum_replace(check, frm, to, size)
    else:
        return neg(errno.EINVAL)
    if mangled and new == 0:
        new = CSUM_MANGLED_0
    buf[at : at + 2] = new.to_bytes(2, "little")
    return 0


def csum_diff(ctx: CallContext, frm: int, from_size: int, to: int, to_size: int, seed: int) -> int:
    """The kernel's (6.12+) bpf_csum_diff: ``to`` summed in, ``from`` subtracted, folded to 16 bits.

    Since Linux 6.12 sizes need not be multiples of 4 and the result is folded with
    csum_from32to16, the same on every architecture.
    """
    old = ctx.memory.read(frm, from_size) if from_size else b""
    new = ctx.memory.read(to, to_size) if to_size else b""
    ret = seed & U32
    if from_size and to_size:
        ret = csum_add(csum_partial(new, ret), ~csum_partial(old) & U32)
    elif to_size:
        ret = csum_partial(new, ret)
    elif from_size:
        ret = ~csum_partial(old, ~ret & U32) & U32
    return csum_from32to16(ret)


def csum_from32to16(value: int) -> int:
    """Fold a 32-bit sum to 16 bits with end-around carry (the kernel's csum_from32to16)."""
    value &= U32
    value = (value + ((value >> 16) | (value << 16) & U32)) & U32
    return value >> 16


def csum_update(ctx: CallContext, skb_ptr: int, csum: int, r3: int, r4: int, r5: int) -> int:
    """Only meaningful for CHECKSUM_COMPLETE skbs; test_run skbs are CHECKSUM_NONE: returns -ENOTSUPP."""
    _skb(ctx)
    return neg(ENOTSUPP)


# -- sk_buff metadata ----------------------------------------------------------


def _flow_hash(skb: SkbContext, seed: int) -> int:
    p = skb.packet
    net = bytes(p.buf[skb.net : p.end])
    proto = int.from_bytes(skb.protocol.to_bytes(2, "little"), "big")
    key = b""
    if proto == ETH_P_IP and len(net) >= 20:
        ihl = (net[0] & 0xF) * 4
        key = net[12:20] + net[9:10] + net[ihl : ihl + 4]
    elif proto == ETH_P_IPV6 and len(net) >= 40:
        key = net[8:40] + net[6:7] + net[40:44]
    else:
        return 0
    value = zlib.crc32(key, seed) & U32
    return value or 1


def get_hash_recalc(ctx: CallContext, skb_ptr: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """The flow hash (computed from addresses, protocol and ports, seeded per runtime)."""
    runtime = runtime_of(ctx)
    skb = _skb(ctx)
    if not skb.hash:
        seed = runtime.run.extra.setdefault("hash_seed", runtime.random.getrandbits(32))
        skb.hash = _flow_hash(skb, seed)
        skb.sync(skb.packet)
    return skb.hash


def set_hash_invalid(ctx: CallContext, skb_ptr: int, r2: int, r3: int, r4: int, r5: int) -> int:
    skb = _skb(ctx)
    skb.hash = 0
    skb.sync(skb.packet)
    return 0


def set_hash(ctx: CallContext, skb_ptr: int, value: int, r3: int, r4: int, r5: int) -> int:
    skb = _skb(ctx)
    skb.hash = value & U32
    skb.sync(skb.packet)
    return 0


def _raw16(value: int) -> int:
    """A host-order ethertype as the big-endian u16 a program passes (bpf_htons)."""
    return int.from_bytes(value.to_bytes(2, "big"), "little")


def _insert_vlan(skb: SkbContext, proto_raw: int, tci: int) -> None:
    p = skb.packet
    before = p.data
    p.ensure_headroom(4)
    skb.mac += p.data - before  # a reallocation shifts every offset
    skb.net += p.data - before
    mac = skb.mac
    p.buf[mac - 4 : mac + 8] = p.buf[mac : mac + 12]  # move the MAC addresses 4 bytes down
    p.buf[mac + 8 : mac + 10] = proto_raw.to_bytes(2, "little")
    p.buf[mac + 10 : mac + 12] = tci.to_bytes(2, "big")
    skb.mac -= 4
    p.data -= 4
    p.meta = min(p.meta, p.data)
    skb.protocol = proto_raw


def _pop_vlan(skb: SkbContext) -> int:
    """Remove the in-band tag after the MAC addresses; return its TCI."""
    p = skb.packet
    mac = skb.mac
    tci = int.from_bytes(p.buf[mac + 14 : mac + 16], "big")
    p.buf[mac + 4 : mac + 16] = p.buf[mac : mac + 12]
    skb.mac += 4
    p.data += 4
    p.meta = max(p.meta, p.data) if p.meta > p.data else p.data
    skb.protocol = int.from_bytes(p.buf[mac + 16 : mac + 18], "little")
    return tci


def _is_vlan(raw: int) -> bool:
    return raw in (_raw16(ETH_P_8021Q), _raw16(ETH_P_8021AD))


def skb_vlan_push(ctx: CallContext, skb_ptr: int, vlan_proto: int, vlan_tci: int, r4: int, r5: int) -> int:
    skb = _skb(ctx)
    proto_raw = vlan_proto & 0xFFFF
    if not _is_vlan(proto_raw):
        return neg(errno.EINVAL)
    if skb.vlan_present:
        if not skb.is_l2:
            return neg(errno.EINVAL)
        _insert_vlan(skb, skb.vlan_proto, skb.vlan_tci)
    skb.vlan_present, skb.vlan_proto, skb.vlan_tci = True, proto_raw, vlan_tci & 0xFFFF
    skb.sync(skb.packet)
    return 0


def skb_vlan_pop(ctx: CallContext, skb_ptr: int, r2: int, r3: int, r4: int, r5: int) -> int:
    skb = _skb(ctx)
    p = skb.packet
    if skb.vlan_present:
        skb.vlan_present, skb.vlan_tci, skb.vlan_proto = False, 0, 0
    else:
        if not _is_vlan(skb.protocol) or not skb.is_l2:
            return 0
        _pop_vlan(skb)
    if _is_vlan(skb.protocol) and skb.is_l2:  # move the next tag into the hardware slot
        proto_raw = skb.protocol
        tci = _pop_vlan(skb)
        skb.vlan_present, skb.vlan_proto, skb.vlan_tci = True, proto_raw, tci
    skb.sync(p)
    return 0


def skb_change_tail(ctx: CallContext, skb_ptr: int, new_len: int, flags: int, r4: int, r5: int) -> int:
    skb = _skb(ctx)
    p = skb.packet
    min_len = skb.net - p.data if skb.net >= p.data else 0
    if flags or new_len > BPF_SKB_MAX_LEN or new_len < min_len:
        return neg(errno.EINVAL)
    grow = new_len - p.length
    if grow > 0:
        p.ensure_tailroom(grow)
        p.buf[p.end : p.end + grow] = bytes(grow)
    p.set_bounds(end=p.data + new_len)
    return 0


def skb_pull_data(ctx: CallContext, skb_ptr: int, length: int, r3: int, r4: int, r5: int) -> int:
    """The VM's skbs are always linear: nothing to pull; fails only past the end."""
    p = _packet(ctx)
    return 0 if length <= p.length else neg(errno.ENOMEM)


def skb_adjust_room(ctx: CallContext, skb_ptr: int, len_diff: int, mode: int, flags: int, r5: int) -> int:
    """Grow or shrink room after the MAC header (MAC mode) or after the L3 header (NET mode)."""
    skb = _skb(ctx)
    p = skb.packet
    diff = s32(len_diff)
    if flags & ~(BPF_F_ADJ_ROOM_MASK | BPF_F_ADJ_ROOM_NO_CSUM_RESET):
        return neg(errno.EINVAL)
    if abs(diff) > 0xFFF:
        return neg(errno.EFAULT)
    proto = int.from_bytes(skb.protocol.to_bytes(2, "little"), "big")
    if proto not in (ETH_P_IP, ETH_P_IPV6):
        return neg(ENOTSUPP)
    net_base = 20 if proto == ETH_P_IP else 40
    off = skb.net - skb.mac
    if mode == BPF_ADJ_ROOM_NET:
        off += net_base
    elif mode != BPF_ADJ_ROOM_MAC:
        return neg(ENOTSUPP)
    length = p.end - p.data
    len_cur = p.end - skb.net
    if diff < 0 and (-diff >= len_cur or len_cur + diff < net_base):
        return neg(ENOTSUPP)
    if diff > 0 and length + diff > BPF_SKB_MAX_LEN:
        return neg(ENOTSUPP)
    at = skb.mac + off
    if diff > 0:
        p.ensure_tailroom(diff)
        at = skb.mac + off
        p.buf[at + diff : p.end + diff] = p.buf[at : p.end]
        p.buf[at : at + diff] = bytes(diff)
    else:
        p.buf[at : p.end + diff] = p.buf[at - diff : p.end]
    p.set_bounds(end=p.end + diff)
    return 0


def get_cgroup_classid(ctx: CallContext, skb_ptr: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return 0


_SOCKET_COOKIES = itertools.count(1)
"""Cookies are handed out from one global counter on first use, as the kernel's sock_gen_cookie."""


def get_socket_cookie(ctx: CallContext, skb_ptr: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """test_run gives every run a fresh dummy socket; its cookie is generated on first use (non-zero)."""
    extra = runtime_of(ctx).run.extra
    if "socket_cookie" not in extra:
        extra["socket_cookie"] = next(_SOCKET_COOKIES)
    return int(extra["socket_cookie"])


def get_socket_uid(ctx: CallContext, skb_ptr: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return runtime_of(ctx).task.uid


_SKB = A.PTR_TO_CTX
HELPERS = (
    HelperDef("xdp_adjust_head", proto(A.PTR_TO_CTX, A.ANYTHING), xdp_adjust_head),
    HelperDef("xdp_adjust_meta", proto(A.PTR_TO_CTX, A.ANYTHING), xdp_adjust_meta),
    HelperDef("xdp_adjust_tail", proto(A.PTR_TO_CTX, A.ANYTHING), xdp_adjust_tail),
    HelperDef(
        "xdp_load_bytes", proto(A.PTR_TO_CTX, A.ANYTHING, A.PTR_TO_UNINIT_MEM, A.CONST_SIZE), xdp_load_bytes
    ),
    HelperDef(
        "xdp_store_bytes", proto(A.PTR_TO_CTX, A.ANYTHING, A.PTR_TO_MEM, A.CONST_SIZE), xdp_store_bytes
    ),
    HelperDef("xdp_get_buff_len", proto(A.PTR_TO_CTX), xdp_get_buff_len),
    HelperDef("redirect", proto(A.ANYTHING, A.ANYTHING), redirect),
    HelperDef("redirect_map", proto(A.CONST_MAP_PTR, A.ANYTHING, A.ANYTHING), redirect_map),
    HelperDef("skb_load_bytes", proto(_SKB, A.ANYTHING, A.PTR_TO_UNINIT_MEM, A.CONST_SIZE), skb_load_bytes),
    HelperDef(
        "skb_load_bytes_relative",
        proto(_SKB, A.ANYTHING, A.PTR_TO_UNINIT_MEM, A.CONST_SIZE, A.ANYTHING),
        skb_load_bytes_relative,
    ),
    HelperDef(
        "skb_store_bytes", proto(_SKB, A.ANYTHING, A.PTR_TO_MEM, A.CONST_SIZE, A.ANYTHING), skb_store_bytes
    ),
    HelperDef(
        "l3_csum_replace", proto(_SKB, A.ANYTHING, A.ANYTHING, A.ANYTHING, A.ANYTHING), l3_csum_replace
    ),
    HelperDef(
        "l4_csum_replace", proto(_SKB, A.ANYTHING, A.ANYTHING, A.ANYTHING, A.ANYTHING), l4_csum_replace
    ),
    HelperDef(
        "csum_diff",
        proto(
            A.PTR_TO_MEM_OR_NULL, A.CONST_SIZE_OR_ZERO, A.PTR_TO_MEM_OR_NULL, A.CONST_SIZE_OR_ZERO, A.ANYTHING
        ),
        csum_diff,
    ),
    HelperDef("csum_update", proto(_SKB, A.ANYTHING), csum_update),
    HelperDef("get_hash_recalc", proto(_SKB), get_hash_recalc),
    HelperDef("set_hash_invalid", proto(_SKB), set_hash_invalid),
    HelperDef("set_hash", proto(_SKB, A.ANYTHING), set_hash),
    HelperDef("skb_vlan_push", proto(_SKB, A.ANYTHING, A.ANYTHING), skb_vlan_push),
    HelperDef("skb_vlan_pop", proto(_SKB), skb_vlan_pop),
    HelperDef("skb_change_tail", proto(_SKB, A.ANYTHING, A.ANYTHING), skb_change_tail),
    HelperDef("skb_pull_data", proto(_SKB, A.ANYTHING), skb_pull_data),
    HelperDef("skb_adjust_room", proto(_SKB, A.ANYTHING, A.ANYTHING, A.ANYTHING), skb_adjust_room),
    HelperDef("get_cgroup_classid", proto(_SKB), get_cgroup_classid),
    HelperDef("get_socket_cookie", proto(A.PTR_TO_CTX), get_socket_cookie),
    HelperDef("get_socket_uid", proto(_SKB), get_socket_uid),
)

__all__ = ["HELPERS", "csum_add", "csum_diff", "csum_fold", "csum_partial", "csum_replace", "s64"]
