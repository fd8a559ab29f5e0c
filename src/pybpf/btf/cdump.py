"""``bpftool btf dump file F format c``: BTF as a compilable C header (vmlinux.h).

The output is meant to be identical to bpftool's (libbpf's btf_dump), so the
algorithm follows the same published rules:

1. *Ordering.*  Every type id is visited in order; a depth-first walk puts the
   named definitions a type needs (struct members by value, typedef targets,
   array elements) in front of it.  A named struct/union reached only through
   a pointer needs no definition first: a forward declaration suffices, which
   is how self-referential and mutually recursive structs are broken up.
   Anonymous structs/unions/enums are defined inline where they are used.
2. *Emission.*  Each queued definition is printed; before it, forward
   declarations for the types it mentions are printed when they are not
   defined yet.  Declarators are built from the chain of pointer, array,
   const/volatile/restrict, type-tag and function-prototype types down to a
   named type, with C's inside-out syntax (``int (*f[4])(void)``).
3. *Names.*  A second type with an already-used name is printed as
   ``name___2`` (struct/union/enum names and typedef/enumerator identifiers
   are separate namespaces), numbered in emission order.
4. *Layout.*  Gaps between members become explicit ``<type>: N;`` padding,
   and a struct whose members cannot be naturally aligned is marked
   ``__attribute__((packed))``, so the header reproduces the exact layout.
"""

from __future__ import annotations

import sys

from ..errors import BTFError
from .spec import BTF
from .types import (
    Array,
    Enum,
    Enum64,
    Float,
    FuncProto,
    Fwd,
    Int,
    Kind,
    Ptr,
    Struct,
    Type,
    Typedef,
    Union,
)

HEADER = (
    "#ifndef __VMLINUX_H__\n"
    "#define __VMLINUX_H__\n"
    "\n"
    "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n"
    "#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n"
    "#endif\n"
    "\n"
)
FOOTER = (
    "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n"
    "#pragma clang attribute pop\n"
    "#endif\n"
    "\n"
    "#endif /* __VMLINUX_H__ */\n"
)

_PTR_SIZE = 8
#: Larger member gaps (corrupt sizes/offsets) would print millions of padding lines.
_MAX_PADDING_BITS = 1 << 20
_NOT_ORDERED, _ORDERING, _ORDERED = 0, 1, 2
_NOT_EMITTED, _EMITTING, _EMITTED = 0, 1, 2

#: ARM NEON polynomial types clang knows as builtins but BTF carries as INTs.
_MISSING_ALIASES = {
    "__Poly8_t": "unsigned char",
    "__Poly16_t": "unsigned short",
    "__Poly64_t": "unsigned long long",
    "__Poly128_t": "unsigned __int128",
}

_CHAIN_KINDS = frozenset(
    {Kind.PTR, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.FUNC_PROTO, Kind.TYPE_TAG, Kind.ARRAY}
)
_TERMINAL_KINDS = frozenset(
    {Kind.INT, Kind.ENUM, Kind.ENUM64, Kind.FWD, Kind.STRUCT, Kind.UNION, Kind.TYPEDEF, Kind.FLOAT}
)
_MOD_WORDS = {Kind.VOLATILE: "volatile", Kind.CONST: "const", Kind.RESTRICT: "restrict"}


def dump_c(btf: BTF) -> str:
    """The whole header bpftool prints for ``format c``."""
    dumper = CDumper(btf)
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old_limit, 20000))
    try:
        body = dumper.dump_all()
    except RecursionError as exc:
        raise BTFError("types nested too deeply to dump as C") from exc
    finally:
        sys.setrecursionlimit(old_limit)
    return HEADER + body + FOOTER


def _pfx(lvl: int) -> str:
    return "\t" * lvl


