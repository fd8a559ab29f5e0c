"""Socket-buffer program types and ``struct __sk_buff`` (linux/bpf.h).

One member table, four permission variants, following the kernel's
``sk_filter_is_valid_access``, ``tc_cls_act_is_valid_access`` and
``cg_skb_is_valid_access`` on top of ``bpf_skb_is_valid_access``: which members a
type may read, which it may write (always with a full-width store), and which
yield packet pointers.
"""

from __future__ import annotations

from dataclasses import replace
from enum import IntEnum

from ..uapi import ProgType
from .base import (
    CGROUP_SKB_HELPERS,
    SOCKET_FILTER_HELPERS,
    TC_HELPERS,
    CtxField,
    CtxLayout,
    FieldKind,
    ProgTypeSpec,
    ReturnKind,
    ReturnRule,
)

SK_BUFF_SIZE = 192
ETH_HLEN = 14


class TcAction(IntEnum):
    """TC_ACT_* (linux/pkt_cls.h)."""

    UNSPEC = -1
    OK = 0
    RECLASSIFY = 1
    SHOT = 2
    PIPE = 3
    STOLEN = 4
    QUEUED = 5
    REPEAT = 6
    REDIRECT = 7
    TRAP = 8


def _u32(name: str, off: int, count: int = 1, kind: FieldKind = FieldKind.SCALAR) -> CtxField:
    return CtxField(name, off, 4, count, kind=kind, narrow_read=not kind.is_pointer)


_SKB_FIELDS: tuple[CtxField, ...] = (
    _u32("len", 0),
    _u32("pkt_type", 4),
    _u32("mark", 8),
    _u32("queue_mapping", 12),
    _u32("protocol", 16),
    _u32("vlan_present", 20),
    _u32("vlan_tci", 24),
    _u32("vlan_proto", 28),
    _u32("priority", 32),
    _u32("ingress_ifindex", 36),
    _u32("ifindex", 40),
    _u32("tc_index", 44),
    CtxField("cb", 48, 4, 5, any_size=True),
    _u32("hash", 68),
    _u32("tc_classid", 72),
    _u32("data", 76, kind=FieldKind.PACKET),
    _u32("data_end", 80, kind=FieldKind.PACKET_END),
    _u32("napi_id", 84),
    _u32("family", 88),
    # bpf_skb_is_valid_access(): the addresses are read whole (size == 4), no narrow loads.
    CtxField("remote_ip4", 92, 4, narrow_read=False),
    CtxField("local_ip4", 96, 4, narrow_read=False),
    CtxField("remote_ip6", 100, 4, 4, narrow_read=False),
    CtxField("local_ip6", 116, 4, 4, narrow_read=False),
    _u32("remote_port", 132),
    _u32("local_port", 136),
    _u32("data_meta", 140, kind=FieldKind.PACKET_META),
    CtxField("flow_keys", 144, 8, kind=FieldKind.FLOW_KEYS, readable=False, narrow_read=False),
    CtxField("tstamp", 152, 8, narrow_read=False),
    _u32("wire_len", 160),
    _u32("gso_segs", 164),
    CtxField("sk", 168, 8, kind=FieldKind.SOCKET, narrow_read=False),
    _u32("gso_size", 176),
    CtxField("tstamp_type", 180, 1),  # tc only, read with a 1-byte load (tc_cls_act_is_valid_access)
    CtxField("hwtstamp", 184, 8, narrow_read=False),
)

_SOCK_FIELDS = ("family", "remote_ip4", "local_ip4", "remote_ip6", "local_ip6", "remote_port", "local_port")


def _variant(unreadable: set[str], writable: set[str]) -> CtxLayout:
    fields = []
    for f in _SKB_FIELDS:
        readable = f.readable and f.name not in unreadable
        fields.append(f.with_access(readable=readable, writable=readable and f.name in writable))
    return CtxLayout("struct __sk_buff", SK_BUFF_SIZE, tuple(fields))


SOCKET_FILTER_SKB = _variant(
    {"tc_classid", "data", "data_end", "data_meta", *_SOCK_FIELDS, "tstamp", "wire_len", "hwtstamp"}
    | {"tstamp_type"},
    {"cb"},
)
TC_SKB = _variant(
    set(_SOCK_FIELDS),
    {"mark", "tc_index", "priority", "tc_classid", "cb", "tstamp", "queue_mapping"},
)
CGROUP_SKB = _variant(
    {"tc_classid", "data_meta", "wire_len", "tstamp_type"}, {"mark", "priority", "cb", "tstamp"}
)

SOCKET_FILTER_RETURNS = ReturnRule(ReturnKind.TRUNCATE)
TC_RETURNS = ReturnRule(
    ReturnKind.ACTION,
    tuple((int(a), f"TC_ACT_{a.name}") for a in TcAction),
    unknown_means="unknown action (cls_bpf treats it as TC_ACT_UNSPEC)",
)
CGROUP_SKB_RETURNS = ReturnRule(ReturnKind.VERDICT, ((0, "drop"), (1, "allow")), allowed_range=(0, 1))
#: Egress programs (expected_attach_type BPF_CGROUP_INET_EGRESS) may also ask for congestion notification.
CGROUP_SKB_EGRESS_RETURNS = ReturnRule(
    ReturnKind.VERDICT,
    ((0, "drop"), (1, "allow"), (2, "drop, congestion notification"), (3, "allow, congestion notification")),
    allowed_range=(0, 3),
)

SOCKET_FILTER_SPEC = ProgTypeSpec(
    ProgType.SOCKET_FILTER,
    SOCKET_FILTER_SKB,
    SOCKET_FILTER_RETURNS,
    SOCKET_FILTER_HELPERS,
    ld_abs=True,
    description="socket filter: the return value is how many bytes of the packet to keep",
)
SCHED_CLS_SPEC = ProgTypeSpec(
    ProgType.SCHED_CLS,
    TC_SKB,
    TC_RETURNS,
    TC_HELPERS,
    packet_access=True,
    ld_abs=True,
    description="tc classifier (direct-action): returns a TC_ACT_* verdict",
)
SCHED_ACT_SPEC = ProgTypeSpec(
    ProgType.SCHED_ACT,
    TC_SKB,
    TC_RETURNS,
    TC_HELPERS,
    packet_access=True,
    ld_abs=True,
    description="tc action: returns a TC_ACT_* verdict",
)
CGROUP_SKB_SPEC = ProgTypeSpec(
    ProgType.CGROUP_SKB,
    CGROUP_SKB,
    CGROUP_SKB_RETURNS,
    CGROUP_SKB_HELPERS,
    packet_access=True,
    description="cgroup ingress/egress filter: 1 allows the packet, 0 drops it",
)
CGROUP_SKB_EGRESS_SPEC = replace(CGROUP_SKB_SPEC, returns=CGROUP_SKB_EGRESS_RETURNS)
