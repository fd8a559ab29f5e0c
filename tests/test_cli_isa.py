"""``pybpf asm`` / ``pybpf disasm`` through a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pybpf.isa import assemble, encode

PROGRAM = "mov %r0, 1\nlddw %r1, 0x1122334455667788\njne %r0, 0, +1\nexit\nexit\n"


def pybpf(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "pybpf.cli.main", *args], input=stdin, capture_output=True, timeout=60
    )


def test_asm_prints_hex_words_and_writes_binary(tmp_path: Path) -> None:
    src = tmp_path / "p.s"
    src.write_text(PROGRAM)
    out = pybpf("asm", str(src))
    assert out.returncode == 0, out.stderr
    words = out.stdout.decode().split()
    assert words[0] == "0x00000001000000b7"
    assert words[1:3] == ["0x5566778800000118", "0x1122334400000000"]
    binary = tmp_path / "p.bin"
    assert pybpf("asm", str(src), "-o", str(binary)).returncode == 0
    assert binary.read_bytes() == encode(assemble(PROGRAM))


def test_disasm_reads_binary_hex_and_text(tmp_path: Path) -> None:
    binary = tmp_path / "p.bin"
    binary.write_bytes(encode(assemble(PROGRAM)))
    kernel = pybpf("disasm", str(binary))
    assert kernel.returncode == 0, kernel.stderr
    assert kernel.stdout.decode().splitlines()[0] == "   0: (b7) r0 = 1"
    hex_words = pybpf("asm", "-", stdin=PROGRAM.encode()).stdout
    llvm = pybpf("disasm", "-", "--style", "llvm", stdin=hex_words)
    assert "r1 = 0x1122334455667788 ll" in llvm.stdout.decode()
    conf = pybpf("disasm", "-", "--style", "conformance", stdin=PROGRAM.encode())
    assert conf.stdout.decode() == "mov %r0, 1\nlddw %r1, 0x1122334455667788\njne %r0, 0, +1\nexit\nexit\n"
    # kernel listing text back in
    again = pybpf("disasm", "-", stdin=kernel.stdout)
    assert again.stdout == kernel.stdout


def test_bad_input_is_one_error_line(tmp_path: Path) -> None:
    bad = pybpf("asm", "-", stdin=b"mov %r0, 1\nfrob %r1\n")
    assert bad.returncode == 1
    assert bad.stderr.decode().startswith("Error: line 2, column 1: unknown mnemonic 'frob' (hint: ")
    truncated = pybpf("disasm", "-", stdin=b"\x95\x00\x00")
    assert truncated.returncode == 1
    assert truncated.stderr.decode().startswith("Error: invalid instruction at index 0")
    assert len(truncated.stderr.decode().strip().splitlines()) == 1
    missing = pybpf("disasm", str(tmp_path / "nope.bin"))
    assert missing.returncode == 1
    assert "Error: cannot read" in missing.stderr.decode()
    target = tmp_path / "out.bin"
    failed = pybpf("asm", "-", "-o", str(target), stdin=b"ja nowhere\n")
    assert failed.returncode == 1
    assert not target.exists()
    wrong_style = pybpf("disasm", "-", "--style", "intel", stdin=b"exit")
    assert wrong_style.returncode == 2