class CDumper:
    """State of one C dump: ordering/emission state per id and the name tables."""

    def __init__(self, btf: BTF) -> None:
        self.btf = btf
        self.types = btf.types
        n = len(btf.types)
        self.order_state = bytearray(n)
        self.emit_state = bytearray(n)
        self.fwd_emitted = bytearray(n)
        self.referenced = bytearray(n)
        self.name_resolved = bytearray(n)
        self.cached_names: dict[int, str] = {}
        self.type_names: dict[str, int] = {}
        self.ident_names: dict[str, int] = {}
        self.out: list[str] = []
        self.queue: list[int] = []
        self._mark_referenced()

    # -- driver ----------------------------------------------------------------

    def dump_all(self) -> str:
        # Split BTF is dumped together with its base: the header must be complete.
        for type_id in range(1, len(self.types)):
            self.dump_type(type_id)
        return "".join(self.out)

    def dump_type(self, type_id: int) -> None:
        self.queue = []
        if self._order(type_id, through_ptr=False) < 0:
            raise BTFError(f"unsatisfiable type cycle through [{type_id}]; cannot dump as C")
        for queued in self.queue:
            self._emit_type(queued, 0)

    def _mark_referenced(self) -> None:
        ref = self.referenced
        for t in self.types[1:]:
            if isinstance(t, Struct | Union):
                for m in t.members:
                    ref[m.type_id] = 1
            elif isinstance(t, FuncProto):
                for p in t.params:
                    ref[p.type_id] = 1
            elif isinstance(t, Array):
                ref[t.type_id] = 1
                ref[t.index_type_id] = 1
            elif t.kind == Kind.DATASEC:
                for v in t.vars:  # type: ignore[union-attr]
                    ref[v.type_id] = 1
            elif hasattr(t, "type_id"):
                ref[t.type_id] = 1

    # -- ordering --------------------------------------------------------------

    def _order(self, type_id: int, through_ptr: bool) -> int:
        """Queue the named definitions ``type_id`` needs; >0 if it is a "strong" (complete) type.

        Returns -1 for an unsatisfiable cycle (a struct containing itself by value).
        """
        state = self.order_state
        if state[type_id] == _ORDERED:
            return 1
        t = self.types[type_id]
        kind = t.kind
        if state[type_id] == _ORDERING:
            if kind in (Kind.STRUCT, Kind.UNION) and through_ptr and t.name:
                return 0
            return -1
        if kind in (Kind.INT, Kind.FLOAT):
            state[type_id] = _ORDERED
            return 0
        if kind == Kind.PTR:
            err = self._order(t.type_id, True)  # type: ignore[union-attr]
            state[type_id] = _ORDERED
            return err
        if isinstance(t, Array):
            return self._order(t.type_id, False)
        if isinstance(t, Struct | Union):
            if through_ptr and t.name:
                return 0
            state[type_id] = _ORDERING
            for m in t.members:
                if self._order(m.type_id, False) < 0:
                    return -1
            if t.name:
                self.queue.append(type_id)
            state[type_id] = _ORDERED
            return 1
        if kind in (Kind.ENUM, Kind.ENUM64, Kind.FWD):
            if t.name or not self.referenced[type_id]:
                self.queue.append(type_id)
            state[type_id] = _ORDERED
            return 1
        if isinstance(t, Typedef):
            strong = self._order(t.type_id, through_ptr)
            if strong < 0:
                return strong
            if through_ptr and not strong:
                return 0
            self.queue.append(type_id)
            state[type_id] = _ORDERED
            return 1
        if kind in (Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG):
            return self._order(t.type_id, through_ptr)  # type: ignore[union-attr]
        if isinstance(t, FuncProto):
            err = self._order(t.return_type_id, through_ptr)
            if err < 0:
                return err
            strong = err > 0
            for p in t.params:
                err = self._order(p.type_id, through_ptr)
                if err < 0:
                    return err
                if err > 0:
                    strong = True
            return int(strong)
        # void, FUNC, VAR, DATASEC, DECL_TAG: nothing to define
        state[type_id] = _ORDERED
        return 0

    # -- names -----------------------------------------------------------------

    def _name_dups(self, table: dict[str, int], name: str) -> int:
        count = table.get(name, 0) + 1
        table[name] = count
        return count

    def _resolve_name(self, type_id: int, table: dict[str, int]) -> str:
        t = self.types[type_id]
        if not t.name:
            return ""
        if self.name_resolved[type_id]:
            return self.cached_names.get(type_id, t.name)
        self.name_resolved[type_id] = 1
        if isinstance(t, Fwd) or (isinstance(t, Enum) and not t.values):
            return t.name
        dups = self._name_dups(table, t.name)
        if dups > 1:
            self.cached_names[type_id] = f"{t.name}___{dups}"
        return self.cached_names.get(type_id, t.name)

    def type_name(self, type_id: int) -> str:
        return self._resolve_name(type_id, self.type_names)

    def ident_name(self, type_id: int) -> str:
        return self._resolve_name(type_id, self.ident_names)

    # -- emission --------------------------------------------------------------

    def _emit_type(self, type_id: int, cont_id: int) -> None:
        emit = self.emit_state
        if emit[type_id] == _EMITTED:
            return
        t = self.types[type_id]
        kind = t.kind
        out = self.out
        top_level = cont_id == 0
        if emit[type_id] == _EMITTING:
            if self.fwd_emitted[type_id]:
                return
            if isinstance(t, Struct | Union):
                if type_id == cont_id or not t.name:
                    return
                out.append(self._struct_fwd(type_id, t))
                out.append(";\n\n")
                self.fwd_emitted[type_id] = 1
            elif isinstance(t, Typedef):
                if t.name != "__builtin_va_list":
                    self._emit_typedef_def(type_id, t, 0)
                    out.append(";\n\n")
                self.fwd_emitted[type_id] = 1
            return

        if isinstance(t, Int):
            alias = _MISSING_ALIASES.get(t.name)
            if alias is not None:
                out.append(f"typedef {alias} {t.name};\n\n")
            emit[type_id] = _EMITTED
        elif isinstance(t, Enum | Enum64):
            if top_level:
                self._emit_enum_def(type_id, t, 0)
                out.append(";\n\n")
            emit[type_id] = _EMITTED
        elif kind in (Kind.PTR, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG):
            self._emit_type(t.type_id, cont_id)  # type: ignore[union-attr]
        elif isinstance(t, Array):
            self._emit_type(t.type_id, cont_id)
        elif isinstance(t, Fwd):
            out.append(self._fwd_def(type_id, t))
            out.append(";\n\n")
            emit[type_id] = _EMITTED
        elif isinstance(t, Typedef):
            emit[type_id] = _EMITTING
            self._emit_type(t.type_id, type_id)
            if not self.fwd_emitted[type_id] and t.name != "__builtin_va_list":
                self._emit_typedef_def(type_id, t, 0)
                out.append(";\n\n")
            emit[type_id] = _EMITTED
        elif isinstance(t, Struct | Union):
            emit[type_id] = _EMITTING
            if top_level or not t.name:
                new_cont = cont_id if not t.name else type_id
                for m in t.members:
                    self._emit_type(m.type_id, new_cont)
            elif not self.fwd_emitted[type_id] and type_id != cont_id:
                out.append(self._struct_fwd(type_id, t))
                out.append(";\n\n")
                self.fwd_emitted[type_id] = 1
            if top_level:
                self._emit_struct_def(type_id, t, 0)
                out.append(";\n\n")
                emit[type_id] = _EMITTED
            else:
                emit[type_id] = _NOT_EMITTED
        elif isinstance(t, FuncProto):
            self._emit_type(t.return_type_id, cont_id)
            for p in t.params:
                self._emit_type(p.type_id, cont_id)

    def _struct_fwd(self, type_id: int, t: Struct | Union) -> str:
        word = "struct" if isinstance(t, Struct) else "union"
        return f"{word}{' ' if t.name else ''}{self.type_name(type_id)}"

    def _fwd_def(self, type_id: int, t: Fwd) -> str:
        return f"{'union' if t.is_union else 'struct'} {self.type_name(type_id)}"

    def _emit_typedef_def(self, type_id: int, t: Typedef, lvl: int) -> None:
        name = self.ident_name(type_id)
        if t.type_id == 0 and name == "__gnuc_va_list":
            self.out.append("typedef __builtin_va_list __gnuc_va_list")
            return
        self.out.append("typedef ")
        self._emit_type_decl(t.type_id, name, lvl)

    def _emit_enum_def(self, type_id: int, t: Enum | Enum64, lvl: int) -> None:
        out = self.out
        out.append(f"enum{' ' if t.name else ''}{self.type_name(type_id)}")
        if not t.values:
            return
        out.append(" {")
        pad = _pfx(lvl + 1)
        suffix = ("LL" if t.signed else "ULL") if isinstance(t, Enum64) else ""
        for v in t.values:
            dups = self._name_dups(self.ident_names, v.name)
            name = f"{v.name}___{dups}" if dups > 1 else v.name
            out.append(f"\n{pad}{name} = {v.value}{suffix},")
        out.append(f"\n{_pfx(lvl)}}}")
        # libbpf 1.1 (the bpftool this mirrors) prints no mode(byte)/mode(word)
        # attribute for 1- and 8-byte enums, so neither do we.

    # -- struct layout ---------------------------------------------------------

    def align_of(self, type_id: int, depth: int = 0) -> int:
        """libbpf's btf__align_of: natural alignment, 1 for a struct that must be packed."""
        if depth > 512:
            raise BTFError(f"types nested too deeply below [{type_id}]")
        t = self.types[type_id]
        if isinstance(t, Int | Enum | Enum64 | Float):
            return min(_PTR_SIZE, t.size)
        if isinstance(t, Ptr):
            return _PTR_SIZE
        if isinstance(t, Array):
            return self.align_of(t.type_id, depth + 1)
        if t.kind in (Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG):
            return self.align_of(t.type_id, depth + 1)  # type: ignore[union-attr]
        if isinstance(t, Struct | Union):
            max_align = 1
            for m in t.members:
                align = self.align_of(m.type_id, depth + 1)
                if align <= 0:
                    return align
                max_align = max(max_align, align)
                if m.bitfield_size == 0 and m.bits_offset % (8 * align):
                    return 1
            return 1 if t.size % max_align else max_align
        return 0

    def _is_packed(self, t: Struct) -> bool:
        max_align = 1
        for m in t.members:
            align = self.align_of(m.type_id)
            if align and m.bitfield_size == 0 and m.bits_offset % (8 * align):
                return True
            max_align = max(align, max_align)
        return t.size % max_align != 0

    def _resolve_size(self, type_id: int) -> int:
        try:
            return self.btf.sizeof(type_id)
        except BTFError:
            return 0

    def _emit_bit_padding(self, cur: int, nxt: int, next_align: int, in_bitfield: bool, lvl: int) -> None:
        if cur >= nxt:
            return
        if nxt - cur > _MAX_PADDING_BITS:
            raise BTFError(f"padding gap of {(nxt - cur) // 8} bytes at bit {cur} is implausible for C")
        pads = (("long", _PTR_SIZE * 8), ("int", 32), ("short", 16), ("char", 8))
        # The widest padding type whose next natural boundary does not pass ``nxt``.
        choice = len(pads) - 1
        for i, (_name, bits) in enumerate(pads):
            if -(-cur // bits) * bits <= nxt:
                choice = i
                break
        pad_type, pad_bits = pads[choice]
        new_off = -(-cur // pad_bits) * pad_bits
        out = self.out
        pfx = _pfx(lvl)
        if cur < new_off <= nxt:
            aligned_next = -(-cur // (next_align * 8)) * (next_align * 8) if next_align else cur
            if (
                in_bitfield
                or (new_off == nxt and aligned_next != new_off)
                or (new_off != nxt and nxt - new_off <= new_off - cur)
            ):
                out.append(f"\n{pfx}{pad_type}: {new_off - cur if in_bitfield else 0};")
            cur = new_off
        while cur != nxt:
            bits = min(nxt - cur, pad_bits)
            if bits == pad_bits:
                out.append(f"\n{pfx}{pad_type}: {pad_bits};")
                cur += bits
                continue
            for pad_type, pad_bits in reversed(pads):
                if pad_bits < bits:
                    continue
                out.append(f"\n{pfx}{pad_type}: {bits};")
                cur += bits
                break

    def _emit_struct_def(self, type_id: int, t: Struct | Union, lvl: int) -> None:
        out = self.out
        is_struct = isinstance(t, Struct)
        align = self.align_of(type_id)
        packed = self._is_packed(t) if isinstance(t, Struct) else False
        out.append(f"{'struct' if is_struct else 'union'}{' ' if t.name else ''}{self.type_name(type_id)} {{")
        off = 0
        prev_bitfield = False
        for m in t.members:
            m_align = 1 if packed else self.align_of(m.type_id)
            in_bitfield = prev_bitfield and m.bitfield_size != 0
            self._emit_bit_padding(off, m.bits_offset, m_align, in_bitfield, lvl + 1)
            out.append(f"\n{_pfx(lvl + 1)}")
            self._emit_type_decl(m.type_id, m.name, lvl + 1)
            if m.bitfield_size:
                out.append(f": {m.bitfield_size}")
                off = m.bits_offset + m.bitfield_size
                prev_bitfield = True
            else:
                off = m.bits_offset + max(0, self._resolve_size(m.type_id)) * 8
                prev_bitfield = False
            out.append(";")
        if is_struct:
            self._emit_bit_padding(off, t.size * 8, align, False, lvl + 1)
        if t.members or t.size:
            out.append(f"\n{_pfx(lvl)}}}")
        else:
            out.append("}")
        if packed:
            out.append(" __attribute__((packed))")

    # -- declarators -----------------------------------------------------------

    def _emit_type_decl(self, type_id: int, fname: str, lvl: int) -> None:
        stack: list[int] = []
        tid = type_id
        for _ in range(len(self.types) + 1):
            stack.append(tid)
            if tid == 0:
                break
            t = self.types[tid]
            if t.kind in _CHAIN_KINDS:
                tid = t.return_type_id if isinstance(t, FuncProto) else t.type_id  # type: ignore[union-attr]
            else:
                break
        else:
            raise BTFError(f"declarator chain of [{type_id}] loops")
        self._emit_type_chain(stack, fname, lvl)

    def _emit_mods(self, stack: list[int]) -> None:
        while stack:
            word = _MOD_WORDS.get(self.types[stack[-1]].kind) if stack[-1] else None
            if word is None:
                return
            self.out.append(word + " ")
            stack.pop()

    def _drop_mods(self, stack: list[int]) -> None:
        while stack and stack[-1] and self.types[stack[-1]].kind in _MOD_WORDS:
            stack.pop()

    def _emit_name(self, fname: str, last_was_ptr: bool) -> None:
        self.out.append((" " if fname and not last_was_ptr else "") + fname)

    def _emit_type_chain(self, stack: list[int], fname: str, lvl: int) -> None:
        out = self.out
        last_was_ptr = True
        while stack:
            tid = stack.pop()
            if tid == 0:
                self._emit_mods(stack)
                out.append("void")
                last_was_ptr = False
                continue
            t: Type = self.types[tid]
            kind = t.kind
            if isinstance(t, Int | Float):
                self._emit_mods(stack)
                out.append(t.name)
            elif isinstance(t, Struct | Union):
                self._emit_mods(stack)
                if not t.name:
                    self._emit_struct_def(tid, t, lvl)
                else:
                    out.append(self._struct_fwd(tid, t))
            elif isinstance(t, Enum | Enum64):
                self._emit_mods(stack)
                if not t.name:
                    self._emit_enum_def(tid, t, lvl)
                else:
                    out.append(f"enum {self.type_name(tid)}")
            elif isinstance(t, Fwd):
                self._emit_mods(stack)
                out.append(self._fwd_def(tid, t))
            elif isinstance(t, Typedef):
                self._emit_mods(stack)
                out.append(self.ident_name(tid))
            elif kind == Kind.PTR:
                out.append("*" if last_was_ptr else " *")
            elif kind in _MOD_WORDS:
                out.append(" " + _MOD_WORDS[kind])
            elif kind == Kind.TYPE_TAG:
                self._emit_mods(stack)
                out.append(f' __attribute__((btf_type_tag("{t.name}")))')
            elif isinstance(t, Array):
                self._drop_mods(stack)
                if not stack:
                    self._emit_name(fname, last_was_ptr)
                    out.append(f"[{t.nelems}]")
                    return
                multidim = stack[-1] != 0 and self.types[stack[-1]].kind == Kind.ARRAY
                if fname and not last_was_ptr:
                    out.append(" ")
                if not multidim:
                    out.append("(")
                self._emit_type_chain(stack, fname, lvl)
                if not multidim:
                    out.append(")")
                out.append(f"[{t.nelems}]")
                return
            elif isinstance(t, FuncProto):
                self._drop_mods(stack)
                if stack:
                    out.append(" (")
                    self._emit_type_chain(stack, fname, lvl)
                    out.append(")")
                else:
                    self._emit_name(fname, last_was_ptr)
                out.append("(")
                params = t.params
                if not params or (len(params) == 1 and params[0].type_id == 0):
                    out.append("void)")
                    return
                for i, p in enumerate(params):
                    if i:
                        out.append(", ")
                    if i == len(params) - 1 and p.type_id == 0:
                        out.append("...")
                        break
                    self._emit_type_decl(p.type_id, p.name, lvl)
                out.append(")")
                return
            else:
                return
            last_was_ptr = kind == Kind.PTR
        self._emit_name(fname, last_was_ptr)
