"""``pybpf map VERB ...``: maps, with bpftool's grammar and JSON shapes.

Maps are named by ``id N``, ``pinned PATH`` or ``name NAME``; keys and values
are bytes (``key 0x01 0 0 0``, ``value hex 2a 00 00 00``).  The store is the VM
bpffs by default, the kernel with ``--backend kernel``.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from typing import Any

import click

from ..errors import BPFError
from .keywords import keyword_command, match_prefix
from .mapdata import hex_list, hex_text, parse_bytes
from .options import emit_json, options
from .refs import no_more, parse_ref
from .store import OpenMap, current_store

MAP_REF = "id N | pinned PATH | name NAME"
GRAMMAR = f"""Usage: pybpf map {{ show | list }} [MAP]
       pybpf map create PATH type TYPE key KEY_SIZE value VALUE_SIZE entries MAX_ENTRIES
                        name NAME [flags FLAGS]
       pybpf map dump MAP
       pybpf map update MAP key DATA value VALUE [UPDATE_FLAGS]
       pybpf map lookup MAP key DATA
       pybpf map getnext MAP [key DATA]
       pybpf map delete MAP key DATA
       pybpf map pin MAP PATH
       pybpf map peek MAP
       pybpf map push MAP value VALUE
       pybpf map pop MAP
       pybpf map enqueue MAP value VALUE
       pybpf map dequeue MAP
       pybpf map freeze MAP
       pybpf map help

       MAP := {{ {MAP_REF} }}
       DATA := {{ [hex] BYTES }}
       VALUE := {{ [hex] BYTES }}
       UPDATE_FLAGS := {{ any | exist | noexist }}
       BYTES: one word per byte, 0x2a / 42 / 052, or after 'hex' 2a
       PATH: a pin in the VM bpffs ($PYBPF_FS; /sys/fs/bpf/X means X in it), or bpffs with --backend kernel
"""

UPDATE_FLAGS = {"any": 0, "noexist": 1, "exist": 2}
_KEY_STOP = ("value", *UPDATE_FLAGS)


def _open(args: list[str]) -> tuple[OpenMap, list[str]]:
    ref, rest = parse_ref(args, what="MAP")
    return current_store().open_map(ref), rest


def _formatted(om: OpenMap, key: bytes | None, value: bytes | None) -> dict[str, Any] | None:
    if om.btf is None:
        return None
    from .btf_format import btf_value

    out: dict[str, Any] = {}
    try:
        if key is not None and om.key_type_id:
            out["key"] = btf_value(om.btf, om.key_type_id, key)
        if value is not None:
            out["value"] = btf_value(om.btf, om.value_type_id, value)
    except BPFError:
        return None
    return out


def _formatted_percpu(om: OpenMap, key: bytes | None, values: list[bytes]) -> dict[str, Any] | None:
    """bpftool's per-CPU ``formatted``: the key, then one value per CPU."""
    one = _formatted(om, key, values[0]) if values else None
    if one is None:
        return None
    out: dict[str, Any] = {"key": one["key"]} if "key" in one else {}
    from .btf_format import btf_value

    try:
        out["values"] = [
            {"cpu": i, "value": btf_value(om.btf, om.value_type_id, v)} for i, v in enumerate(values)
        ]
    except BPFError:
        return None
    return out


def _entry_json(
    om: OpenMap, key: bytes | None, value: bytes | list[bytes] | OSError | None
) -> dict[str, Any]:
    rec: dict[str, Any] = {}
    if key is not None:
        rec["key"] = hex_list(key)
    if isinstance(value, OSError):
        rec["value"] = {"error": value.strerror}  # bpftool keeps the key and prints why
    elif isinstance(value, list):
        rec["values"] = [{"cpu": i, "value": hex_list(v)} for i, v in enumerate(value)]
        fmt = _formatted_percpu(om, key, value)
        if fmt:
            rec["formatted"] = fmt
    elif value is not None:
        rec["value"] = hex_list(value)
        fmt = _formatted(om, key, value)
        if fmt:
            rec["formatted"] = fmt
    return rec


