"""bpftool's grammar, run as a user would: prefixes, help for every object and verb, -p, errors.

Each command is a real ``pybpf`` subprocess on a VM bpffs in a temporary folder
(``PYBPF_FS``), so what is checked is what a shell user sees: stdout, stderr,
exit code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cli_util import FIX, Pybpf

OBJ = str(FIX / "xdp_srcip.v3.o")
K1 = ("key", "1", "0", "0", "0")


@pytest.fixture
def pb(tmp_path: Path) -> Pybpf:
    return Pybpf(tmp_path)


def test_prefixes_resolve_like_bpftool(pb: Pybpf, tmp_path: Path) -> None:
    """A prefix means the first word of bpftool's table it fits (``m d`` is dump, ``p l`` list)."""
    m = str(tmp_path / "m")
    pb("m", "cr", m, "t", "hash", "k", "4", "v", "4", "e", "8", "n", "m")  # map create, keywords too
    pb("m", "u", "p", m, *K1, "v", "hex", "2a", "0", "0", "0", "a")  # update ... value ... any
    pb("m", "upd", "pin", m, "k", "2", "0", "0", "0", "val", "7", "0", "0", "0", "noe")
    assert pb("-j", "m", "loo", "p", m, *K1).json()["value"] == ["0x2a", "0x00", "0x00", "0x00"]
    assert len(pb("-j", "m", "d", "p", m).json()) == 2  # d -> dump (before delete, dequeue)
    assert pb("-j", "m", "g", "p", m).json()["next_key"]  # g -> getnext
    pb("m", "del", "p", m, "k", "2", "0", "0", "0")
    assert [e["key"][0] for e in pb("-j", "m", "d", "p", m).json()] == ["0x01"]
    assert pb("-j", "m", "s", "n", "m").json()["name"] == "m"  # s -> show, n -> name
    assert [x["name"] for x in pb("-j", "m", "l").json()] == ["m"]  # l -> list

    pb("p", "lo", OBJ, str(tmp_path / "xs"))  # lo -> load (list has only the 'l')
    assert [p["name"] for p in pb("-j", "p", "s").json()] == ["xdp_srcip"]
    assert [p["name"] for p in pb("-j", "p", "l").json()] == ["xdp_srcip"]  # l -> list, not load
    text = pb("p", "d", "x", "p", str(tmp_path / "xs"), "li", "op").out  # dump xlated ... linum opcodes
    map_id = pb("-j", "map", "show", "name", "pkt_count").json()["id"]
    assert "line_num:" in text and f"r1 = map[id:{map_id}]" in text  # the loaded map's id, as the kernel's
    assert f"18 11 00 00 {map_id:02x} 00 00 00 00 00 00 00 00 00 00 00" in text  # 16 bytes of a lddw
    pb("p", "loada", OBJ, str(tmp_path / "all"))  # loada -> loadall
    assert os.path.exists(tmp_path / "all" / "xdp_srcip")

    assert "[1] PTR" in pb("b", "d", "f", OBJ).out  # btf dump file
    assert "class XdpSrcipSkel" in pb("g", "s", OBJ).out  # gen skeleton
    assert pb("-j", "f", "p").json()["map_types"]["have_hash_map_type"] is True  # feature probe
    assert pb("-j", "n", "s").json() == [{"xdp": [], "tc": [], "flow_dissector": []}]
    assert pb("-j", "l", "s").json() == []


def test_global_options_anywhere_like_getopt(pb: Pybpf, tmp_path: Path) -> None:
    """``bpftool map show -j`` works (getopt finds options anywhere); so does pybpf's."""
    m = str(tmp_path / "m")
    pb("map", "create", m, "type", "hash", "key", "4", "value", "4", "entries", "2", "name", "m")
    assert pb("map", "show", "-j").json() == pb("-j", "map", "show").json()
    assert pb("map", "show", "pinned", m, "-p").out.startswith("{\n  ")
    assert pb("m", "s", "-jp").json()[0]["name"] == "m"
    assert (
        pb.fails("map", "lookup", "pinned", m, *K1, "--json")
        .json()["error"]
        .endswith("No such file or directory)")
    )
    assert "Traceback" in pb("map", "lookup", "pinned", m, *K1, "-d", ok=False).err
    assert pb("btf", "dump", "file", OBJ, "-j").json() == pb("-j", "btf", "dump", "file", OBJ).json()
    # an object's own option stays with it: -B makes the ids follow vmlinux's
    split = pb("btf", "dump", "-B", "/sys/kernel/btf/vmlinux", "file", OBJ, "-j").json()
    assert split["types"][0]["id"] > 1000


