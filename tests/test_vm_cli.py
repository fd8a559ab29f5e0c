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


def test_conformance_plugin_driven_like_the_suite_runner(conformance_dir: Path) -> None:
    """A sample of the real files, each run the way the runner runs a plugin:
    PLUGIN HEXMEM [OPTIONS...], the program as one hex line on stdin, r0 in hex."""
    sample = sorted(conformance_dir.glob("*.data"))[::16] + [
        conformance_dir / name
        for name in ("callx.data", "call_unwind_fail.data", "rfc9669_call_local.data", "lddw.data")
    ]
    assert len(sample) >= 20
    for path in sample:
        case = load_case(path)
        assert case.result is not None, path.name
        stdin = (_runner_hex(encode(case.program())) + "\n").encode()
        mem = _runner_hex(case.mem)  # an empty argument when the file has no memory
        proc = pybpf("conformance-plugin", mem, "--interpret", "--option-with", "value", stdin=stdin)
        assert proc.returncode == 0, (path.name, proc.stdout, proc.stderr)
        assert int(proc.stdout.decode().strip(), 16) == case.result, path.name


def test_conformance_plugin_errors_exit_non_zero_with_one_line() -> None:
    ok_program = _runner_hex(bytes.fromhex("b7000000070000009500000000000000"))
    cases = {
        "invalid instruction at index 0": (_runner_hex(bytes.fromhex("ff00000000000000")), ""),
        "invalid instruction at index 1: lddw is truncated": (
            _runner_hex(bytes.fromhex("95000000000000001800000000000000")),
            "",
        ),
        "NULL pointer": (_runner_hex(bytes.fromhex("61100000000000009500000000000000")), ""),
        "outside the region": (_runner_hex(bytes.fromhex("79100000000000009500000000000000")), "01  02  "),
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


TRACED = """
    r0 = 0
    r1 = 3
    r3 = 0x1122334455667788 ll
loop:
    r0 += r1
    *(u64 *)(r10 -8) = r0
    r1 -= 1
    if r1 != 0 goto loop
    call sub
    exit
sub:
    r6 = 5
    r0 = 7
    exit
"""


def test_run_trace_prints_every_executed_instruction_and_its_register_changes(tmp_path: Path) -> None:
    prog = tmp_path / "p.s"
    prog.write_text(TRACED)
    payload = json.loads(pybpf("-j", "run", str(prog), "--trace").stdout)
    events = payload["trace"]
    assert payload["r0"] == 7 and len(events) == payload["executed"] == 3 + 4 * 3 + 1 + 3 + 1
    assert [e["pc"] for e in events[:8]] == [0, 1, 2, 4, 5, 6, 7, 4]
    assert events[2]["changes"] == {"r3": 0x1122334455667788}
    assert [e["changes"].get("r0") for e in events if e["pc"] == 4] == [3, 5, 6]
    assert events[4]["pc"] == 5 and events[4]["changes"] == {}  # a store changes no register
    sub = [e for e in events if e["depth"] == 1]
    assert [e["pc"] for e in sub] == [10, 11, 12] and sub[0]["changes"] == {"r6": 5}
    assert events[-2]["changes"]["r6"] == 0  # the callee-saved r6 restored by exit

    proc = pybpf("run", str(prog), "--trace")
    lines = proc.stdout.decode().splitlines()
    assert lines[-1] == "0x7"
    assert len(lines) - 1 == len(events)  # one line per executed instruction
    for line, event in zip(lines, events, strict=False):
        assert line.lstrip().startswith(f"{event['pc']}: ")
        assert event["insn"] in line
        for reg, value in event["changes"].items():
            assert f"{reg}={value:#x}" in line


def test_run_bad_input_is_one_line_with_a_hint(tmp_path: Path) -> None:
    cases = {
        "loop.s": (b"loop:\nja loop\n", "instruction budget of 1000000 exhausted, at pc 0"),
        "syntax.s": (b"r0 = 1\nr0 +== 2\n", "line 2, column 6: expected an immediate"),
        "mnemonic.s": (b"frob %r0\n", "line 1, column 1: unknown mnemonic 'frob'"),
        "opcode.bin": (bytes.fromhex("ff00000000000000"), "invalid instruction at index 0"),
        "lddw.bin": (bytes.fromhex("95000000000000001801000000000000"), "index 1: lddw is truncated"),
        "odd.bin": (b"\x95\x00\x00", "not a multiple of 8 bytes"),
        "oob.s": (b"ldxdw %r0, [%r1+8]\nexit\n", "outside the region"),
        "range.s": (b"r0 += 0x100000000\nexit\n", "does not fit in 32 bits"),
        "jump.s": (b"goto +40000\nexit\n", "jump offset 40000 out of range"),
        "depth.s": (b"call local f\nexit\nf:\ncall local f\nexit\n", "deeper than 8 frames"),
        "fall.s": (b"mov %r0, 1\n", "fell off"),
    }
    for name, (content, fragment) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        proc = pybpf("run", str(path), "--mem", "01 02")
        err = proc.stderr.decode()
        assert proc.returncode == 1, name
        assert err.startswith("Error: ") and fragment in err, (name, err)
        assert "(hint: " in err and len(err.strip().splitlines()) == 1, err
        assert proc.stdout == b""


def test_asm_bad_input_is_one_line(tmp_path: Path) -> None:
    binary = tmp_path / "prog.bin"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    proc = pybpf("asm", str(binary))
    assert proc.returncode == 1
    assert proc.stderr.decode().startswith(f"Error: {binary} is not assembler text: byte 0 is not UTF-8")
    text = tmp_path / "p.s"
    text.write_text("exit\n")
    target = tmp_path / "missing" / "out.bin"
    proc = pybpf("asm", str(text), "-o", str(target))
    assert proc.returncode == 1
    assert proc.stderr.decode().strip() == f"Error: cannot write {target}: No such file or directory"
