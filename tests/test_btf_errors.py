"""Malformed BTF always raises BTFError (with an offset), never anything else.

Hand-built blobs check each validation; a seeded mutation fuzzer (bit flips,
word overwrites, truncations of real clang-built BTF) checks that no other
exception escapes parse, the queries, or the dumpers.
"""

from __future__ import annotations

import contextlib
import random
import struct
from pathlib import Path

import pytest

from btf_util import KITCHEN_SOURCE, compile_bpf, fixture_objects
from pybpf.btf import BTF, BTFExt, Kind, dump_c, dump_json, dump_raw, marshal
from pybpf.btf.spec import elf_section
from pybpf.errors import BTFError


def blob(types: bytes, strings: bytes = b"\0int\0", *, hdr: dict[str, int] | None = None) -> bytes:
    """Assemble a little-endian BTF blob; ``hdr`` overrides header fields."""
    fields = {
        "magic": 0xEB9F,
        "version": 1,
        "flags": 0,
        "hdr_len": 24,
        "type_off": 0,
        "type_len": len(types),
        "str_off": len(types),
        "str_len": len(strings),
    }
    fields.update(hdr or {})
    head = struct.pack("<HBBIIIII", *fields.values())
    return head + types + strings


def rec(name_off: int, kind: Kind, vlen: int, size_or_type: int, *, kflag: int = 0) -> bytes:
    return struct.pack("<III", name_off, kflag << 31 | kind << 24 | vlen, size_or_type)


INT = rec(1, Kind.INT, 0, 4) + struct.pack("<I", 1 << 24 | 32)


def test_minimal_blob_parses() -> None:
    btf = BTF.parse(blob(INT + rec(0, Kind.PTR, 0, 1)))
    assert btf[1].name == "int" and btf.sizeof(2) == 8
    assert dump_raw(btf) == (
        "[1] INT 'int' size=4 bits_offset=0 nr_bits=32 encoding=SIGNED\n[2] PTR '(anon)' type_id=1\n"
    )


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "too short"),
        (b"\x9f\xeb\x01", "truncated"),
        (b"\x00\x00" + blob(INT)[2:], "magic"),
        (blob(INT, hdr={"version": 2}), "version"),
        (blob(INT, hdr={"hdr_len": 8}), "hdr_len"),
        (blob(INT, hdr={"hdr_len": 4096}), "hdr_len"),
        (blob(INT, hdr={"type_len": 4096}), "type section"),
        (blob(INT, hdr={"str_len": 4096}), "string section"),
        (blob(INT, hdr={"type_off": 2}), "aligned|overlap|beyond"),
        (blob(INT, b"\0int"), "NUL-terminated"),
        (blob(INT, b"x\0int\0"), "empty string"),
        (blob(rec(99, Kind.INT, 0, 4) + struct.pack("<I", 32)), "string offset 99"),
        (blob(rec(0, Kind.PTR, 0, 7)), "type id 7 out of range"),
        (blob(INT + rec(0, Kind.STRUCT, 1, 4) + struct.pack("<III", 0, 9, 0)), "type id 9"),
        (blob(struct.pack("<III", 0, 25 << 24, 0)), "unknown kind 25"),
        (blob(struct.pack("<III", 0, 0, 0)), "unknown kind 0"),
        (blob(INT[:10]), "truncated"),
        (blob(rec(0, Kind.STRUCT, 3, 4) + b"\0" * 12), "truncated"),
        (blob(rec(1, Kind.FUNC, 7, 0)), "linkage"),
        (blob(rec(0, Kind.TYPEDEF, 0, 1)), "loop"),
        (blob(INT + rec(0, Kind.ARRAY, 0, 0) + struct.pack("<III", 2, 1, 4)), "loop"),
        (blob(rec(0, Kind.CONST, 0, 2) + rec(0, Kind.VOLATILE, 0, 3) + rec(0, Kind.PTR, 0, 1)), "loop"),
    ],
)
def test_malformed_blob(data: bytes, match: str) -> None:
    with pytest.raises(BTFError, match=match) as info:
        BTF.parse(data)
    assert "offset" in str(info.value) or info.value.offset is None


