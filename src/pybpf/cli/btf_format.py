"""Map keys and values as bpftool's ``formatted`` JSON, from their BTF types.

Ints as numbers (signed by their encoding), ``char[]`` as strings, structs and
unions as objects, arrays as lists, enums by enumerator name, pointers as hex
strings, a DATASEC (global data) as its variables by name: what ``bpftool map
dump`` prints for a map that has BTF.
"""

from __future__ import annotations

from typing import Any

from ..btf.types import Array, Datasec, Enum, Enum64, Int, Ptr, Struct, Union, Var

_MAX_DEPTH = 32


def btf_value(btf: Any, type_id: int, raw: bytes, off: int = 0, depth: int = 0) -> Any:
    """The JSON value of the ``type_id`` object that starts at ``raw[off]``."""
    if depth > _MAX_DEPTH:
        return None
    t = btf.resolve(type_id)
    size = btf.sizeof(type_id)
    chunk = raw[off : off + size]
    if isinstance(t, Int):
        if t.bool:
            return bool(int.from_bytes(chunk, "little"))
        value = int.from_bytes(chunk, "little", signed=t.signed)
        if t.nr_bits and t.nr_bits < 8 * size:
            value = (value >> t.bits_offset) & ((1 << t.nr_bits) - 1)
        return value
    if isinstance(t, (Enum, Enum64)):
        value = int.from_bytes(chunk, "little", signed=t.signed)
        for ev in t.values:
            if ev.value == value:
                return ev.name
        return value
    if isinstance(t, Ptr):
        return int.from_bytes(chunk, "little")  # bpftool -j prints pointers as unsigned numbers
    if isinstance(t, Array):
        elem = btf.resolve(t.type_id)
        if isinstance(elem, Int) and elem.size == 1 and (elem.char or elem.name in ("char", "signed char")):
            return chunk.split(b"\0", 1)[0].decode("latin-1")
        esize = btf.sizeof(t.type_id)
        return [btf_value(btf, t.type_id, raw, off + i * esize, depth + 1) for i in range(t.nelems)]
    if isinstance(t, Datasec):
        # A global-data map's value: {".data": [{"var": value}, ...]}, in section order.
        entries = []
        for v in t.vars:
            var = btf[v.type_id]
            if isinstance(var, Var):
                entries.append({var.name: btf_value(btf, var.type_id, raw, off + v.offset, depth + 1)})
        return {t.name: entries}
    if isinstance(t, (Struct, Union)):
        out: dict[str, Any] = {}
        for m in t.members:
            if m.is_bitfield:
                word = int.from_bytes(raw[off : off + size], "little")
                out[m.name] = (word >> m.bits_offset) & ((1 << m.bitfield_size) - 1)
            else:
                out[m.name] = btf_value(btf, m.type_id, raw, off + m.bits_offset // 8, depth + 1)
        return out
    return int.from_bytes(chunk, "little") if size <= 8 else [f"{b:#04x}" for b in chunk]
