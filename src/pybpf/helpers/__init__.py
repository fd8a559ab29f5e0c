"""Helper functions a BPF program calls by id: the registry and its vocabulary."""

from __future__ import annotations

from .registry import (
    ArgType,
    HelperImpl,
    HelperProto,
    HelperRegistry,
    HelperSpec,
    RetType,
    default_registry,
    helper_name,
)

__all__ = [
    "ArgType",
    "HelperImpl",
    "HelperProto",
    "HelperRegistry",
    "HelperSpec",
    "RetType",
    "default_registry",
    "helper_name",
]
