"""``pybpf map ...`` against the VM bpffs, run as a user would (subprocesses, real files)."""

from __future__ import annotations

import os
from pathlib import Path

from cli_util import Pybpf


def test_hash_map_verbs(tmp_path: Path) -> None:
    pb = Pybpf(tmp_path)
    m = str(tmp_path / "counts")
    pb("map", "create", m, "type", "hash", "key", "4", "value", "4", "entries", "16", "name", "counts")
    pb(
        "map",
        "update",
        "pinned",
        m,
        "key",
        "0x01",
        "0x00",
        "0x00",
        "0x00",
        "value",
        "hex",
        "2a",
        "00",
        "00",
        "00",
        "any",
    )
    pb(
        "map",
        "update",
        "pinned",
        m,
        "key",
        "hex",
        "02",
        "00",
        "00",
        "00",
        "value",
        "7",
        "0",
        "0",
        "0",
        "noexist",
    )
    assert pb("-j", "map", "lookup", "pinned", m, "key", "1", "0", "0", "0").json() == {
        "key": ["0x01", "0x00", "0x00", "0x00"],
        "value": ["0x2a", "0x00", "0x00", "0x00"],
    }
    dump = pb("-j", "map", "dump", "pinned", m).json()
    assert sorted((e["key"][0], e["value"][0]) for e in dump) == [("0x01", "0x2a"), ("0x02", "0x07")]
    text = pb("map", "dump", "name", "counts").out
    assert "01 00 00 00" in text and "2a 00 00 00" in text and "Found 2 elements" in text
    first = pb("-j", "map", "getnext", "pinned", m).json()["next_key"]
    second = pb("-j", "map", "getnext", "pinned", m, "key", *first).json()
    assert {first[0], second["next_key"][0]} == {"0x01", "0x02"} and second["key"] == first
    shown = pb("-j", "m", "s").json()  # prefixes, as bpftool accepts them
    assert [(s["name"], s["type"], s["bytes_key"], s["bytes_value"], s["max_entries"]) for s in shown] == [
        ("counts", "hash", 4, 4, 16)
    ]
    assert shown[0]["pinned"] == [m]
    map_id = str(shown[0]["id"])
    assert pb("-j", "map", "show", "id", map_id).json()["name"] == "counts"
    pb("map", "delete", "id", map_id, "key", "2", "0", "0", "0")
    assert len(pb("-j", "map", "dump", "id", map_id).json()) == 1
    # /sys/fs/bpf/NAME means NAME inside the VM bpffs, as do relative paths
    assert len(pb("-j", "map", "dump", "pinned", "/sys/fs/bpf/counts").json()) == 1
    assert "counts" in pb("map", "show").out  # rich table

    # errors: one line, what was wrong and what was expected, non-zero exit, no traceback
    err = pb.fails("map", "lookup", "pinned", m, "key", "1", "0", "0").err
    assert "key expected 4 bytes, got 3" in err
    err = pb.fails("map", "update", "pinned", m, "key", "1", "0", "0", "0", "value", "zz", "0", "0", "0").err
    assert "'zz' is not a byte" in err
    doc = pb.fails("-j", "map", "update", "pinned", m, "key", "1", "0", "0", "0", "value", "1", "0").json()
    assert "value expected 4 bytes, got 2" in doc["error"]
    assert "nothing pinned" in pb.fails("map", "dump", "pinned", str(tmp_path / "nope")).err
    assert "unknown verb 'frobnicate'" in pb.fails("map", "frobnicate").err
    assert len(pb("-j", "m", "d", "pinned", m).json()) == 1  # bpftool: "d" is dump, first in its table
    assert "not found" in pb.fails("map", "lookup", "pinned", m, "key", "9", "0", "0", "0").err
    assert (
        "File exists"
        in pb.fails(
            "map", "create", m, "type", "hash", "key", "4", "value", "4", "entries", "1", "name", "x"
        ).err
    )
    assert (
        "unknown map type"
        in pb.fails(
            "map",
            "create",
            str(tmp_path / "y"),
            "type",
            "hashy",
            "key",
            "4",
            "value",
            "4",
            "entries",
            "1",
            "name",
            "y",
        ).err
    )
    assert "not inside the VM bpffs" in pb.fails("map", "dump", "pinned", "/etc/passwd").err

    # pins: a second name; plain rm of either keeps the map until the last one goes
    m2 = str(tmp_path / "again")
    pb("map", "pin", "pinned", m, m2)
    os.unlink(m)
    assert pb("-j", "map", "lookup", "pinned", m2, "key", "1", "0", "0", "0").json()["value"][0] == "0x2a"
    assert pb("-j", "map", "show").json()[0]["pinned"] == [m2]
    os.unlink(m2)
    assert pb("-j", "map", "show").json() == []


def test_queue_array_and_freeze(tmp_path: Path) -> None:
    pb = Pybpf(tmp_path)
    q = str(tmp_path / "q")
    pb("map", "create", q, "type", "queue", "key", "0", "value", "4", "entries", "4", "name", "q")
    pb("map", "push", "pinned", q, "value", "1", "0", "0", "0")
    pb("map", "enqueue", "pinned", q, "value", "2", "0", "0", "0")
    peeked = pb("-j", "map", "peek", "pinned", q).json()
    assert peeked == {"key": [], "value": ["0x01", "0x00", "0x00", "0x00"]}  # bpftool's shape
    assert pb("-j", "map", "pop", "pinned", q).json()["value"][0] == "0x01"
    assert pb("map", "dequeue", "pinned", q).out.strip() == "value: 02 00 00 00"
    assert "empty" in pb.fails("map", "pop", "pinned", q).err

    a = str(tmp_path / "a")
    pb(
        "map",
        "create",
        a,
        "type",
        "array",
        "key",
        "4",
        "value",
        "8",
        "entries",
        "2",
        "name",
        "arr",
        "flags",
        "0",
    )
    assert len(pb("-j", "map", "dump", "pinned", a).json()) == 2
    pb("map", "update", "pinned", a, "key", "1", "0", "0", "0", "value", *["0xff"] * 8)
    pb("map", "freeze", "pinned", a)
    assert pb("-j", "map", "show", "pinned", a).json()["frozen"] == 1
    pb.fails("map", "update", "pinned", a, "key", "1", "0", "0", "0", "value", *["0"] * 8)
    assert pb("-j", "map", "lookup", "pinned", a, "key", "1", "0", "0", "0").json()["value"] == ["0xff"] * 8
