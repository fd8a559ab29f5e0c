"""``pybpf btf dump file FILE`` through a real subprocess, against bpftool."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from btf_util import KITCHEN_SOURCE, bpftool, compile_bpf
from pybpf.btf.spec import elf_section


def pybpf(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pybpf.cli.main", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def obj(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_bpf(KITCHEN_SOURCE, tmp_path_factory.mktemp("btfcli"), "kitchen")


def test_dump_object_raw(obj: Path) -> None:
    out = pybpf("btf", "dump", "file", str(obj))
    assert out.returncode == 0, out.stderr
    assert out.stdout == bpftool("btf", "dump", "file", str(obj))
    explicit = pybpf("btf", "dump", "file", str(obj), "format", "raw")
    assert explicit.stdout == out.stdout
    abbreviated = pybpf("btf", "d", "f", str(obj))
    assert abbreviated.stdout == out.stdout


def test_dump_raw_btf_file_json(obj: Path, tmp_path: Path) -> None:
    raw = tmp_path / "prog.btf"
    raw.write_bytes(elf_section(obj.read_bytes(), ".BTF"))
    out = pybpf("--json", "btf", "dump", "file", str(raw))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == json.loads(bpftool("-j", "btf", "dump", "file", str(obj)))


def test_errors_are_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x9f\xeb\x01\x00" + b"\xff" * 40)
    out = pybpf("btf", "dump", "file", str(junk))
    assert out.returncode == 1
    assert out.stderr.startswith("Error: ") and "BTF" in out.stderr and "Traceback" not in out.stderr
    missing = pybpf("btf", "dump", "file", str(tmp_path / "nope.o"))
    assert missing.returncode == 1 and "No such file" in missing.stderr
    js = pybpf("-j", "btf", "dump", "file", str(junk))
    assert "error" in json.loads(js.stdout)
    usage = pybpf("btf", "dump", "nonsense")
    assert usage.returncode == 2
    no_btf = tmp_path / "nobtf.o"
    subprocess.run(
        ["clang-19", "-O2", "-target", "bpf", "-c", "-x", "c", "-", "-o", str(no_btf)],
        input="int f(void) { return 0; }\n",
        text=True,
        check=True,
    )
    out = pybpf("btf", "dump", "file", str(no_btf))
    assert out.returncode == 1 and "no .BTF section" in out.stderr


def test_dump_format_c(obj: Path) -> None:
    out = pybpf("btf", "dump", "file", str(obj), "format", "c")
    assert out.returncode == 0, out.stderr
    assert out.stdout == bpftool("btf", "dump", "file", str(obj), "format", "c")
    assert pybpf("btf", "dump", "file", str(obj), "format", "xml").returncode == 2


def test_split_btf_with_base_matches_bpftool(tmp_path: Path) -> None:
    """Module-style split BTF over vmlinux, dumped with -B like bpftool."""
    import struct

    from btf_util import VMLINUX
    from pybpf.btf import BTF, Kind

    if not VMLINUX.exists():
        pytest.skip("no vmlinux BTF")
    base = BTF.from_file(VMLINUX)
    int_id = base.find("int", Kind.INT).id
    skb_id = base.find("sk_buff", Kind.STRUCT).id
    n, slen = len(base), len(base.strings)
    strs = b"mod_state\0skb\0count\0"
    types = struct.pack("<III", slen, Kind.STRUCT << 24 | 2, 16)
    types += struct.pack("<III", slen + 10, n + 1, 0) + struct.pack("<III", slen + 14, int_id, 64)
    types += struct.pack("<III", 0, Kind.PTR << 24, skb_id)
    blob = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strs)) + types + strs
    split = tmp_path / "mod.btf"
    split.write_bytes(blob)
    for fmt in ("raw", "c"):
        out = pybpf("btf", "dump", "-B", str(VMLINUX), "file", str(split), "format", fmt)
        assert out.returncode == 0, out.stderr
        assert out.stdout == bpftool("btf", "dump", "-B", str(VMLINUX), "file", str(split), "format", fmt)


def test_broken_btf_in_an_object_names_the_section(tmp_path: Path) -> None:
    """``btf dump file X.o`` with a corrupted .BTF: one line naming the section and offset."""
    from elftools.elf.elffile import ELFFile

    src = Path(__file__).parent / "bpf" / "xdp_pass.v3.o"
    data = bytearray(src.read_bytes())
    with src.open("rb") as f:
        off = ELFFile(f).get_section_by_name(".BTF")["sh_offset"]
    data[off : off + 2] = b"\0\0"
    bad = tmp_path / "bad.o"
    bad.write_bytes(bytes(data))
    out = pybpf("btf", "dump", "file", str(bad))
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.strip().splitlines() == [
        "Error: bad BTF magic 0000 (expected 0xeb9f) (section .BTF, offset 0x0)"
    ]
