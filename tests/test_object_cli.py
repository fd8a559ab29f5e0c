"""``pybpf object show`` and ``pybpf prog dump xlated`` on the fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pybpf.cli.main import main

FIX = Path(__file__).parent / "bpf"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_object_show_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "-j", "object", "show", str(FIX / "maps_btf.v3.o"))
    assert rc == 0
    doc = json.loads(out)
    assert list(doc) == [
        "name",
        "license",
        "kern_version",
        "programs",
        "maps",
        "variables",
        "externs",
        "struct_ops",
    ]
    assert list(doc["programs"][0]) == [
        "name",
        "section",
        "type",
        "expected_attach_type",
        "attach",
        "sleepable",
        "frags",
        "insn_count",
        "subprograms",
    ]
    assert list(doc["maps"][0]) == [
        "name",
        "type",
        "kind",
        "section",
        "key_size",
        "value_size",
        "max_entries",
        "flags",
        "pinning",
        "numa_node",
        "map_extra",
        "key_type",
        "value_type",
        "inner",
        "initial_values",
    ]
    assert doc["name"] == "maps_btf"
    assert [p["name"] for p in doc["programs"]] == ["tail_a", "tail_b", "xdp_use_maps"]
    prog = doc["programs"][2]
    assert (prog["section"], prog["type"], prog["expected_attach_type"]) == ("xdp", "xdp", "xdp")
    maps = {m["name"]: m for m in doc["maps"]}
    assert maps["jmp_table"]["initial_values"] == [
        {"index": 0, "name": "tail_a"},
        {"index": 2, "name": "tail_b"},
    ]
    assert maps["pybpf_fixture_pinned"]["pinning"] == "by_name"
    assert maps["outer_array"]["inner"]["type"] == "array"


def test_object_show_tables(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "object", "show", str(FIX / "globals.v3.o"))
    assert rc == 0
    for word in ("xdp_globals", "tp_btf/task_newtask", "globals.rodata", "foo_array", "CONFIG_HZ", "kconfig"):
        assert word in out


def test_object_show_attach_target_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "-j", "object", "show", str(FIX / "openat_ringbuf.v1.o"))
    assert rc == 0
    prog = json.loads(out)["programs"][0]
    assert prog["attach"] == {
        "kind": "tracepoint",
        "raw": "syscalls/sys_enter_openat",
        "name": "sys_enter_openat",
        "category": "syscalls",
    }


def test_dump_xlated_plain(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "prog", "dump", "xlated", "file", str(FIX / "xdp_pass.v1.o"))
    assert rc == 0
    lines = out.splitlines()
    assert lines[0] == "int xdp_pass(struct xdp_md * ctx):"
    assert lines[1].startswith("; ")
    assert "   0: (b7) r0 = 2" in lines and "   1: (95) exit" in lines


def test_dump_xlated_linum_opcodes_prefixes(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "prog", "d", "x", "f", str(FIX / "subprogs.v3.o"), "n", "tc_sub_b", "li", "op")
    assert rc == 0
    assert "[file:./subprogs.bpf.c line_num:" in out
    assert "int scale(int x, int factor):" in out
    assert "       " in out and "95 00 00 00 00 00 00 00" in out


def test_dump_xlated_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(
        capsys, "-j", "prog", "dump", "xlated", "file", str(FIX / "openat_ringbuf.v3.o"), "opcodes"
    )
    assert rc == 0
    doc = json.loads(out)
    assert doc[0]["name"] == "trace_openat"
    insns = doc[0]["insns"]
    assert insns[0]["proto"].startswith("int trace_openat(")
    ld = next(i for i in insns if i.get("reference") == "events")
    assert ld["disasm"].endswith("= map[id:0]") and ld["opcodes"]["code"] == "0x18"


def test_dump_errors(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "prog", "dump", "xlated", "file", str(FIX / "xdp_pass.v1.o"), "name", "nope")
    assert rc == 1 and "no program named 'nope'" in err
    rc, _, err = run(capsys, "prog", "dump", "xlated", "name", "x")
    assert rc == 1 and "no program with name x" in err  # bpftool grammar: a loaded program's name
    rc, _, err = run(capsys, "prog", "dump", "xlated", "bogus", "x")
    assert rc == 2
    rc, _, err = run(capsys, "prog", "dump", "xlated", "file")
    assert rc == 2
    rc, _, err = run(capsys, "object", "show", "/nonexistent.o")
    assert rc == 1 and "cannot read" in err


def test_dump_xlated_opcodes_of_an_invalid_instruction(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """An object whose code the ISA rules reject still dumps, bytes as they are (like bpftool)."""
    from elftools.elf.elffile import ELFFile

    data = bytearray((FIX / "xdp_pass.v1.o").read_bytes())
    with (FIX / "xdp_pass.v1.o").open("rb") as f:
        off = ELFFile(f).get_section_by_name("xdp")["sh_offset"]
    assert data[off] == 0xB7  # r0 = 2
    data[off + 1] = 0x30  # src register 3 on an immediate move: not a valid instruction
    bad = tmp_path / "bad.o"
    bad.write_bytes(bytes(data))
    rc, out, err = run(capsys, "prog", "dump", "xlated", "file", str(bad), "opcodes")
    assert rc == 0, err
    assert "b7 30 00 00 02 00 00 00" in out


def test_object_show_variables_externs_struct_ops_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "-j", "object", "show", str(FIX / "globals.v3.o"))
    assert rc == 0
    doc = json.loads(out)
    var = next(v for v in doc["variables"] if v["name"] == "packets_seen")
    assert var == {
        "name": "packets_seen",
        "section": ".data",
        "map": "globals.data",
        "offset": 0,
        "size": 4,
        "type": "int",
        "global": True,
    }
    hz = next(e for e in doc["externs"] if e["name"] == "CONFIG_HZ")
    assert list(hz) == ["name", "kind", "type", "function", "weak"] and hz["kind"] == "kconfig"
    assert doc["struct_ops"] == []
    rc, out, _ = run(capsys, "-j", "object", "show", str(FIX / "struct_ops.v4.o"))
    assert json.loads(out)["struct_ops"] == [
        {
            "name": "pybpf_cc",
            "section": ".struct_ops",
            "type": "tcp_congestion_ops",
            "size": 40,
            "link": False,
            "programs": {
                "ssthresh": "pybpf_ssthresh",
                "cong_avoid": "pybpf_cong_avoid",
                "undo_cwnd": "pybpf_undo_cwnd",
            },
        }
    ]
    rc, out, _ = run(capsys, "object", "show", str(FIX / "struct_ops.v1.o"))
    assert rc == 0 and "tcp_congestion_ops" in out and "ssthresh=pybpf_ssthresh" in out


def test_dump_xlated_names_kfunc_calls_from_relocations(capsys: pytest.CaptureFixture[str]) -> None:
    """bpftool names a loaded kfunc call from kallsyms; in a file the relocation names it."""
    rc, out, _ = run(
        capsys, "prog", "dump", "xlated", "file", str(FIX / "globals.v1.o"), "name", "count_new_tasks"
    )
    assert rc == 0
    calls = [line.split(") ", 1)[1] for line in out.splitlines() if "(85)" in line]
    assert calls == ["call bpf_task_acquire#0", "call bpf_task_release#0"]