def test_pretty_json_is_indented_and_equal(pb: Pybpf, tmp_path: Path) -> None:
    pb("prog", "load", OBJ, str(tmp_path / "xs"))
    for args in (("prog", "show"), ("map", "show"), ("map", "dump", "name", "pkt_count")):
        plain = pb("-j", *args).out
        pretty = pb("-p", *args).out
        assert "\n  " in pretty and "\n" not in plain.strip()
        assert json.loads(pretty) == json.loads(plain)
    err = pb.fails("-p", "map", "show", "id", "77")
    assert err.out.startswith('{\n  "error": ') and json.loads(err.out)["error"] == "no map with id 77"


GRAMMARS = {
    "prog": ("pybpf.cli.cmd_prog", "PROG :="),
    "map": ("pybpf.cli.cmd_map", "MAP :="),
    "btf": ("pybpf.cli.cmd_btf", "BTF_SRC :="),
    "gen": ("pybpf.cli.cmd_gen", "NAME:"),
    "net": ("pybpf.cli.cmd_net", "dev NAME"),
    "link": ("pybpf.cli.cmd_link", "LINK :="),
    "feature": ("pybpf.cli.cmd_feature", "feature probe"),
}


def _in_process(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """``pybpf ARGV`` through the same entry point, in this process (help text only: fast)."""
    from pybpf.cli.main import main

    assert main(list(argv)) == 0, argv
    return capsys.readouterr().out


def test_help_shows_the_grammar_of_every_object_and_verb(
    pb: Pybpf, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib

    top = pb("--help").out  # the top-level help lists every object with a one-line summary
    assert _in_process(capsys, "help") == top
    for obj, (module_name, marker) in GRAMMARS.items():
        assert f"  {obj} " in top
        out = pb(obj, "help").out  # one real subprocess per object
        assert f"pybpf {obj}" in out and marker in out, (obj, out)
        for how in ("--help", "-h"):
            assert marker in _in_process(capsys, obj, how), (obj, how)
        for verb in importlib.import_module(module_name).VERBS:
            if verb == "help":
                continue
            out = _in_process(capsys, obj, verb, "--help")
            usage = [line for line in out.splitlines() if line.lstrip().startswith(("Usage:", "pybpf"))]
            assert usage and all(f"pybpf {obj}" in line for line in usage), (obj, verb, out)
            assert any(verb in line for line in usage), (obj, verb, out)


def test_error_paths_one_line_json_and_debug(pb: Pybpf, tmp_path: Path) -> None:
    m = str(tmp_path / "m")
    pb("map", "create", m, "type", "hash", "key", "4", "value", "4", "entries", "4", "name", "m")
    cases = [
        # (args, what the one line must say, exit code)
        (("map", "lookup", "pinned", m, "key", "1", "0"), "key expected 4 bytes, got 2", 2),
        (("map", "update", "pinned", m, *K1, "value", "0xfff", "0", "0", "0"), "does not fit in a byte", 2),
        (("map", "update", "pinned", m, *K1, "value", "x1", "0", "0", "0"), "'x1' is not a byte", 2),
        (("map", "update", "pinned", m, *K1, "value", "1", "0", "0", "0", "sometimes"), "got 5", 2),
        (("map", "lookup", "pinned", str(tmp_path / "gone"), *K1), "nothing pinned", 1),
        (("map", "lookup", "pinned", m, *K1), "not found", 1),
        (("map", "pop", "pinned", m), "needs a queue or stack map", 1),
        (("map", "show", "id"), "id needs a value", 2),
        (("map", "show", "idx", "1"), "unknown MAP reference 'idx'", 2),
        (("prog", "load", OBJ), "expected: prog load OBJ PATH", 2),
        (("prog", "load", OBJ, "p", "type", "nope"), "unknown program type 'nope'", 2),
        (("prog", "show", "pinned", m), "is a pinned map, not a program", 1),
        (("btf", "dump", "map", "name", "m"), "has no BTF", 1),
        (("btf", "dump", "id", "3"), "no BTF object with id 3", 1),
        (("btf", "dump", "file", OBJ, "format", "xml"), "unknown format 'xml'", 2),
        (("gen", "skeleton"), "expected: gen skeleton FILE", 2),
        (("feature", "probe", "bogus"), "unknown feature probe keyword", 2),
        (("net", "show", "dev", "no_such_i6"), "invalid devname", 1),
        (("frobnicate",), "No such command", 2),
    ]
    for args, needle, code in cases:
        res = pb.fails(*args)
        assert res.rc == code, (args, res)
        assert needle in res.err, (args, res.err)
        assert "(hint: " in res.err or code == 1, (args, res.err)  # usage errors point at the grammar
        doc = pb.fails("-j", *args).json()
        assert needle in doc["error"], (args, doc)
    # usage errors say where the grammar is
    assert "see 'pybpf map help'" in pb.fails("map", "lookup", "pinned", m, "key", "1").err
    # -d: the traceback instead of the one line
    debug = pb("-d", "map", "lookup", "pinned", str(tmp_path / "gone"), *K1, ok=False)
    assert debug.rc != 0 and "Traceback" in debug.err and "RegistryError" in debug.err
    debug = pb("-d", "map", "lookup", "pinned", m, "key", "1", ok=False)
    assert debug.rc != 0 and "Traceback" in debug.err and "UsageError" in debug.err


def test_btf_dump_of_loaded_prog_and_map(pb: Pybpf, tmp_path: Path) -> None:
    pb("prog", "load", OBJ, str(tmp_path / "xs"))
    whole = pb("btf", "dump", "file", OBJ).out
    assert pb("btf", "dump", "prog", "pinned", str(tmp_path / "xs")).out == whole
    assert pb("btf", "dump", "map", "name", "pkt_count", "all").out == whole
    # bpftool's default for a map: its key and value types only
    kv = pb("btf", "dump", "map", "name", "pkt_count").out.splitlines()
    assert kv == ["[8] TYPEDEF '__u32' type_id=9", "[11] TYPEDEF '__u64' type_id=12"]
    key = pb("-j", "btf", "dump", "map", "name", "pkt_count", "key").json()
    assert key == {"types": [{"id": 8, "kind": "TYPEDEF", "name": "__u32", "type_id": 9}]}
    c_text = pb("btf", "dump", "prog", "name", "xdp_srcip", "format", "c").out
    assert c_text.startswith("#ifndef __VMLINUX_H__")


def test_every_remaining_verb_runs(pb: Pybpf, tmp_path: Path) -> None:
    """Verbs not exercised elsewhere in tests/test_cli_*.py, each once as a user types it."""
    xs = str(tmp_path / "xs")
    pb("prog", "load", OBJ, xs)
    frame = tmp_path / "frame"
    frame.write_bytes(bytes(64))
    pb("prog", "run", "pinned", xs, "data_in", str(frame))
    assert isinstance(pb("-j", "prog", "tracelog").json(), list)
    assert "dump jited" in pb.fails("prog", "dump", "jited", "pinned", xs).err
    assert pb("-j", "btf", "list").json() == []
    assert pb("-j", "feature", "list").json()["program_types"]["have_xdp_prog_type"] is True
    assert pb("-j", "net", "list").json() == [{"xdp": [], "tc": [], "flow_dissector": []}]
    assert pb("-j", "link", "list").json() == []
    assert "no links" in pb.fails("link", "pin", "id", "1", str(tmp_path / "l")).err
    # plain rm of the only pin frees the program (bpffs semantics)
    os.unlink(xs)
    assert pb("-j", "prog", "list").json() == []


def test_state_directory_defaults_to_xdg(tmp_path: Path) -> None:
    """Without PYBPF_FS the VM bpffs is $XDG_STATE_HOME/pybpf, else ~/.local/state/pybpf."""
    import subprocess
    import sys

    def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pybpf", *args], env=env, capture_output=True, text=True)

    base = {k: v for k, v in os.environ.items() if k not in ("PYBPF_FS", "XDG_STATE_HOME")}
    create = ("map", "create", "/sys/fs/bpf/m", "type", "array", "key", "4")
    create += ("value", "4", "entries", "1", "name", "m")
    xdg = {**base, "XDG_STATE_HOME": str(tmp_path / "state"), "HOME": str(tmp_path / "home")}
    assert run(xdg, *create).returncode == 0
    assert (tmp_path / "state" / "pybpf" / "m").is_file()
    home = {**base, "HOME": str(tmp_path / "home")}
    assert run(home, *create).returncode == 0
    assert (tmp_path / "home" / ".local" / "state" / "pybpf" / "m").is_file()
    shown = json.loads(run(home, "-j", "map", "show").stdout)
    assert shown[0]["pinned"] == [str(tmp_path / "home" / ".local" / "state" / "pybpf" / "m")]
