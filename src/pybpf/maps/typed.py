"""TypedMap: a dict-like view of a map that converts keys and values.

Conversion per side (key, value), chosen once:

* plain size (default): ints little-endian (negative ints as two's complement),
  bytes of exactly that size; sizes 1/2/4/8 decode to ``int``, others to ``bytes``;
* a ctypes type (``ctypes.c_uint32``, a ``ctypes.Structure``...): instances, dicts
  of field values, ints or bytes in; instances out;
* a BTF type id with ``btf=`` (a :mod:`pybpf.btf` ``BTF``): ints, dicts (struct
  members by name, nested), lists (arrays) in and out.

Per-CPU maps read as a list with one value per CPU; assigning a single value sets
every CPU, a list sets each.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator, MutableMapping
from typing import Any

from pybpf.errors import MapError
from pybpf.maps.base import Map


class Codec:
    """Bytes <-> Python for one side of a map."""

    def __init__(self, size: int, ctype: Any = None, btf: Any = None, type_id: int | None = None) -> None:
        self.size = size
        self.ctype = ctype
        self.btf = btf
        self.type_id = type_id
        if ctype is not None and ctypes.sizeof(ctype) != size:
            raise MapError(f"ctypes type {ctype.__name__} is {ctypes.sizeof(ctype)} bytes, map wants {size}")
        if btf is not None and type_id is not None and btf.sizeof(type_id) != size:
            raise MapError(f"BTF type {type_id} is {btf.sizeof(type_id)} bytes, map wants {size}")

    # -- encode ------------------------------------------------------------------

    def encode(self, obj: Any) -> bytes:
        if isinstance(obj, bytes | bytearray | memoryview):
            b = bytes(obj)
            if len(b) != self.size:
                raise MapError(f"{len(b)} bytes given, {self.size} expected")
            return b
        if isinstance(obj, ctypes.Structure | ctypes.Union | ctypes.Array | ctypes._SimpleCData):
            b = bytes(obj)
            if len(b) != self.size:
                raise MapError(f"ctypes object of {len(b)} bytes, {self.size} expected")
            return b
        if self.ctype is not None:
            try:
                if isinstance(obj, dict):
                    fields = {f[0] for f in getattr(self.ctype, "_fields_", ())}
                    unknown = set(obj) - fields
                    if unknown:
                        raise MapError(f"{self.ctype.__name__} has no field(s) {sorted(unknown)}")
                    return bytes(self.ctype(**obj))
                if isinstance(obj, int) and issubclass(self.ctype, ctypes._SimpleCData):
                    return bytes(self.ctype(obj))
            except (TypeError, AttributeError) as exc:
                raise MapError(f"cannot convert {obj!r} to {self.ctype.__name__}: {exc}") from exc
        if self.btf is not None and self.type_id is not None:
            buf = bytearray(self.size)
            _btf_encode(self.btf, self.type_id, obj, buf, 0)
            return bytes(buf)
        if isinstance(obj, int) and not isinstance(obj, bool):
            try:
                return obj.to_bytes(self.size, "little", signed=obj < 0)
            except OverflowError as exc:
                raise MapError(f"{obj} does not fit in {self.size} bytes") from exc
        raise MapError(f"cannot convert {type(obj).__name__} to a {self.size}-byte map key/value")

    # -- decode ------------------------------------------------------------------

    def decode(self, raw: bytes) -> Any:
        if self.ctype is not None:
            return self.ctype.from_buffer_copy(raw)
        if self.btf is not None and self.type_id is not None:
            return _btf_decode(self.btf, self.type_id, raw, 0)
        if self.size in (1, 2, 4, 8):
            return int.from_bytes(raw, "little")
        return raw


# BTF conversion, written against pybpf.btf's frozen dataclasses (duck-typed:
# Int/Enum have a size, Struct/Union have members, Array has a type and nelems).


def _kind(t: Any) -> str:
    return type(t).__name__.lower()


def _is_signed(t: Any) -> bool:
    if hasattr(t, "signed"):
        return bool(t.signed)
    enc = getattr(t, "encoding", 0)
    return bool(enc & 1) if isinstance(enc, int) else "signed" in str(enc).lower()


def _array_parts(t: Any) -> tuple[int, int]:
    elem = getattr(t, "type_id", None)
    if elem is None:
        elem = getattr(t, "elem_type", None)
    if elem is None:
        elem = t.type
    return int(elem), int(t.nelems)


def _btf_decode(btf: Any, type_id: int, raw: bytes, off: int) -> Any:
    t = btf.resolve(type_id)
    kind = _kind(t)
    size = btf.sizeof(type_id)
    if kind in ("struct", "union"):
        out: dict[str, Any] = {}
        for m in t.members:
            byte = m.bits_offset // 8
            if getattr(m, "bitfield_size", 0):
                width = btf.sizeof(m.type_id)
                word = int.from_bytes(raw[off + byte : off + byte + width + 1], "little")
                out[m.name] = (word >> (m.bits_offset % 8)) & ((1 << m.bitfield_size) - 1)
            else:
                out[m.name] = _btf_decode(btf, m.type_id, raw, off + byte)
        return out
    if kind == "array":
        elem, n = _array_parts(t)
        esize = btf.sizeof(elem)
        return [_btf_decode(btf, elem, raw, off + i * esize) for i in range(n)]
    chunk = raw[off : off + size]
    if kind in ("int", "enum", "enum64", "ptr"):
        return int.from_bytes(chunk, "little", signed=_is_signed(t))
    return chunk


def _btf_encode(btf: Any, type_id: int, obj: Any, buf: bytearray, off: int) -> None:
    t = btf.resolve(type_id)
    kind = _kind(t)
    size = btf.sizeof(type_id)
    if isinstance(obj, bytes | bytearray):
        if len(obj) != size:
            raise MapError(f"{len(obj)} bytes given for a {size}-byte field")
        buf[off : off + size] = obj
    elif kind in ("struct", "union") and isinstance(obj, dict):
        names = {m.name for m in t.members}
        unknown = set(obj) - names
        if unknown:
            raise MapError(f"unknown field(s) {sorted(unknown)}")
        for m in t.members:
            if m.name not in obj:
                continue
            byte = m.bits_offset // 8
            if getattr(m, "bitfield_size", 0):
                width = btf.sizeof(m.type_id) + 1
                cur = int.from_bytes(buf[off + byte : off + byte + width], "little")
                shift = m.bits_offset % 8
                mask = ((1 << m.bitfield_size) - 1) << shift
                cur = (cur & ~mask) | ((int(obj[m.name]) << shift) & mask)
                buf[off + byte : off + byte + width] = cur.to_bytes(width, "little")[: len(buf) - off - byte]
            else:
                _btf_encode(btf, m.type_id, obj[m.name], buf, off + byte)
    elif kind == "array" and isinstance(obj, list | tuple):
        elem, n = _array_parts(t)
        if len(obj) > n:
            raise MapError(f"{len(obj)} elements for an array of {n}")
        esize = btf.sizeof(elem)
        for i, item in enumerate(obj):
            _btf_encode(btf, elem, item, buf, off + i * esize)
    elif isinstance(obj, int) and not isinstance(obj, bool):
        try:
            buf[off : off + size] = obj.to_bytes(size, "little", signed=obj < 0)
        except OverflowError as exc:
            raise MapError(f"{obj} does not fit in {size} bytes") from exc
    else:
        raise MapError(f"cannot convert {type(obj).__name__} to BTF {kind}")


def _codec(size: int, spec: Any, btf: Any) -> Codec:
    if spec is None:
        return Codec(size)
    if isinstance(spec, int) and not isinstance(spec, bool):
        if btf is None:
            raise MapError("a BTF type id needs btf=")
        return Codec(size, btf=btf, type_id=spec)
    if isinstance(spec, type) and issubclass(
        spec, ctypes.Structure | ctypes.Union | ctypes.Array | ctypes._SimpleCData
    ):
        return Codec(size, ctype=spec)
    raise MapError(f"unsupported key/value type {spec!r} (use None, a ctypes type or a BTF type id)")


class TypedMap(MutableMapping[Any, Any]):
    """A dict over a keyed map: ``m[k]``, ``m[k] = v``, ``del m[k]``, ``k in m``, iteration.

    ``key_type`` / ``value_type``: None (plain sizes), a ctypes type, or a BTF type id
    (with ``btf=``; by default the map's own BTF ids are used when it has them).
    """

    def __init__(self, raw: Map, key_type: Any = None, value_type: Any = None, *, btf: Any = None) -> None:
        if raw.key_size == 0:
            raise MapError(f"{raw.map_type.uapi_name} maps have no keys; use the raw API", map_name=raw.name)
        spec: Any = getattr(raw, "spec", None)  # a kernel map has none: its caller passes BTF and ids
        btf = btf if btf is not None else getattr(spec, "btf", None)
        if key_type is None and btf is not None:
            key_type = getattr(spec, "btf_key", None)
        if value_type is None and btf is not None:
            value_type = getattr(spec, "btf_value", None)
        self.raw = raw
        self.key_codec = _codec(raw.key_size, key_type, btf)
        self.value_codec = _codec(raw.value_size, value_type, btf)

    def _k(self, key: Any) -> bytes:
        return self.key_codec.encode(key)

    def __getitem__(self, key: Any) -> Any:
        if self.raw.percpu:
            return [self.value_codec.decode(v) for v in self.raw.lookup_percpu(self._k(key))]
        return self.value_codec.decode(self.raw.lookup(self._k(key)))

    def __setitem__(self, key: Any, value: Any) -> None:
        self.update_elem(key, value)

    def update_elem(self, key: Any, value: Any, flags: int = 0) -> None:
        """``m[key] = value`` with explicit BPF_ANY / BPF_NOEXIST / BPF_EXIST / BPF_F_LOCK."""
        k = self._k(key)
        if self.raw.percpu:
            items = value if isinstance(value, list) else [value] * self.raw.num_cpus
            self.raw.update_percpu(k, [self.value_codec.encode(v) for v in items], flags)
        else:
            self.raw.update(k, self.value_codec.encode(value), flags)

    def __delitem__(self, key: Any) -> None:
        self.raw.delete(self._k(key))

    def __contains__(self, key: object) -> bool:
        try:
            self.raw.lookup(self._k(key))
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[Any]:
        for k in list(self.raw.iter_keys()):
            yield self.key_codec.decode(k)

    def __len__(self) -> int:
        return len(self.raw)

    def __repr__(self) -> str:
        return f"TypedMap({self.raw!r})"
