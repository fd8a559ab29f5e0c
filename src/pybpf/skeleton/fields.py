"""Typed views over the bytes of global data: the pieces generated skeletons are made of.

A generated data-section class (``skel.bss``) and every nested struct class are
:class:`StructView` subclasses whose attributes are descriptors from this module
(``counter = IntField(8, 4, signed=False)``).  A view owns no bytes: it reads and
writes through its root :class:`DataSection`, which asks the skeleton where the
section's bytes live *now* (an editable copy before load, the loaded map after).
So a view taken before load keeps working after it, and every read sees what the
program last wrote.

Descriptors are generic over what they return so ``mypy --strict`` types
``skel.bss.counter`` as ``int`` and ``skel.data.cfg.limits[2]`` as ``int``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from typing import Any, Generic, TypeVar, overload

from ..errors import BPFError


class SkeletonError(BPFError):
    """Misuse of a skeleton: wrong lifecycle state, a value that does not fit, a read-only section."""


class GlobalsStore:
    """Where one data section's bytes live; the skeleton swaps stores on load and destroy."""

    def read(self, offset: int, size: int) -> bytes:
        raise NotImplementedError

    def write(self, offset: int, data: bytes) -> None:
        raise NotImplementedError


_SelfT = TypeVar("_SelfT")
_ViewT = TypeVar("_ViewT", bound="StructView")


class StructView:
    """Bytes ``[base, base + size)`` of a data section, seen as a C struct.

    Internal attributes start with ``_sk_`` so they can never hide a C member
    (the generator renames members that would collide).
    """

    __slots__ = ("_sk_base", "_sk_root")
    _sk_size: int = 0

    def __init__(self, root: DataSection, base: int) -> None:
        self._sk_root = root
        self._sk_base = base

    def _sk_read(self, offset: int, size: int) -> bytes:
        return self._sk_root._sk_store_read(self._sk_base + offset, size)

    def _sk_write(self, offset: int, data: bytes) -> None:
        self._sk_root._sk_store_write(self._sk_base + offset, data)

    def __bytes__(self) -> bytes:
        return self._sk_read(0, self._sk_size)

    def _sk_assign(self, value: object, what: str) -> None:
        data = bytes(value) if isinstance(value, StructView | bytes | bytearray | memoryview) else None
        if data is None:
            raise SkeletonError(
                f"{what}: expected {type(self).__name__} or bytes, got {type(value).__name__}"
            )
        if len(data) != self._sk_size:
            raise SkeletonError(f"{what} is {self._sk_size} bytes, got {len(data)}")
        self._sk_write(0, data)

    def __repr__(self) -> str:
        names = [n for n, v in _fields_of(type(self)).items() if not isinstance(v, PaddingField)]
        parts = []
        for name in names:
            try:
                parts.append(f"{name}={getattr(self, name)!r}")
            except BPFError:
                parts.append(f"{name}=<unavailable>")
        return f"{type(self).__name__}({', '.join(parts)})"


class DataSection(StructView):
    """The root view of one global-data map (``.bss``, ``.data``, ``.rodata``, ``.data.foo``...).

    ``_sk_store`` returns the current :class:`GlobalsStore`; ``_sk_writable``
    says whether writes are allowed now (``.rodata`` only before load).
    """

    __slots__ = ("_sk_map", "_sk_owner")
    _sk_section: str = ""

    def __init__(self, owner: SectionOwner, map_name: str) -> None:
        super().__init__(self, 0)
        self._sk_owner = owner
        self._sk_map = map_name

    def _sk_store_read(self, offset: int, size: int) -> bytes:
        return self._sk_owner.section_store(self._sk_map).read(offset, size)

    def _sk_store_write(self, offset: int, data: bytes) -> None:
        self._sk_owner.check_section_writable(self._sk_map)
        self._sk_owner.section_store(self._sk_map).write(offset, data)


class SectionOwner:
    """What a :class:`DataSection` needs from its skeleton (kept tiny to avoid an import cycle)."""

    def section_store(self, map_name: str) -> GlobalsStore:
        raise NotImplementedError

    def check_section_writable(self, map_name: str) -> None:
        raise NotImplementedError


def _fields_of(cls: type) -> dict[str, Field[Any, Any]]:
    out: dict[str, Field[Any, Any]] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if isinstance(value, Field):
                out[name] = value
    return out


_GetT = TypeVar("_GetT")
_SetT = TypeVar("_SetT")