def test_error_carries_record_offset() -> None:
    with pytest.raises(BTFError) as info:
        BTF.parse(blob(INT + rec(0, Kind.PTR, 0, 42)))
    assert info.value.offset == 24 + len(INT)


def test_big_endian_header_is_read() -> None:
    big = (
        struct.pack(">HBBIIIII", 0xEB9F, 1, 0, 24, 0, 12, 12, 5)
        + struct.pack(">III", 1, 2 << 24, 0)
        + b"\0int\0"
    )
    btf = BTF.parse(big)
    assert btf[1].kind == Kind.PTR and btf[1].name == "int"


def test_struct_by_value_loop_does_not_hang() -> None:
    """struct A { struct A a; } cannot come from a compiler; queries must still terminate."""
    data = blob(rec(1, Kind.STRUCT, 1, 4) + struct.pack("<III", 0, 1, 0))
    btf = BTF.parse(data)
    assert btf.sizeof(1) == 4
    with pytest.raises(BTFError):
        btf.alignof(1)
    with pytest.raises(BTFError):
        btf.find_member(1, "zzz")


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    obj = compile_bpf(KITCHEN_SOURCE, tmp_path_factory.mktemp("btffuzz"), "kitchen")
    out = [elf_section(obj.read_bytes(), ".BTF")]
    out += [elf_section(p.read_bytes(), ".BTF") for p in fixture_objects()[:6:3]]
    return out


def exercise(data: bytes) -> None:
    """Everything a caller might do with parsed BTF."""
    btf = BTF.parse(data)
    dump_raw(btf)
    dump_json(btf)
    assert BTF.parse(marshal(btf)).types == btf.types
    with contextlib.suppress(BTFError):  # e.g. a struct that contains itself by value
        dump_c(btf)
    for t in btf.types:
        for query in (btf.resolve, btf.sizeof, btf.alignof, btf.type_str):
            with contextlib.suppress(BTFError):
                query(t.id)


def mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    choice = rng.randrange(5)
    if choice == 0 or len(buf) < 32:
        return bytes(buf[: rng.randrange(len(buf) + 1)])
    if choice == 1:  # flip bits
        for _ in range(rng.randint(1, 4)):
            buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
    elif choice == 2:  # overwrite a 32-bit word with an interesting value
        pos = rng.randrange(0, len(buf) - 4) & ~3
        value = rng.choice([0, 1, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, rng.getrandbits(32), 1 << 31 | 4 << 24 | 1])
        struct.pack_into("<I", buf, pos, value)
    elif choice == 3:  # header field
        pos = rng.choice([2, 3, 4, 8, 12, 16, 20])
        struct.pack_into("<I" if pos >= 4 else "<B", buf, pos, rng.getrandbits(32 if pos >= 4 else 8) % 4096)
    else:  # kind byte of a random record-aligned word
        pos = 24 + (rng.randrange(0, len(buf) - 28) & ~3) + 3
        buf[pos] = rng.randrange(256)
    return bytes(buf)


def test_mutation_fuzz_only_btferror(seeds: list[bytes]) -> None:
    rng = random.Random(0xB7F)
    outcomes = {"ok": 0, "error": 0}
    for i in range(3000):
        data = mutate(rng, seeds[i % len(seeds)])
        try:
            exercise(data)
            outcomes["ok"] += 1
        except BTFError:
            outcomes["error"] += 1
    assert outcomes["ok"] > 100 and outcomes["error"] > 100, outcomes


def test_ext_and_elf_mutation_fuzz(tmp_path: Path) -> None:
    obj = compile_bpf(KITCHEN_SOURCE, tmp_path, "kitchen")
    elf = obj.read_bytes()
    btf = BTF.parse(elf_section(elf, ".BTF"))
    ext = elf_section(elf, ".BTF.ext")
    rng = random.Random(7)
    for _ in range(1000):
        data = bytearray(ext)
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            del data[rng.randrange(len(data)) :]
        with contextlib.suppress(BTFError):
            BTFExt.parse(bytes(data), btf)
    for _ in range(300):
        data = bytearray(elf)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            del data[rng.randrange(len(data)) :]
        path = tmp_path / "m.o"
        path.write_bytes(bytes(data))
        with contextlib.suppress(BTFError):
            BTF.from_file(path)