def _strerror(code: int) -> str:
    """strerror(3) as bpftool prints it (``Unknown error 524`` for the kernel's ENOTSUPP)."""
    return os.strerror(code)


def _entry_text(key: bytes | None, value: bytes | list[bytes] | None) -> list[str]:
    parts = []
    if key:  # a keyless map (queue, stack) prints only its value, as bpftool does
        parts.append(f"key: {hex_text(key)}")
    if isinstance(value, list):
        return [
            parts[0] if parts else "",
            *(f"value (CPU {i:02d}): {hex_text(v)}" for i, v in enumerate(value)),
        ]
    if value is not None:
        parts.append(f"value: {hex_text(value)}")
    return ["  ".join(parts)]


def _lookup(om: OpenMap, key: bytes) -> bytes | list[bytes]:
    try:
        if om.percpu:
            return [bytes(v) for v in om.map.lookup_percpu(key)]
        return bytes(om.map.lookup(key))
    except KeyError:
        raise BPFError(f"key {hex_text(key)} not found (lookup failed: No such file or directory)") from None


def _key(om: OpenMap, args: list[str], start: int, *, what: str = "key") -> tuple[bytes, int]:
    parsed = parse_bytes(args, start, int(om.info["bytes_key"]), what=what, stop=_KEY_STOP)
    return parsed.data, parsed.next_index


def _value(om: OpenMap, args: list[str], start: int) -> tuple[bytes, int]:
    parsed = parse_bytes(args, start, int(om.info["bytes_value"]), what="value", stop=tuple(UPDATE_FLAGS))
    return parsed.data, parsed.next_index


def _expect(args: list[str], i: int, word: str, grammar: str) -> int:
    if i >= len(args):
        raise click.UsageError(f"missing '{word}' (expected: {grammar})")
    match_prefix(args[i], [word], what="keyword")
    return i + 1


# ------------------------------------------------------------------ verbs
def show(args: list[str]) -> None:
    store = current_store()
    if args:
        ref, rest = parse_ref(args, what="MAP")
        no_more(rest, f"map show [{MAP_REF}]")
        records = [store.map(ref)]
    else:
        records = store.maps()
    if options().json:
        emit_json(records[0] if args else records)
        return
    from .table import print_table

    print_table(
        None,
        ("id", "type", "name", "flags", "key", "value", "max_entries", "memlock", "frozen", "pinned"),
        [
            (
                m["id"],
                m["type"],
                m["name"],
                f"{m['flags']:#x}",
                f"{m['bytes_key']}B",
                f"{m['bytes_value']}B",
                m["max_entries"],
                f"{m.get('bytes_memlock', 0)}B",
                "yes" if m.get("frozen") else "no",
                "\n".join(m.get("pinned", [])),
            )
            for m in records
        ],
    )


def create(args: list[str]) -> None:
    from .keywords import Keyword, parse_keywords, text_arg

    if not args:
        raise click.UsageError("missing PATH (map create PATH type TYPE key K value V entries N name NAME)")
    path = args[0]
    kw = parse_keywords(
        args[1:],
        (
            Keyword("type", "TYPE", required=True),
            Keyword("key", "KEY_SIZE", required=True),
            Keyword("value", "VALUE_SIZE", required=True),
            Keyword("entries", "MAX_ENTRIES", required=True),
            Keyword("name", "NAME", required=True),
            Keyword("flags", "FLAGS"),
        ),
    )
    from ..uapi import MapType

    tname = text_arg(kw, "type") or ""
    names = {t.uapi_name: t for t in MapType}
    if tname not in names:
        raise click.UsageError(f"unknown map type {tname!r} (expected one of: {', '.join(names)})")

    def num(key: str) -> int:
        raw = text_arg(kw, key) or ""
        try:
            return int(raw, 0)
        except ValueError:
            raise click.UsageError(f"{key} {raw!r} is not a number") from None

    current_store().map_create(
        path,
        map_type=names[tname],
        key=num("key"),
        value=num("value"),
        entries=num("entries"),
        name=text_arg(kw, "name") or "",
        flags=num("flags") if "flags" in kw else 0,
    )


