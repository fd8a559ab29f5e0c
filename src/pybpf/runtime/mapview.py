"""What ``obj.maps["name"]`` is in the VM backend: the raw map plus dict-like typed access.

The raw API (``lookup``/``update``/``delete``/``next_key``, bytes in and out,
kernel errnos) stays reachable unchanged: every attribute the view does not
define is the raw map's.  Subscripting converts through
:class:`pybpf.maps.typed.TypedMap`, which reads the map's BTF key/value types, so
``obj.maps["flows"][{"saddr": 1, ...}] = {"packets": 1, "bytes": 64}`` works on
a clang-built object.  Program arrays and maps of maps take loaded programs and
maps as values.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..maps.typed import TypedMap
from ..uapi import MapType

_OBJECT_VALUED = (MapType.PROG_ARRAY, MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS)


def _unwrap_value(value: Any) -> Any:
    """A loaded Program -> its VM program; a MapView -> its raw map."""
    if isinstance(value, MapView):
        return value.raw
    handle = getattr(value, "handle", None)
    if handle is not None and hasattr(value, "spec"):
        return handle
    return value


class MapView:
    """A VM map with ``view[key]`` / ``view[key] = value`` / ``del view[key]`` / iteration."""

    __slots__ = ("_typed", "raw")

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self._typed: TypedMap | None = None

    @property
    def typed(self) -> TypedMap:
        """The dict-like view (built on first use: maps without keys have none)."""
        if self._typed is None:
            self._typed = TypedMap(self.raw)
        return self._typed

    def __getattr__(self, name: str) -> Any:
        if name in MapView.__slots__:  # not set yet (copy/unpickle): don't recurse
            raise AttributeError(name)
        return getattr(self.raw, name)

    def __getitem__(self, key: Any) -> Any:
        return self.typed[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        if self.raw.map_type in _OBJECT_VALUED:
            self.raw.update(self.typed.key_codec.encode(key), _unwrap_value(value))
            return
        self.typed[key] = value

    def __delitem__(self, key: Any) -> None:
        del self.typed[key]

    def __contains__(self, key: object) -> bool:
        return key in self.typed

    def __iter__(self) -> Iterator[Any]:
        return iter(self.typed)

    def __len__(self) -> int:
        return len(self.raw)

    def keys(self) -> list[Any]:
        return list(self.typed)

    def items(self) -> list[tuple[Any, Any]]:
        return [(k, self.typed[k]) for k in self.typed]

    def values(self) -> list[Any]:
        return [v for _, v in self.items()]

    def get(self, key: Any, default: Any = None) -> Any:
        try:
            return self.typed[key]
        except KeyError:
            return default

    def __repr__(self) -> str:
        return f"MapView({self.raw!r})"
