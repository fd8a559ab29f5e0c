"""``extern`` resolution for the VM: the ``.kconfig`` region, ``__ksym`` addresses and kfuncs.

The VM plays the kernel, so the values are settings with host defaults:

* ``LINUX_KERNEL_VERSION``: ``kernel_version`` (default: the host's ``uname -r``
  as KERNEL_VERSION(a, b, c)).
* ``CONFIG_*``: the user's ``kconfig`` mapping first, then the host's
  ``/proc/config.gz`` or ``/boot/config-$(uname -r)`` (unless disabled); a weak
  extern nobody sets is 0, a strong one is an :class:`ExternError` naming it.
* untyped ``__ksym`` variables: the user's ``ksyms`` mapping (name -> address);
  a weak one that is missing is 0 (libbpf's rule), a strong one an error.
  The VM has no kernel addresses of its own, so it never reads /proc/kallsyms.
* kfuncs: by name from :data:`pybpf.helpers.impl_kfuncs.KFUNCS`; an unknown
  strong kfunc is a NotSupportedError at load time.

The ``.kconfig`` layout follows the object's ``.kconfig`` DATASEC (its order and
sizes; clang leaves the offsets 0), each variable aligned to its type.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..btf import BTF, Var, Void
from ..errors import NotSupportedError
from ..helpers.impl_kfuncs import KFUNC_ID_BASE, KFUNCS, KfuncSpec, missing_kfunc
from ..kconfig import KCONFIG_SEC as KCONFIG_SEC
from ..kconfig import ExternError as ExternError
from ..kconfig import KconfigLayout as KconfigLayout
from ..kconfig import KconfigValue as KconfigValue
from ..kconfig import build_kconfig as build_kconfig
from ..kconfig import encode_kconfig as encode_kconfig
from ..kconfig import host_kconfig as host_kconfig
from ..kconfig import kconfig_map_spec as kconfig_map_spec
from ..kconfig import kernel_version_code as kernel_version_code
from ..object.spec import ExternKind, ExternSpec, ObjectSpec

# -- ksyms and kfuncs ----------------------------------------------------------------


def _is_typed(btf: BTF | None, ext: ExternSpec) -> bool:
    if btf is None or ext.type_id is None:
        return False
    var = btf[ext.type_id]
    return isinstance(var, Var) and not isinstance(btf.resolve(var.type_id), Void)


def resolve_ksyms(spec: ObjectSpec, ksyms: Mapping[str, int] | None = None) -> dict[str, int]:
    """Address of every untyped ``__ksym`` variable: the user's, or 0 for a weak missing one."""
    given = dict(ksyms or {})
    out: dict[str, int] = {}
    for ext in spec.externs.values():
        if ext.kind is not ExternKind.KSYM or ext.is_func:
            continue
        if _is_typed(spec.btf, ext):
            if ext.name in given or ext.weak:
                out[ext.name] = given.get(ext.name, 0)
                continue
            raise NotSupportedError(
                f"extern {ext.name}: typed __ksym kernel variables are not available in the VM"
            )
        if ext.name in given:
            out[ext.name] = given[ext.name]
        elif ext.weak:
            out[ext.name] = 0
        else:
            raise ExternError(ext.name, "strong __ksym has no address in the VM (pass ksyms={name: address})")
    return out


def resolve_kfuncs(spec: ObjectSpec) -> dict[str, KfuncSpec]:
    """The VM implementation of every kfunc extern; a weak unknown one gets a stub that faults."""
    out: dict[str, KfuncSpec] = {}
    extra = KFUNC_ID_BASE + len(KFUNCS)
    for ext in spec.externs.values():
        if ext.kind is not ExternKind.KSYM or not ext.is_func:
            continue
        kfunc = KFUNCS.get(ext.name)
        if kfunc is None:
            if not ext.weak:
                raise NotSupportedError(f"kfunc {ext.name} is not implemented by the VM")
            kfunc = missing_kfunc(ext.name, extra)
            extra += 1
        out[ext.name] = kfunc
    return out
