"""``pybpf prog ...``, ``feature``, ``net``, ``link``, ``btf show`` and help, against the VM bpffs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cli_util import FIX, Pybpf

OBJ = str(FIX / "xdp_srcip.v3.o")


def test_prog_load_show_pin_dump_run(tmp_path: Path) -> None:
    pb = Pybpf(tmp_path)
    p = str(tmp_path / "xs")
    pb("prog", "load", OBJ, p)
    shown = pb("-j", "p", "s").json()
    assert [(s["name"], s["type"], s["pinned"]) for s in shown] == [("xdp_srcip", "xdp", [p])]
    prog = shown[0]
    assert len(prog["tag"]) == 16 and prog["bytes_xlated"] > 0 and prog["gpl_compatible"] is True
    assert pb("-j", "prog", "show", "pinned", p).json()["id"] == prog["id"]
    assert pb("-j", "prog", "show", "name", "xdp_srcip").json()["id"] == prog["id"]
    maps = {m["name"]: m for m in pb("-j", "map", "show").json()}
    assert sorted(m["id"] for m in maps.values()) == prog["map_ids"]
    assert (maps["pkt_count"]["bytes_key"], maps["pkt_count"]["bytes_value"]) == (4, 8)

    # dump xlated of a loaded program: bpftool's flat JSON list and its text
    xl = pb("-j", "prog", "dump", "xlated", "pinned", p, "opcodes").json()
    assert xl[0]["proto"] == "int xdp_srcip(struct xdp_md * ctx)"
    assert all("disasm" in r and "opcodes" in r for r in xl)
    text = pb("prog", "dump", "xlated", "id", str(prog["id"]), "linum").out
    assert "int xdp_srcip(struct xdp_md * ctx):" in text and "line_num:" in text and "   0: (" in text

    # runs in later processes see the same pinned (file-backed) maps
    frame = tmp_path / "frame"
    frame.write_bytes(bytes(64))
    out = pb("prog", "run", "pinned", p, "data_in", str(frame), "repeat", "5").out
    assert "Return value: 2" in out
    pb("prog", "run", "id", str(prog["id"]), "data_in", str(frame))
    dump = pb("-j", "map", "dump", "name", "pkt_count").json()
    assert dump[0]["formatted"] == {"key": 0, "value": 6}
    assert dump[0]["value"] == ["0x06"] + ["0x00"] * 7

    # a second pin, then rm of both: the program and its maps are freed
    p2 = str(tmp_path / "xs2")
    pb("prog", "pin", "pinned", p, p2)
    os.unlink(p)
    assert pb("-j", "prog", "show").json()[0]["pinned"] == [p2]
    os.unlink(p2)
    assert pb("-j", "prog", "show").json() == []
    assert pb("-j", "map", "show").json() == []

    # errors
    assert "nothing pinned" in pb.fails("prog", "show", "pinned", p).err
    assert "no program with id 99" in pb.fails("prog", "show", "id", "99").err
    assert "cannot read" in pb.fails("prog", "load", str(tmp_path / "missing.o"), p).err
    assert "unknown program type" in pb.fails("prog", "load", OBJ, p, "type", "nope").err
    assert "is not a number" in pb.fails("-j", "prog", "show", "id", "x").json()["error"]


def test_loadall_pinmaps_and_map_reuse(tmp_path: Path) -> None:
    pb = Pybpf(tmp_path)
    pb("prog", "loadall", OBJ, str(tmp_path / "progs"), "pinmaps", str(tmp_path / "maps"))
    assert os.path.exists(tmp_path / "progs" / "xdp_srcip")
    assert os.path.exists(tmp_path / "maps" / "pkt_count")
    first = pb("-j", "prog", "show", "pinned", str(tmp_path / "progs" / "xdp_srcip")).json()
    pinned_map = str(tmp_path / "maps" / "pkt_count")
    pb("prog", "load", OBJ, str(tmp_path / "again"), "map", "name", "pkt_count", "pinned", pinned_map)
    second = pb("-j", "prog", "show", "pinned", str(tmp_path / "again")).json()
    map_id = pb("-j", "map", "show", "pinned", pinned_map).json()["id"]
    assert map_id in first["map_ids"] and map_id in second["map_ids"]
    # a pinned map of another shape is refused, as libbpf refuses it
    bad = str(tmp_path / "bad")
    pb("map", "create", bad, "type", "hash", "key", "8", "value", "8", "entries", "4", "name", "bad")
    err = pb.fails("prog", "load", OBJ, str(tmp_path / "x"), "map", "name", "pkt_count", "pinned", bad).err
    assert "the object expects" in err


def test_help_feature_net_link_btf(tmp_path: Path) -> None:
    pb = Pybpf(tmp_path)
    assert "Commands:" in pb("--help").out
    for obj, marker in (("prog", "PROG :="), ("map", "MAP :="), ("net", "dev NAME"), ("link", "LINK :=")):
        assert marker in pb(obj, "help").out
        assert marker in pb(obj, "--help").out
    assert "map help" in pb.fails("map", "lookup", "id").err
    feats = pb("-j", "feature", "probe").json()
    assert feats["program_types"]["have_xdp_prog_type"] is True
    assert feats["map_types"]["have_hash_map_type"] is True
    assert "bpf_map_lookup_elem" in feats["helpers"]["xdp_available_helpers"]
    assert "eBPF map_type hash is available" in pb("feature").out
    assert pb("-j", "net", "show").json() == [{"xdp": [], "tc": [], "flow_dissector": []}]
    assert pb("-j", "link", "show").json() == []
    assert pb("-j", "btf", "show").json() == []
    # python -m pybpf.cli.main keeps --json (the module is imported twice there)
    proc = subprocess.run(
        [sys.executable, "-m", "pybpf.cli.main", "-j", "map", "show"],
        capture_output=True,
        text=True,
        env=pb.env,
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "[]"
    proc = subprocess.run(["pybpf", "-j", "m", "list"], capture_output=True, text=True, env=pb.env)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]"
