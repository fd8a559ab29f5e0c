"""The :class:`BTF` container: all types of one blob plus the queries others need.

A BTF is an immutable list of types indexed by id (id 0 is ``void``) and a
string table.  Split BTF (kernel module BTF) continues the id and string-offset
spaces of a base BTF; ``types`` then covers the base's ids too, so ``btf[id]``
works for any id a split type can reference, while ``own_types`` lists only the
split part (what ``bpftool btf dump`` prints).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..errors import BTFError
from .parse import Header, decode_types, parse_header
from .strings import StringTable
from .types import (
    MODIFIER_KINDS,
    Array,
    Datasec,
    Enum,
    Enum64,
    Float,
    Func,
    FuncProto,
    Fwd,
    Int,
    Kind,
    Member,
    Ptr,
    Struct,
    Type,
    Union,
    Var,
    Void,
)

#: sizeof(void *) on BPF.
POINTER_SIZE = 8

_CHAIN_KINDS = frozenset({*MODIFIER_KINDS, Kind.PTR, Kind.ARRAY})


class TypeNotFoundError(BTFError, KeyError):
    """No type with that id or name (a KeyError too, as for a dict lookup)."""

    def __str__(self) -> str:
        return self.message


class BTF:
    """Parsed BTF: ``btf[id]``, ``btf.find(name)``, ``btf.resolve(id)``, ``btf.sizeof(id)``."""

    __slots__ = ("_by_name", "_types", "base", "first_id", "header", "strings")

    def __init__(
        self,
        types: list[Type],
        strings: StringTable,
        *,
        base: BTF | None = None,
        header: Header | None = None,
    ) -> None:
        self._types = types
        self.strings = strings
        self.base = base
        self.header = header
        self.first_id = len(base) if base is not None else 1
        self._by_name: dict[str, list[int]] | None = None

    # -- construction --------------------------------------------------------

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview, *, base: BTF | None = None) -> BTF:
        """Parse raw BTF (a .BTF section, /sys/kernel/btf/vmlinux, or split BTF over ``base``).

        Both byte orders are accepted.  Malformed data raises BTFError with the offset.
        """
        blob = bytes(data)
        header = parse_header(blob)
        strings = StringTable(
            blob[header.str_off : header.str_off + header.str_len],
            base=base.strings if base is not None else None,
            section_offset=header.str_off,
        )
        first = len(base) if base is not None else 1
        # The walk allocates hundreds of thousands of small acyclic objects; the
        # cyclic GC would rescan them repeatedly (tripling the time on vmlinux).
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            own = decode_types(blob, header, strings, first)
        finally:
            if gc_was_enabled:
                gc.enable()
        types: list[Type] = list(base._types) if base is not None else [Void()]
        types.extend(own)
        btf = cls(types, strings, base=base, header=header)
        btf._check_chain_loops()
        return btf

    @classmethod
    def from_types(cls, types: Sequence[Type], *, base: BTF | None = None) -> BTF:
        """A BTF made of ``types`` (ids consecutive from 1, or from ``len(base)``; no void).

        Goes through the wire format, so the result is validated exactly like
        parsed data (ids in range, no loops).  Edit types with
        ``dataclasses.replace`` and rebuild with this.
        """
        from .marshal import encode

        return cls.parse(encode(types, base=base), base=base)

    def replace_types(self, *replacements: Type) -> BTF:
        """A copy with the given types swapped in at their own ids."""
        own = list(self.own_types)
        for t in replacements:
            pos = t.id - self.first_id
            if not 0 <= pos < len(own):
                raise TypeNotFoundError(f"type id {t.id} is not one of this BTF's own types")
            own[pos] = t
        from .marshal import encode

        # Keep the string table so offsets others hold (.BTF.ext) stay valid.
        return BTF.parse(encode(own, base=self.base, strings=self.strings), base=self.base)

    @classmethod
    def from_file(cls, path: str | Path, *, base: BTF | None = None) -> BTF:
        """Read raw BTF, or the .BTF section of an ELF object."""
        data = Path(path).read_bytes()
        if data[:4] != b"\x7fELF":
            return cls.parse(data, base=base)
        data = elf_section(data, ".BTF", path=str(path))
        try:
            return cls.parse(data, base=base)
        except BTFError as exc:
            raise exc.in_section(".BTF") from exc

    @property
    def byteorder(self) -> str:
        """``"<"`` (little-endian) or ``">"``: the byte order the blob was written in."""
        return self.header.byteorder if self.header is not None else "<"

    # -- sequence of types ---------------------------------------------------

    @property
    def types(self) -> Sequence[Type]:
        """All types indexed by id; ``types[0]`` is void (base types included for split BTF)."""
        return self._types

    @property
    def own_types(self) -> Sequence[Type]:
        """Types defined by this blob (not its base), in id order."""
        return self._types[self.first_id :] if self.base is not None else self._types[1:]

    def __len__(self) -> int:
        """Number of type ids, counting void: valid ids are ``0 .. len(btf) - 1``."""
        return len(self._types)

    def __iter__(self) -> Iterator[Type]:
        return iter(self._types)

    def __getitem__(self, type_id: int) -> Type:
        if 0 <= type_id < len(self._types):
            return self._types[type_id]
        raise TypeNotFoundError(f"type id {type_id} out of range (BTF has {len(self._types)} types)")

    # -- lookups -------------------------------------------------------------

    def _name_index(self) -> dict[str, list[int]]:
        index = self._by_name
        if index is None:
            index = {}
            for t in self._types:
                if t.name:
                    index.setdefault(t.name, []).append(t.id)
            self._by_name = index
        return index

    def find_all(self, name: str, kind: Kind | None = None) -> list[Type]:
        """Every type called ``name`` (optionally of ``kind``), in id order."""
        ids = self._name_index().get(name, [])
        found = [self._types[i] for i in ids]
        if kind is not None:
            found = [t for t in found if t.kind == kind]
        return found

    def find(self, name: str, kind: Kind | None = None) -> Type:
        """The first type called ``name`` (optionally of ``kind``); TypeNotFoundError if none."""
        found = self.find_all(name, kind)
        if not found:
            what = f"{kind.name} " if kind is not None else ""
            raise TypeNotFoundError(f"no {what}type named {name!r} in BTF")
        return found[0]

    def name_of(self, type_id: int) -> str:
        """The type's own name ("" when anonymous)."""
        return self[type_id].name

    # -- resolution ----------------------------------------------------------

    def resolve_id(self, type_id: int) -> int:
        """Skip typedefs, const/volatile/restrict and type tags; return the underlying id."""
        seen: set[int] | None = None
        t = self[type_id]
        while t.kind in MODIFIER_KINDS:
            if seen is None:
                seen = set()
            if t.id in seen:
                raise BTFError(f"type loop through [{t.id}] while resolving [{type_id}]")
            seen.add(t.id)
            t = self[t.type_id]  # type: ignore[union-attr]
        return t.id

    def resolve(self, type_id: int) -> Type:
        """The type behind ``type_id`` once typedefs and modifiers are skipped."""
        return self._types[self.resolve_id(type_id)]

    def sizeof(self, type_id: int) -> int:
        """Size in bytes of a value of ``type_id`` (pointers: 8); BTFError for sizeless kinds."""
        multiplier = 1
        seen: set[int] = set()
        tid = type_id
        while True:
            if tid in seen:
                raise BTFError(f"type loop through [{tid}] while sizing [{type_id}]")
            seen.add(tid)
            t = self[tid]
            if isinstance(t, Int | Enum | Enum64 | Struct | Union | Float | Datasec):
                return multiplier * t.size
            if isinstance(t, Ptr):
                return multiplier * POINTER_SIZE
            if isinstance(t, Array):
                multiplier *= t.nelems
                tid = t.type_id
            elif isinstance(t, Var) or t.kind in MODIFIER_KINDS:
                tid = t.type_id  # type: ignore[union-attr]
            else:
                raise BTFError(f"type [{tid}] ({t.kind.name}) has no size")

    def alignof(self, type_id: int, *, _depth: int = 0) -> int:
        """Natural alignment of ``type_id`` as the compiler lays it out."""
        if _depth > 256:
            raise BTFError(f"types nested too deep (or by-value loop) below [{type_id}]")
        seen: set[int] = set()
        tid = type_id
        while True:
            if tid in seen:
                raise BTFError(f"type loop through [{tid}] while aligning [{type_id}]")
            seen.add(tid)
            t = self[tid]
            if isinstance(t, Int):
                return min(t.size, 16) or 1  # __int128 is 16-byte aligned on BPF
            if isinstance(t, Enum | Enum64 | Float):
                return min(t.size, POINTER_SIZE) or 1
            if isinstance(t, Ptr):
                return POINTER_SIZE
            if isinstance(t, Array | Var) or t.kind in MODIFIER_KINDS:
                tid = t.type_id  # type: ignore[union-attr]
            elif isinstance(t, Struct | Union):
                return max((self.alignof(m.type_id, _depth=_depth + 1) for m in t.members), default=1)
            else:
                raise BTFError(f"type [{tid}] ({t.kind.name}) has no alignment")

    # -- members -------------------------------------------------------------

    def members(self, type_id: int) -> tuple[Member, ...]:
        """Members of the struct/union behind ``type_id`` (after resolve)."""
        t = self.resolve(type_id)
        if not isinstance(t, Struct | Union):
            raise BTFError(f"type [{type_id}] is {t.kind.name}, not a struct or union")
        return t.members

    def find_member(self, type_id: int, name: str) -> tuple[Member, int]:
        """Member ``name`` of a struct/union and its bit offset from the outer start.

        Anonymous struct/union members are searched recursively (as C allows
        ``outer.inner_field``).  Bitfields keep their bit-precise offset.
        """
        found = self._find_member(type_id, name, 0, 0)
        if found is None:
            raise TypeNotFoundError(f"no member {name!r} in {self.type_str(type_id)}")
        return found

    def _find_member(self, type_id: int, name: str, base_bits: int, depth: int) -> tuple[Member, int] | None:
        if depth > 64:
            raise BTFError(f"anonymous members nested too deep in [{type_id}]")
        for m in self.members(type_id):
            if m.name == name:
                return m, base_bits + m.bits_offset
        for m in self.members(type_id):
            if not m.name and isinstance(self.resolve(m.type_id), Struct | Union):
                inner = self._find_member(m.type_id, name, base_bits + m.bits_offset, depth + 1)
                if inner is not None:
                    return inner
        return None

    def member_offset(self, type_id: int, path: str) -> int:
        """Bit offset of a dotted member path (``"a.b.c"``, array indices as ``"a[2]"``)."""
        bits = 0
        tid = type_id
        for part in path.split("."):
            name, _, rest = part.partition("[")
            if name:
                member, off = self.find_member(tid, name)
                bits += off
                tid = member.type_id
            while rest:
                idx_text, _, rest = rest.partition("]")
                rest = rest.removeprefix("[")
                arr = self.resolve(tid)
                if not isinstance(arr, Array) or not (idx_text.isascii() and idx_text.isdigit()):
                    raise BTFError(f"cannot index {self.type_str(tid)} with [{idx_text}] in {path!r}")
                bits += int(idx_text) * self.sizeof(arr.type_id) * 8
                tid = arr.type_id
        return bits

    # -- presentation ----------------------------------------------------------

    def type_str(self, type_id: int, *, _depth: int = 0) -> str:
        """A short C-like spelling: ``int``, ``struct foo *``, ``const char[16]``."""
        if _depth > 64:
            raise BTFError(f"type chain through [{type_id}] too deep (loop?)")
        t = self[type_id]
        if isinstance(t, Void):
            return "void"
        if isinstance(t, Struct | Union | Fwd) or t.kind in (Kind.ENUM, Kind.ENUM64):
            tag = {Kind.STRUCT: "struct", Kind.UNION: "union", Kind.ENUM: "enum", Kind.ENUM64: "enum"}
            word = ("union" if t.is_union else "struct") if isinstance(t, Fwd) else tag[t.kind]
            return f"{word} {t.name or '(anon)'}"
        if isinstance(t, Ptr):
            return self.type_str(t.type_id, _depth=_depth + 1) + " *"
        if isinstance(t, Array):
            return f"{self.type_str(t.type_id, _depth=_depth + 1)}[{t.nelems}]"
        if t.kind in (Kind.CONST, Kind.VOLATILE, Kind.RESTRICT):
            return f"{t.kind.name.lower()} {self.type_str(t.type_id, _depth=_depth + 1)}"  # type: ignore[union-attr]
        if t.kind == Kind.TYPE_TAG:
            return self.type_str(t.type_id, _depth=_depth + 1)  # type: ignore[union-attr]
        if isinstance(t, FuncProto):
            args = ", ".join(
                "..." if p.type_id == 0 else self.type_str(p.type_id, _depth=_depth + 1) for p in t.params
            )
            return f"{self.type_str(t.return_type_id, _depth=_depth + 1)} (*)({args or 'void'})"
        if isinstance(t, Func):
            return f"{t.name}: {self.type_str(t.type_id, _depth=_depth + 1)}"
        return t.name or f"({t.kind.name.lower()})"

    def __repr__(self) -> str:
        split = f", split over {len(self.base)} base types" if self.base is not None else ""
        return f"<BTF {len(self._types)} types{split}>"

    # -- validation ----------------------------------------------------------

    def _check_chain_loops(self) -> None:
        """Reject cycles through modifiers, typedefs, type tags, pointers and array elements.

        The kernel refuses such BTF too; rejecting it here means no later walk
        (resolve, sizeof, the C dumper) can loop forever on parsed data.
        """
        types = self._types
        ok = bytearray(len(types))  # 1: known to end in a non-chain type
        ok[0] = 1
        chain = _CHAIN_KINDS
        for t in self.own_types:
            if ok[t.id] or t.kind not in chain:
                continue
            path: list[int] = []
            on_path: set[int] = set()
            cur: Type = t
            while not ok[cur.id] and cur.kind in chain:
                if cur.id in on_path:
                    raise BTFError(f"type loop: [{cur.id}] {cur.kind.name} refers back to itself")
                on_path.add(cur.id)
                path.append(cur.id)
                cur = types[cur.type_id]  # type: ignore[union-attr]
            for i in path:
                ok[i] = 1


def elf_section(data: bytes, name: str, *, path: str = "") -> bytes:
    """The bytes of section ``name`` of an ELF image (used to reach .BTF / .BTF.ext)."""
    import io
    import struct
    import zlib

    from elftools.common.exceptions import ELFError
    from elftools.construct.core import ConstructError
    from elftools.elf.elffile import ELFFile

    where = path or "ELF object"
    try:
        elf = ELFFile(io.BytesIO(data))
        section = elf.get_section_by_name(name)
        body = None if section is None else section.data()
    except (
        ELFError,
        ConstructError,
        struct.error,
        zlib.error,
        ValueError,
        KeyError,
        IndexError,
        EOFError,
        TypeError,
        AttributeError,
        OverflowError,
        MemoryError,
    ) as exc:
        # pyelftools reports truncated or corrupt images with assorted exceptions.
        raise BTFError(f"cannot read {name} from {where}: {exc or type(exc).__name__}") from exc
    if body is None:
        raise BTFError(f"{where} has no {name} section (built without -g?)")
    if not isinstance(body, bytes):
        body = bytes(body)
    return body