def dump(args: list[str]) -> None:
    om, rest = _open(args)
    try:
        no_more(rest, f"map dump {MAP_REF}")
        entries: list[tuple[bytes | None, bytes | list[bytes] | OSError]] = []
        # Maps without keys (queue, stack, ring buffer, bloom filter) dump as empty, as in bpftool.
        keyless = om.info["bytes_key"] == 0 or om.info["type"] in (
            "queue",
            "stack",
            "ringbuf",
            "bloom_filter",
        )
        key = None if keyless else om.map.next_key(None)
        while key is not None:
            try:
                entries.append((bytes(key), _lookup(om, bytes(key))))
            except BPFError as exc:
                code = int(getattr(exc, "errno", 0) or 0)
                if code not in (0, errno.ENOENT):  # ENOENT: deleted while walking
                    entries.append((bytes(key), OSError(code, _strerror(code))))
            key = om.map.next_key(bytes(key))
        if options().json:
            emit_json([_entry_json(om, k, v) for k, v in entries])
            return
        from .table import print_table

        fmt = om.btf is not None
        cols = ("key", "value", "formatted") if fmt else ("key", "value")
        rows = []
        for k, v in entries:
            if isinstance(v, OSError):
                rows.append([hex_text(k or b""), f"<{v.strerror}>", *([None] if fmt else [])])
                continue
            values = "\n".join(hex_text(x) for x in v) if isinstance(v, list) else hex_text(v)
            row: list[Any] = [hex_text(k or b""), values]
            if fmt:
                import json

                f = _formatted(om, k, v if isinstance(v, bytes) else None)
                row.append(json.dumps(f) if f else None)
            rows.append(row)
        print_table(None, cols, rows)
        click.echo(f"Found {len(entries)} element{'s' if len(entries) != 1 else ''}")
    finally:
        om.close()


def lookup(args: list[str]) -> None:
    om, rest = _open(args)
    try:
        i = _expect(rest, 0, "key", f"map lookup {{{MAP_REF}}} key DATA")
        key, i = _key(om, rest, i)
        no_more(rest[i:], "map lookup MAP key DATA")
        _print_one(om, key, _lookup(om, key))
    finally:
        om.close()


def _print_one(om: OpenMap, key: bytes | None, value: bytes | list[bytes]) -> None:
    if options().json:
        emit_json(_entry_json(om, key, value))
        return
    for line in _entry_text(key, value):
        click.echo(line)
    fmt = _formatted(om, key, value) if isinstance(value, bytes) else None
    if fmt:
        import json

        click.echo(json.dumps(fmt))


def update(args: list[str]) -> None:
    om, rest = _open(args)
    try:
        grammar = "map update MAP key DATA value VALUE [any|exist|noexist]"
        i = _expect(rest, 0, "key", grammar)
        key, i = _key(om, rest, i)
        i = _expect(rest, i, "value", grammar)
        value, i = _value(om, rest, i)
        flags = 0
        if i < len(rest):
            flags = UPDATE_FLAGS[match_prefix(rest[i], list(UPDATE_FLAGS), what="update flag")]
            i += 1
        no_more(rest[i:], grammar)
        try:
            if om.percpu:
                om.map.update_percpu(key, [value] * _ncpu(om), flags)
            else:
                om.map.update(key, value, flags)
        except KeyError:
            raise BPFError(f"update failed: key {hex_text(key)} does not exist (flag exist)") from None
    finally:
        om.close()


def _ncpu(om: OpenMap) -> int:
    """How many per-CPU values an update writes: the VM map's CPUs, or the kernel's possible CPUs."""
    count = getattr(om.map, "num_cpus", 0)
    if count:
        return int(count)
    from ..kernel.cpus import possible_cpus

    return possible_cpus()


def delete(args: list[str]) -> None:
    om, rest = _open(args)
    try:
        i = _expect(rest, 0, "key", "map delete MAP key DATA")
        key, i = _key(om, rest, i)
        no_more(rest[i:], "map delete MAP key DATA")
        try:
            om.map.delete(key)
        except KeyError:
            raise BPFError(f"delete failed: key {hex_text(key)} not found") from None
    finally:
        om.close()


