"""The BTF type model: one frozen dataclass per ``BTF_KIND_*``.

Types refer to each other by numeric id (as in the wire format) rather than by
object reference.  That keeps every type a small immutable value, lets a
``BTF`` build them lazily, and makes self-referential C types (linked lists)
trivial: resolving an id is the container's job (:class:`pybpf.btf.BTF`).

Every type carries its own ``id`` and ``name`` ("" when anonymous) and exposes
its kind as the class attribute ``kind``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import ClassVar


class Kind(IntEnum):
    """The kernel's ``BTF_KIND_*`` numbers (include/uapi/linux/btf.h)."""

    UNKN = 0
    INT = 1
    PTR = 2
    ARRAY = 3
    STRUCT = 4
    UNION = 5
    ENUM = 6
    FWD = 7
    TYPEDEF = 8
    VOLATILE = 9
    CONST = 10
    RESTRICT = 11
    FUNC = 12
    FUNC_PROTO = 13
    VAR = 14
    DATASEC = 15
    FLOAT = 16
    DECL_TAG = 17
    TYPE_TAG = 18
    ENUM64 = 19


class IntEncoding(IntFlag):
    """``BTF_INT_*`` encoding bits of an INT type (none set: unsigned)."""

    NONE = 0
    SIGNED = 1
    CHAR = 2
    BOOL = 4


class FuncLinkage(IntEnum):
    """``BTF_FUNC_*``: linkage of a FUNC, stored in its vlen field."""

    STATIC = 0
    GLOBAL = 1
    EXTERN = 2


class VarLinkage(IntEnum):
    """``BTF_VAR_*``: linkage of a VAR."""

    STATIC = 0
    GLOBAL_ALLOCATED = 1
    GLOBAL_EXTERN = 2


@dataclass(frozen=True, slots=True)
class Void:
    """Type id 0: ``void``, the target of ``void *`` and the return of void functions."""

    kind: ClassVar[Kind] = Kind.UNKN
    id: int = 0
    name: str = ""


@dataclass(frozen=True, slots=True)
class Int:
    """An integer (or char/_Bool) of ``size`` bytes using ``nr_bits`` bits from ``bits_offset``."""

    kind: ClassVar[Kind] = Kind.INT
    id: int
    name: str
    size: int
    encoding: IntEncoding
    bits_offset: int
    nr_bits: int

    @property
    def signed(self) -> bool:
        return bool(self.encoding & IntEncoding.SIGNED)

    @property
    def char(self) -> bool:
        return bool(self.encoding & IntEncoding.CHAR)

    @property
    def bool(self) -> bool:
        return bool(self.encoding & IntEncoding.BOOL)


@dataclass(frozen=True, slots=True)
class Ptr:
    """A pointer to ``type_id`` (8 bytes on BPF)."""

    kind: ClassVar[Kind] = Kind.PTR
    id: int
    name: str
    type_id: int


@dataclass(frozen=True, slots=True)
class Array:
    """``nelems`` elements of ``type_id``, indexed by ``index_type_id`` (an INT)."""

    kind: ClassVar[Kind] = Kind.ARRAY
    id: int
    name: str
    type_id: int
    index_type_id: int
    nelems: int


@dataclass(frozen=True, slots=True)
class Member:
    """A struct/union member.  ``bitfield_size`` is 0 for ordinary members.

    ``bits_offset`` is already decoded according to the parent's kind_flag: with
    kind_flag set the wire value packs ``bitfield_size << 24 | bit_offset``.
    """

    name: str
    type_id: int
    bits_offset: int
    bitfield_size: int = 0

    @property
    def is_bitfield(self) -> bool:
        return self.bitfield_size != 0

    @property
    def byte_offset(self) -> int:
        """Byte offset of the member (the containing byte for a bitfield)."""
        return self.bits_offset // 8


@dataclass(frozen=True, slots=True)
class Struct:
    """A struct of ``size`` bytes.  ``kind_flag`` says members may be bitfields."""

    kind: ClassVar[Kind] = Kind.STRUCT
    id: int
    name: str
    size: int
    members: tuple[Member, ...]
    kind_flag: bool = False


@dataclass(frozen=True, slots=True)
class Union:
    """A union of ``size`` bytes; same member encoding as :class:`Struct`."""

    kind: ClassVar[Kind] = Kind.UNION
    id: int
    name: str
    size: int
    members: tuple[Member, ...]
    kind_flag: bool = False


@dataclass(frozen=True, slots=True)
class EnumValue:
    """One enumerator.  ``value`` is already sign-interpreted per the enum's ``signed``."""

    name: str
    value: int


@dataclass(frozen=True, slots=True)
class Enum:
    """A 32-bit-valued enum of ``size`` bytes (1, 2, 4 or 8)."""

    kind: ClassVar[Kind] = Kind.ENUM
    id: int
    name: str
    size: int
    values: tuple[EnumValue, ...]
    signed: bool = False


@dataclass(frozen=True, slots=True)
class Enum64:
    """An enum whose values need 64 bits (BTF_KIND_ENUM64)."""

    kind: ClassVar[Kind] = Kind.ENUM64
    id: int
    name: str
    size: int
    values: tuple[EnumValue, ...]
    signed: bool = False


