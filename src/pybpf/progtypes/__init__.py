"""Program types: context layouts, return codes and helper sets as data.

``spec_for(ProgType.XDP)`` gives the :class:`ProgTypeSpec` that the context checker,
the VM runtime and the CLI share.
"""

from __future__ import annotations

from ..errors import NotSupportedError
from ..uapi import AttachType, ProgType
from .base import CtxField, CtxLayout, FieldKind, ProgTypeSpec, ReturnKind, ReturnRule
from .skb import (
    CGROUP_SKB_EGRESS_SPEC,
    CGROUP_SKB_SPEC,
    SCHED_ACT_SPEC,
    SCHED_CLS_SPEC,
    SOCKET_FILTER_SPEC,
    TcAction,
)
from .tracing import KPROBE_SPEC, PERF_EVENT_SPEC, RAW_TRACEPOINT_SPEC, TRACEPOINT_SPEC, TRACING_SPEC
from .xdp import XDP_DEVMAP_SPEC, XDP_SPEC, XdpAction

PROG_TYPE_SPECS: dict[ProgType, ProgTypeSpec] = {
    s.prog_type: s
    for s in (
        XDP_SPEC,
        SOCKET_FILTER_SPEC,
        SCHED_CLS_SPEC,
        SCHED_ACT_SPEC,
        CGROUP_SKB_SPEC,
        TRACEPOINT_SPEC,
        RAW_TRACEPOINT_SPEC,
        TRACING_SPEC,
        KPROBE_SPEC,
        PERF_EVENT_SPEC,
    )
}


def spec_for(prog_type: ProgType, attach_type: AttachType | None = None) -> ProgTypeSpec:
    """The spec of a program type, or NotSupportedError naming the types pybpf models."""
    if prog_type is ProgType.XDP and attach_type is not None and attach_type.name == "XDP_DEVMAP":
        return XDP_DEVMAP_SPEC
    if prog_type is ProgType.CGROUP_SKB and attach_type == AttachType.CGROUP_INET_EGRESS:
        return CGROUP_SKB_EGRESS_SPEC
    try:
        return PROG_TYPE_SPECS[prog_type]
    except KeyError:
        known = ", ".join(sorted(t.uapi_name for t in PROG_TYPE_SPECS))
        raise NotSupportedError(
            f"program type {prog_type.uapi_name} has no context model in the VM (supported: {known})"
        ) from None


__all__ = [
    "PROG_TYPE_SPECS",
    "CtxField",
    "CtxLayout",
    "FieldKind",
    "ProgTypeSpec",
    "ReturnKind",
    "ReturnRule",
    "TcAction",
    "XdpAction",
    "spec_for",
]