def getnext(args: list[str]) -> None:
    om, rest = _open(args)
    try:
        key: bytes | None = None
        i = 0
        if rest:
            i = _expect(rest, 0, "key", "map getnext MAP [key DATA]")
            key, i = _key(om, rest, i)
        no_more(rest[i:], "map getnext MAP [key DATA]")
        try:
            nxt = om.map.next_key(key)
        except KeyError:
            nxt = None
        if nxt is None:
            raise BPFError("can't get next key: No such file or directory (no more keys)")
        if options().json:
            out: dict[str, Any] = {
                "key": hex_list(key) if key is not None else None,
                "next_key": hex_list(bytes(nxt)),
            }
            emit_json(out)
        else:
            click.echo(f"key: {hex_text(key) if key is not None else 'None'}")
            click.echo(f"next key: {hex_text(bytes(nxt))}")
    finally:
        om.close()


_QUEUE_TYPES = ("queue", "stack")


def _need_type(om: OpenMap, verb: str, types: tuple[str, ...]) -> None:
    """bpftool's push/pop/peek work on keyless maps; say so instead of a bare EINVAL."""
    kind = str(om.info["type"])
    if kind not in types:
        alt = "lookup/update/delete" if int(om.info["bytes_key"]) else "dump"
        name = om.info["name"] or om.info["id"]
        raise BPFError(
            f"map {verb} needs a {' or '.join(types)} map, {name} is a {kind} map",
            hint=f"use map {alt} on it",
        )


def _take(args: list[str], *, delete: bool, verb: str) -> None:
    om, rest = _open(args)
    try:
        no_more(rest, f"map {verb} MAP")
        _need_type(om, verb, _QUEUE_TYPES)
        try:
            if delete:
                value = om.map.pop() if hasattr(om.map, "pop") else om.map.lookup_and_delete(None)
            else:
                value = om.map.peek() if hasattr(om.map, "peek") else om.map.lookup(None)
        except KeyError:
            raise BPFError(f"{verb}: the map is empty") from None
        _print_one(om, b"", bytes(value))  # bpftool shows the empty key of a keyless map as []
    finally:
        om.close()


def _put(args: list[str], verb: str) -> None:
    om, rest = _open(args)
    try:
        grammar = f"map {verb} MAP value VALUE"
        _need_type(om, verb, (*_QUEUE_TYPES, "bloom_filter"))
        i = _expect(rest, 0, "value", grammar)
        value, i = _value(om, rest, i)
        no_more(rest[i:], grammar)
        if hasattr(om.map, "push"):
            om.map.push(value)
        else:
            om.map.update(None, value)
    finally:
        om.close()


def freeze(args: list[str]) -> None:
    om, rest = _open(args)
    try:
        no_more(rest, "map freeze MAP")
        om.map.freeze()
    finally:
        om.close()


def pin(args: list[str]) -> None:
    ref, rest = parse_ref(args, what="MAP")
    if len(rest) != 1:
        raise click.UsageError(f"expected: map pin {{{MAP_REF}}} PATH")
    current_store().map_pin(ref, rest[0])


def help_verb(args: list[str]) -> None:
    click.echo(GRAMMAR.rstrip("\n"))


Handler = Callable[[list[str]], None]
#: verb -> handler, in bpftool's table order: a prefix means the first verb it fits (``map d`` = dump).
VERBS: dict[str, Handler] = {
    "show": show,
    "list": show,
    "help": help_verb,
    "dump": dump,
    "update": update,
    "lookup": lookup,
    "getnext": getnext,
    "delete": delete,
    "pin": pin,
    "create": create,
    "peek": lambda a: _take(a, delete=False, verb="peek"),
    "push": lambda a: _put(a, "push"),
    "enqueue": lambda a: _put(a, "enqueue"),
    "pop": lambda a: _take(a, delete=True, verb="pop"),
    "dequeue": lambda a: _take(a, delete=True, verb="dequeue"),
    "freeze": freeze,
}


map_cmd = keyword_command("map", "Create, inspect and edit maps.", GRAMMAR, VERBS)