@dataclass(frozen=True, slots=True)
class Fwd:
    """A forward declaration of a struct (or, with ``is_union``, a union)."""

    kind: ClassVar[Kind] = Kind.FWD
    id: int
    name: str
    is_union: bool = False

    @property
    def fwd_kind(self) -> Kind:
        return Kind.UNION if self.is_union else Kind.STRUCT


@dataclass(frozen=True, slots=True)
class Typedef:
    """``typedef <type_id> name``."""

    kind: ClassVar[Kind] = Kind.TYPEDEF
    id: int
    name: str
    type_id: int


@dataclass(frozen=True, slots=True)
class Volatile:
    """``volatile <type_id>``."""

    kind: ClassVar[Kind] = Kind.VOLATILE
    id: int
    name: str
    type_id: int


@dataclass(frozen=True, slots=True)
class Const:
    """``const <type_id>``."""

    kind: ClassVar[Kind] = Kind.CONST
    id: int
    name: str
    type_id: int


@dataclass(frozen=True, slots=True)
class Restrict:
    """``restrict <type_id>``."""

    kind: ClassVar[Kind] = Kind.RESTRICT
    id: int
    name: str
    type_id: int


@dataclass(frozen=True, slots=True)
class TypeTag:
    """``__attribute__((btf_type_tag(name)))`` applied to ``type_id``.

    ``kind_flag`` (newer kernels) marks ``name`` as a plain type attribute
    rather than a btf_type_tag.
    """

    kind: ClassVar[Kind] = Kind.TYPE_TAG
    id: int
    name: str
    type_id: int
    kind_flag: bool = False


@dataclass(frozen=True, slots=True)
class Func:
    """A function (program or subprogram); ``type_id`` is its FUNC_PROTO."""

    kind: ClassVar[Kind] = Kind.FUNC
    id: int
    name: str
    type_id: int
    linkage: FuncLinkage | int = FuncLinkage.STATIC


@dataclass(frozen=True, slots=True)
class Param:
    """A FUNC_PROTO parameter; a trailing ``Param("", 0)`` means ``...``."""

    name: str
    type_id: int


@dataclass(frozen=True, slots=True)
class FuncProto:
    """A function signature: ``return_type_id`` (0: void) and ``params``."""

    kind: ClassVar[Kind] = Kind.FUNC_PROTO
    id: int
    name: str
    return_type_id: int
    params: tuple[Param, ...]

    @property
    def variadic(self) -> bool:
        return bool(self.params) and self.params[-1].type_id == 0


@dataclass(frozen=True, slots=True)
class Var:
    """A global variable of ``type_id`` (placed in a DATASEC)."""

    kind: ClassVar[Kind] = Kind.VAR
    id: int
    name: str
    type_id: int
    linkage: VarLinkage | int = VarLinkage.STATIC


@dataclass(frozen=True, slots=True)
class VarSecinfo:
    """Where a VAR (or extern FUNC) lives inside a DATASEC."""

    type_id: int
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class Datasec:
    """An ELF data section (.data, .bss, .rodata, .maps, ...) and the vars in it."""

    kind: ClassVar[Kind] = Kind.DATASEC
    id: int
    name: str
    size: int
    vars: tuple[VarSecinfo, ...]


@dataclass(frozen=True, slots=True)
class Float:
    """A floating-point type of ``size`` bytes."""

    kind: ClassVar[Kind] = Kind.FLOAT
    id: int
    name: str
    size: int


@dataclass(frozen=True, slots=True)
class DeclTag:
    """``btf_decl_tag(name)`` on ``type_id``; ``component_idx`` -1 means the whole
    declaration, otherwise the member/parameter index."""

    kind: ClassVar[Kind] = Kind.DECL_TAG
    id: int
    name: str
    type_id: int
    component_idx: int
    kind_flag: bool = False  # newer kernels: ``name`` is a plain attribute, not a decl tag


Type = (
    Void
    | Int
    | Ptr
    | Array
    | Struct
    | Union
    | Enum
    | Fwd
    | Typedef
    | Volatile
    | Const
    | Restrict
    | Func
    | FuncProto
    | Var
    | Datasec
    | Float
    | DeclTag
    | TypeTag
    | Enum64
)

#: Kinds that only qualify another type; ``BTF.resolve`` skips them (and typedefs).
MODIFIER_KINDS = frozenset({Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG})

#: Type classes whose ``type_id`` field references another type.
TYPE_BY_KIND: dict[Kind, type] = {
    Kind.UNKN: Void,
    Kind.INT: Int,
    Kind.PTR: Ptr,
    Kind.ARRAY: Array,
    Kind.STRUCT: Struct,
    Kind.UNION: Union,
    Kind.ENUM: Enum,
    Kind.FWD: Fwd,
    Kind.TYPEDEF: Typedef,
    Kind.VOLATILE: Volatile,
    Kind.CONST: Const,
    Kind.RESTRICT: Restrict,
    Kind.FUNC: Func,
    Kind.FUNC_PROTO: FuncProto,
    Kind.VAR: Var,
    Kind.DATASEC: Datasec,
    Kind.FLOAT: Float,
    Kind.DECL_TAG: DeclTag,
    Kind.TYPE_TAG: TypeTag,
    Kind.ENUM64: Enum64,
}
