"""Kconfig externs (``extern ... __kconfig``): host defaults and the ``.kconfig`` map.

Both backends build the same ``.kconfig`` array map at load time, so the rules live
here once: ``LINUX_KERNEL_VERSION`` is KERNEL_VERSION(a, b, c) of the target kernel
(default: the host's ``uname -r``); ``CONFIG_*`` values come from a caller's mapping
first, then the host's ``/proc/config.gz`` or ``/boot/config-$(uname -r)``; a weak
extern nobody sets is 0 and a strong one an :class:`ExternError` naming it. Values
are encoded for the extern's C type with libbpf's rules (tristate enum, bool, int,
char array), and the layout follows the object's ``.kconfig`` DATASEC order, each
variable aligned to its type.
"""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from .btf import BTF, Datasec, Enum, Int, Var
from .btf.types import Array
from .errors import BTFError, NotSupportedError, ObjectParseError
from .object.spec import BPF_F_RDONLY_PROG, ExternKind, ExternSpec, MapKind, MapSpec, ObjectSpec
from .uapi import MapType

KCONFIG_SEC = ".kconfig"
#: A Kconfig value: the raw text of a config line ("y", "m", "250", '"str"') or a Python value.
KconfigValue = str | int | bool


class ExternError(ObjectParseError):
    """A strong ``extern`` the VM cannot satisfy (names the extern)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"extern {name}: {reason}")
        self.extern = name


# -- host defaults -------------------------------------------------------------


def kernel_version_code(release: str | None = None) -> int:
    """KERNEL_VERSION(a, b, c) of a release string (default ``uname -r``), sublevel clamped to 255."""
    text = release if release is not None else os.uname().release
    m = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if m is None:
        raise NotSupportedError(f"cannot parse kernel release {text!r}")
    return (int(m.group(1)) << 16) | (int(m.group(2)) << 8) | min(int(m.group(3) or 0), 255)


@cache
def host_kconfig() -> Mapping[str, str]:
    """CONFIG_* -> raw value from /proc/config.gz or /boot/config-$(uname -r); {} when neither."""
    text = ""
    try:
        with gzip.open("/proc/config.gz", "rt") as f:
            text = f.read()
    except OSError:
        try:
            with open(f"/boot/config-{os.uname().release}") as f:
                text = f.read()
        except OSError:
            return {}
    config: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("CONFIG_") and "=" in line:
            key, _, value = line.partition("=")
            config[key] = value.strip()
    return config


# -- .kconfig ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KconfigLayout:
    """Offsets of the ``__kconfig`` externs in the ``.kconfig`` region, and its bytes."""

    offsets: dict[str, int]
    data: bytes

    @property
    def size(self) -> int:
        """Size of the ``.kconfig`` map value."""
        return len(self.data)


_TRISTATE = {"n": 0, "y": 1, "m": 2}


def _raw(value: KconfigValue) -> str:
    if isinstance(value, bool):
        return "y" if value else "n"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    raise ExternError("?", f"kconfig value must be str, int or bool, got {type(value).__name__}")


def encode_kconfig(btf: BTF, name: str, type_id: int, size: int, raw: str) -> bytes:
    """``raw`` encoded for the extern's C type (libbpf's rules: tristate enum, bool, int, char[])."""
    t = btf.resolve(type_id)
    if isinstance(t, Enum) or (isinstance(t, Int) and t.bool):
        if raw not in _TRISTATE:
            raise ExternError(name, f"value {raw!r} is not y/m/n")
        value = _TRISTATE[raw] if isinstance(t, Enum) else int(raw != "n")
        return value.to_bytes(size, "little")
    if isinstance(t, Array):
        if not raw.startswith('"'):
            raise ExternError(name, f"value {raw!r} is not a string")
        return raw.strip('"').encode()[: size - 1].ljust(size, b"\0")
    if isinstance(t, Int):
        try:
            value = _TRISTATE[raw] if raw in _TRISTATE else int(raw, 0)
        except ValueError:
            raise ExternError(name, f"value {raw!r} is not an integer") from None
        bits = size * 8
        if not -(1 << (bits - 1)) <= value < (1 << bits):
            raise ExternError(name, f"value {raw} does not fit in {size} bytes")
        return (value & ((1 << bits) - 1)).to_bytes(size, "little")
    raise ExternError(name, f"unsupported C type {type(t).__name__} for a kconfig extern")


def _kconfig_vars(spec: ObjectSpec) -> list[tuple[ExternSpec, int]]:
    """(extern, VAR's type id) in DATASEC order (spec order when the DATASEC is missing)."""
    btf: BTF | None = spec.btf
    if btf is None:
        raise BTFError("object has __kconfig externs but no BTF to size them")
    externs = {e.name: e for e in spec.externs.values() if e.kind is ExternKind.KCONFIG}
    order: list[str] = []
    for sec in btf.find_all(KCONFIG_SEC):
        if isinstance(sec, Datasec):
            order.extend(btf.name_of(v.type_id) for v in sec.vars)
    order.extend(n for n in externs if n not in order)
    out = []
    for name in order:
        ext = externs.get(name)
        if ext is None:
            continue
        if ext.type_id is None:
            raise ExternError(name, "kconfig extern has no BTF type")
        var = btf[ext.type_id]
        out.append((ext, var.type_id if isinstance(var, Var) else ext.type_id))
    return out


def build_kconfig(
    spec: ObjectSpec,
    *,
    kernel_version: int | None = None,
    kconfig: Mapping[str, KconfigValue] | None = None,
    host_config: bool = True,
) -> KconfigLayout | None:
    """The ``.kconfig`` region for ``spec`` (None when it has no kconfig externs)."""
    if not any(e.kind is ExternKind.KCONFIG for e in spec.externs.values()):
        return None
    btf: BTF = spec.btf
    user = dict(kconfig or {})
    host = host_kconfig() if host_config else {}
    offsets: dict[str, int] = {}
    data = bytearray()
    for ext, vtype in _kconfig_vars(spec):
        size = btf.sizeof(vtype)
        align = min(8, max(1, btf.alignof(vtype)))
        off = -(-len(data) // align) * align
        data.extend(bytes(off - len(data)))
        raw: str | None
        if ext.name in user:
            raw = _raw(user[ext.name])
        elif ext.name == "LINUX_KERNEL_VERSION":
            raw = str(kernel_version if kernel_version is not None else kernel_version_code())
        else:
            raw = host.get(ext.name)
        if raw is None and not ext.weak:
            where = "the kconfig option" + ("" if not host_config else " nor the host's kernel config")
            raise ExternError(ext.name, f"strong __kconfig extern is set neither by {where}")
        offsets[ext.name] = off
        data.extend(bytes(size) if raw is None else encode_kconfig(btf, ext.name, vtype, size, raw))
    return KconfigLayout(offsets, bytes(data.ljust(max(8, -(-len(data) // 8) * 8), b"\0")))


def kconfig_map_spec(spec: ObjectSpec, layout: KconfigLayout) -> MapSpec:
    """The internal ``<obj>.kconfig`` array libbpf creates: one read-only value."""
    name = (spec.name[: 15 - len(KCONFIG_SEC)] + KCONFIG_SEC) if spec.name else KCONFIG_SEC
    sec = spec.btf.find_all(KCONFIG_SEC) if spec.btf is not None else []
    return MapSpec(
        name=name, type=MapType.ARRAY, key_size=4, value_size=len(layout.data), max_entries=1,
        flags=BPF_F_RDONLY_PROG, kind=MapKind.KCONFIG, section=KCONFIG_SEC, data=layout.data,
        value_type_id=sec[0].id if sec else None,
    )  # fmt: skip