class Field(Generic[_GetT, _SetT]):
    """A member of a view at ``offset`` bytes, ``size`` bytes long."""

    def __init__(self, offset: int, size: int) -> None:
        self.offset = offset
        self.size = size
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self: _SelfT, obj: None, owner: type | None = None) -> _SelfT: ...
    @overload
    def __get__(self, obj: StructView, owner: type | None = None) -> _GetT: ...
    def __get__(self, obj: StructView | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return self.get(obj)

    def __set__(self, obj: StructView, value: _SetT) -> None:
        self.set(obj, value)

    def get(self, view: StructView) -> _GetT:
        raise NotImplementedError

    def set(self, view: StructView, value: _SetT) -> None:
        raise NotImplementedError


def _int_format(size: int, signed: bool) -> str:
    fmt = {1: "b", 2: "h", 4: "i", 8: "q"}.get(size)
    if fmt is None:
        raise SkeletonError(f"no integer of {size} bytes")
    return "<" + (fmt if signed else fmt.upper())


def _check_int(value: object, size: int, signed: bool, what: str) -> int:
    if not isinstance(value, int):
        raise SkeletonError(f"{what}: expected int, got {type(value).__name__}")
    bits = size * 8
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if not lo <= value <= hi:
        raise SkeletonError(f"{what}: {value} does not fit in {'s' if signed else 'u'}{bits}")
    return int(value)


class IntField(Field[int, int]):
    """A C integer (also enums and pointers, which read as their address)."""

    def __init__(self, offset: int, size: int, *, signed: bool = False) -> None:
        super().__init__(offset, size)
        self.signed = signed
        self._fmt = struct.Struct(_int_format(size, signed))

    def get(self, view: StructView) -> int:
        value: int = self._fmt.unpack(view._sk_read(self.offset, self.size))[0]
        return value

    def set(self, view: StructView, value: int) -> None:
        view._sk_write(self.offset, self._fmt.pack(_check_int(value, self.size, self.signed, self.name)))


class BoolField(Field[bool, bool]):
    """A C ``_Bool``."""

    def get(self, view: StructView) -> bool:
        return view._sk_read(self.offset, self.size) != bytes(self.size)

    def set(self, view: StructView, value: bool) -> None:
        if not isinstance(value, bool | int):
            raise SkeletonError(f"{self.name}: expected bool, got {type(value).__name__}")
        view._sk_write(self.offset, (1 if value else 0).to_bytes(self.size, "little"))


class FloatField(Field[float, float]):
    """A C ``float`` or ``double``."""

    def __init__(self, offset: int, size: int) -> None:
        super().__init__(offset, size)
        if size not in (4, 8):
            raise SkeletonError(f"no float of {size} bytes")
        self._fmt = struct.Struct("<f" if size == 4 else "<d")

    def get(self, view: StructView) -> float:
        value: float = self._fmt.unpack(view._sk_read(self.offset, self.size))[0]
        return value

    def set(self, view: StructView, value: float) -> None:
        if not isinstance(value, float | int):
            raise SkeletonError(f"{self.name}: expected float, got {type(value).__name__}")
        view._sk_write(self.offset, self._fmt.pack(value))


class BitfieldField(Field[int, int]):
    """A C bitfield: ``bits`` bits starting ``bit_offset`` bits into the member's struct."""

    def __init__(self, bit_offset: int, bits: int, *, signed: bool = False) -> None:
        first = bit_offset // 8
        last = (bit_offset + bits + 7) // 8
        super().__init__(first, last - first)
        self.shift = bit_offset - first * 8
        self.bits = bits
        self.signed = signed

    def get(self, view: StructView) -> int:
        word = int.from_bytes(view._sk_read(self.offset, self.size), "little")
        value = (word >> self.shift) & ((1 << self.bits) - 1)
        if self.signed and value >> (self.bits - 1):
            value -= 1 << self.bits
        return value

    def set(self, view: StructView, value: int) -> None:
        if not isinstance(value, int):
            raise SkeletonError(f"{self.name}: expected int, got {type(value).__name__}")
        lo, hi = (
            (-(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1)
            if self.signed
            else (0, (1 << self.bits) - 1)
        )
        if not lo <= value <= hi:
            raise SkeletonError(f"{self.name}: {value} does not fit in a {self.bits}-bit field")
        mask = ((1 << self.bits) - 1) << self.shift
        word = int.from_bytes(view._sk_read(self.offset, self.size), "little")
        word = (word & ~mask) | ((value << self.shift) & mask)
        view._sk_write(self.offset, word.to_bytes(self.size, "little"))


class BytesField(Field[bytes, bytes]):
    """Raw bytes: ``char``/``u8`` arrays, and anything the generator has no richer type for.

    Setting a shorter value zero-fills the rest (so ``skel.data.name = b"eth0"`` works
    on a ``char name[16]``); a longer one is an error.
    """

    def get(self, view: StructView) -> bytes:
        return view._sk_read(self.offset, self.size)

    def set(self, view: StructView, value: bytes) -> None:
        if not isinstance(value, bytes | bytearray | memoryview):
            raise SkeletonError(f"{self.name}: expected bytes, got {type(value).__name__}")
        data = bytes(value)
        if len(data) > self.size:
            raise SkeletonError(f"{self.name} holds {self.size} bytes, got {len(data)}")
        view._sk_write(self.offset, data.ljust(self.size, b"\0"))


class PaddingField(BytesField):
    """Bytes no exposed variable covers (kept so ``repr`` can skip them)."""


class IntArray:
    """A live view of a C integer array: index, assign, iterate; ``list(a)`` copies."""

    __slots__ = ("_count", "_fmt", "_name", "_offset", "_signed", "_size", "_view")

    def __init__(self, view: StructView, offset: int, count: int, size: int, signed: bool, name: str) -> None:
        self._view = view
        self._offset = offset
        self._count = count
        self._size = size
        self._signed = signed
        self._fmt = struct.Struct(_int_format(size, signed))
        self._name = name

    def __len__(self) -> int:
        return self._count

    def _index(self, index: int) -> int:
        if not isinstance(index, int):
            raise SkeletonError(f"{self._name}: index must be an int, got {type(index).__name__}")
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError(f"{self._name}: index out of range (length {self._count})")
        return self._offset + index * self._size

    def __getitem__(self, index: int) -> int:
        value: int = self._fmt.unpack(self._view._sk_read(self._index(index), self._size))[0]
        return value

    def __setitem__(self, index: int, value: int) -> None:
        off = self._index(index)
        self._view._sk_write(off, self._fmt.pack(_check_int(value, self._size, self._signed, self._name)))

    def __iter__(self) -> Iterator[int]:
        raw = self._view._sk_read(self._offset, self._count * self._size)
        return (v for (v,) in self._fmt.iter_unpack(raw))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, IntArray | list | tuple):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(list(self))


class IntArrayField(Field[IntArray, Sequence[int]]):
    """A C array of integers: reads as a live :class:`IntArray`, assigns from a same-length sequence."""

    def __init__(self, offset: int, count: int, elem_size: int, *, signed: bool = False) -> None:
        super().__init__(offset, count * elem_size)
        self.count = count
        self.elem_size = elem_size
        self.signed = signed
        self._fmt = _int_format(elem_size, signed)

    def get(self, view: StructView) -> IntArray:
        return IntArray(view, self.offset, self.count, self.elem_size, self.signed, self.name)

    def set(self, view: StructView, value: Sequence[int]) -> None:
        if isinstance(value, str | bytes) or not isinstance(value, Sequence | IntArray):
            raise SkeletonError(f"{self.name}: expected a sequence of int, got {type(value).__name__}")
        items = list(value)
        if len(items) != self.count:
            raise SkeletonError(f"{self.name} has {self.count} elements, got {len(items)}")
        checked = [_check_int(v, self.elem_size, self.signed, self.name) for v in items]
        view._sk_write(self.offset, struct.pack(f"<{self.count}{self._fmt[1]}", *checked))


class StructField(Field[_ViewT, "_ViewT | bytes"]):
    """A nested struct or union: reads as a live view of the generated class."""

    def __init__(self, offset: int, cls: type[_ViewT]) -> None:
        super().__init__(offset, cls._sk_size)
        self.cls = cls

    def get(self, view: StructView) -> _ViewT:
        return self.cls(view._sk_root, view._sk_base + self.offset)

    def set(self, view: StructView, value: _ViewT | bytes) -> None:
        self.get(view)._sk_assign(value, self.name)


class StructArray(Generic[_ViewT]):
    """A live view of a C array of structs: ``a[i]`` is a view of element ``i``."""

    __slots__ = ("_cls", "_count", "_name", "_offset", "_view")

    def __init__(self, view: StructView, offset: int, count: int, cls: type[_ViewT], name: str) -> None:
        self._view = view
        self._offset = offset
        self._count = count
        self._cls = cls
        self._name = name

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> _ViewT:
        if not isinstance(index, int):
            raise SkeletonError(f"{self._name}: index must be an int, got {type(index).__name__}")
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError(f"{self._name}: index out of range (length {self._count})")
        return self._cls(self._view._sk_root, self._view._sk_base + self._offset + index * self._cls._sk_size)

    def __setitem__(self, index: int, value: _ViewT | bytes) -> None:
        self[index]._sk_assign(value, f"{self._name}[{index}]")

    def __iter__(self) -> Iterator[_ViewT]:
        return (self[i] for i in range(self._count))

    def __repr__(self) -> str:
        return repr(list(self))


class StructArrayField(Field[StructArray[_ViewT], bytes]):
    """A C array of structs; assign raw bytes of the whole array, or elements one by one."""

    def __init__(self, offset: int, count: int, cls: type[_ViewT]) -> None:
        super().__init__(offset, count * cls._sk_size)
        self.count = count
        self.cls = cls

    def get(self, view: StructView) -> StructArray[_ViewT]:
        return StructArray(view, self.offset, self.count, self.cls, self.name)

    def set(self, view: StructView, value: bytes) -> None:
        if not isinstance(value, bytes | bytearray | memoryview) or len(value) != self.size:
            raise SkeletonError(f"{self.name}: expected {self.size} bytes")
        view._sk_write(self.offset, bytes(value))
