"""``pybpf run`` and ``pybpf conformance-plugin``, driven as subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import CONFORMANCE_DIR
from pybpf.isa import assemble, encode
from pybpf.vm.conformance import load_case

LOOP = "mov %r0, 0\nmov %r1, 3\nloop:\nadd %r0, %r1\nsub %r1, 1\njne %r1, 0, loop\nexit\n"


def pybpf(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-c", "import sys; from pybpf.cli.main import main; sys.exit(main())", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
    )


def test_run_assembler_text_and_raw_bytes(tmp_path: Path) -> None:
    text = tmp_path / "loop.s"
    text.write_text(LOOP)
    raw = tmp_path / "loop.bin"
    raw.write_bytes(encode(assemble(LOOP)))
    for path in (text, raw):
        proc = pybpf("run", str(path))
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.decode().strip() == "0x6"


def test_run_with_memory_trace_and_json(tmp_path: Path) -> None:
    prog = tmp_path / "p.s"
    prog.write_text("ldxh %r0, [%r1+1]\nexit\n")
    proc = pybpf("run", str(prog), "--mem", "01 02 03 04")
    assert proc.stdout.decode().strip() == "0x302"
    memfile = tmp_path / "mem.bin"
    memfile.write_bytes(b"\x00\xff\xee")
    proc = pybpf("-j", "run", str(prog), "--mem-file", str(memfile), "--trace")
    payload = json.loads(proc.stdout)
    assert payload["r0"] == 0xEEFF and payload["executed"] == 2
    assert payload["trace"][0]["changes"] == {"r0": 0xEEFF}
    proc = pybpf("run", str(prog), "--mem", "01 02 03 04", "--trace")
    lines = proc.stdout.decode().splitlines()
    assert lines[0].startswith("   0: (69) r0 = *(u16 *)(r1 +1)") and "r0=0x302" in lines[0]
    assert lines[-1] == "0x302"


def test_run_errors(tmp_path: Path) -> None:
    prog = tmp_path / "p.s"
    prog.write_text("mov %r0, 0\nloop:\nja loop\n")
    proc = pybpf("run", str(prog), "--max-instructions", "100")
    assert proc.returncode == 1
    assert b"instruction budget of 100 exhausted" in proc.stderr
    prog.write_text("ldxdw %r0, [%r1]\nexit\n")
    proc = pybpf("run", str(prog))
    assert proc.returncode == 1 and b"NULL pointer" in proc.stderr
    proc = pybpf("run", str(prog), "--mem", "zz")
    assert proc.returncode == 1 and b"bad hex" in proc.stderr


def test_conformance_plugin_protocol() -> None:
    case = load_case(CONFORMANCE_DIR / "callx.data")
    program_hex = "  ".join(f"{b:02x}" for b in encode(case.program())) + "  "
    proc = pybpf("conformance-plugin", stdin=program_hex.encode() + b"\n")
    assert proc.returncode == 0, proc.stdout
    assert int(proc.stdout.decode().strip(), 16) == case.result
    # memory argument, plus runner options that the plugin ignores
    case = load_case(CONFORMANCE_DIR / "ldxh.data")
    mem_hex = "".join(f"{b:02x}  " for b in case.mem)
    program_hex = "".join(f"{b:02x}  " for b in encode(case.program()))
    proc = pybpf("conformance-plugin", mem_hex, "--debug-option", stdin=program_hex.encode())
    assert proc.returncode == 0, proc.stdout
    assert int(proc.stdout.decode().strip(), 16) == case.result
    # failure: non-zero exit, the error on stdout
    proc = pybpf("conformance-plugin", stdin=b"61 10 00 00 00 00 00 00 95 00 00 00 00 00 00 00")
    assert proc.returncode == 1 and b"NULL pointer" in proc.stdout


def _runner_hex(data: bytes) -> str:
    """The runner's hex form: each byte two hex digits followed by two spaces."""
    return "".join(f"{b:02x}  " for b in data)


PLUGIN_SAMPLE = sorted(CONFORMANCE_DIR.glob("*.data"))[::12] + [
    CONFORMANCE_DIR / name
    for name in ("callx.data", "call_unwind_fail.data", "rfc9669_call_local.data", "lddw.data", "ldxh.data")
]


def test_conformance_plugin_driven_like_the_suite_runner() -> None:
    """A sample of the real files, each run the way the runner runs a plugin:
    PLUGIN HEXMEM [OPTIONS...], the program as one hex line on stdin, r0 in hex."""
    assert len(PLUGIN_SAMPLE) >= 30
    for path in PLUGIN_SAMPLE:
        case = load_case(path)
        assert case.result is not None, path.name
        stdin = (_runner_hex(encode(case.program())) + "\n").encode()
        mem = _runner_hex(case.mem)  # an empty argument when the file has no memory
        proc = pybpf("conformance-plugin", mem, "--interpret", "--option-with", "value", stdin=stdin)
        assert proc.returncode == 0, (path.name, proc.stdout, proc.stderr)
        assert int(proc.stdout.decode().strip(), 16) == case.result, path.name


def test_conformance_plugin_errors_exit_non_zero_with_one_line() -> None:
    ok_program = _runner_hex(bytes.fromhex("b700000007000000" "9500000000000000"))
    cases = {
        "invalid instruction at index 0": (_runner_hex(bytes.fromhex("ff00000000000000")), ""),
        "invalid instruction at index 1: lddw is truncated": (
            _runner_hex(bytes.fromhex("9500000000000000" "1800000000000000")),
            "",
        ),
        "NULL pointer": (_runner_hex(bytes.fromhex("6110000000000000" "9500000000000000")), ""),
        "outside the region": (_runner_hex(bytes.fromhex("7910000000000000" "9500000000000000")), "01  02  "),
        "budget": (_runner_hex(bytes.fromhex("05 00 ff ff 00 00 00 00")), ""),
        "bad hex program": ("zz  ", ""),
        "bad hex memory": (ok_program, "qq  "),
        "empty program": ("", ""),
        "fell off": (_runner_hex(bytes.fromhex("b700000007000000")), ""),
    }
    for fragment, (program, mem) in cases.items():
        proc = pybpf("conformance-plugin", mem, stdin=program.encode())
        out = proc.stdout.decode()
        assert proc.returncode != 0, fragment
        assert fragment in out, (fragment, out)
        assert len(out.strip().splitlines()) == 1 and b"Traceback" not in proc.stderr, out
