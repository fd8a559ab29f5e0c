"""The default helper registry: every helper pybpf implements, under its kernel id.

Families live in ``impl_*`` modules; each exports ``HELPERS`` (name, prototype,
implementation).  Program types restrict which of them a program may call
(:attr:`pybpf.progtypes.base.ProgTypeSpec.helpers`), checked at load time.
"""

from __future__ import annotations

from . import impl_maps, impl_misc, impl_packet, impl_printk, impl_probe, impl_ringbuf, impl_task, impl_time
from .impl_common import HelperDef
from .registry import HelperRegistry

_FAMILIES = (impl_maps, impl_time, impl_task, impl_printk, impl_probe, impl_ringbuf, impl_packet, impl_misc)


def all_helper_defs() -> tuple[HelperDef, ...]:
    """Every implemented helper, family by family."""
    return tuple(d for family in _FAMILIES for d in family.HELPERS)


def build_default_registry() -> HelperRegistry:
    """A fresh registry holding every implemented helper."""
    registry = HelperRegistry()
    for d in all_helper_defs():
        registry.add(d.name, d.impl, d.proto)
    return registry
