"""The commands the README tells a new user to type work as it says."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def test_first_example_prints_sum() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pybpf.cli.main", "run", str(REPO / "examples" / "first.s")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "0x37"
    assert "pybpf run examples/first.s" in (REPO / "README.md").read_text()


def test_python_examples_run() -> None:
    import os
    import re

    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    assert blocks
    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        for block in blocks:
            exec(compile(block, "README.md", "exec"), {})
    finally:
        os.chdir(cwd)


def _tour_commands() -> list[str]:
    """Every ``$ pybpf ...`` line of the README, in order."""
    import re

    text = (REPO / "README.md").read_text()
    return [m.strip() for m in re.findall(r"^\s+\$ (pybpf .*?)(?:\s+#.*)?$", text, re.M)]


def test_readme_has_a_tour() -> None:
    assert len(_tour_commands()) >= 8


def _pcap_with_one_udp_frame(path: str) -> None:
    import dpkt

    udp = dpkt.udp.UDP(sport=1234, dport=53, data=b"hello")
    udp.ulen = len(udp)
    ip = dpkt.ip.IP(
        src=bytes([192, 168, 72, 1]), dst=bytes([192, 168, 72, 2]), p=dpkt.ip.IP_PROTO_UDP, data=udp
    )
    ip.len = len(ip)
    eth = dpkt.ethernet.Ethernet(src=b"\x00" * 5 + b"\x01", dst=b"\xff" * 6, data=ip)
    with open(path, "wb") as f:
        writer = dpkt.pcap.Writer(f)
        writer.writepkt(bytes(eth), ts=1.0)


def test_tour_commands_run_as_written(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Each tour command, typed in a fresh folder beside the repo's files, exits 0 and prints."""
    import os
    import shlex

    import pytest

    from conftest import kernel_unavailable_reason

    work = tmp_path / "work"
    work.mkdir()
    for name in ("tests", "examples"):
        (work / name).symlink_to(REPO / name)
    _pcap_with_one_udp_frame(str(work / "in.pcap"))
    env = dict(os.environ, PYBPF_FS=str(tmp_path / "bpffs"))
    kernel_ok = kernel_unavailable_reason() is None
    out: dict[str, str] = {}
    for line in _tour_commands():
        argv = shlex.split(line)
        if "--backend" in argv and argv[argv.index("--backend") + 1] == "kernel" and not kernel_ok:
            if os.environ.get("PYBPF_REQUIRE_KERNEL") == "1":
                pytest.fail(f"README command needs the kernel: {line}")
            continue
        done = subprocess.run(
            [sys.executable, "-m", "pybpf", *argv[1:]], cwd=work, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, f"README command failed: {line}\n{done.stdout}{done.stderr}"
        out[line] = done.stdout
    assert len(out) >= 8

    def printed(prefix: str) -> str:
        return next(text for line, text in out.items() if line.startswith(prefix))

    # What each kind of command shows, as the README promises.
    assert printed("pybpf run examples/first.s --trace").strip().endswith("0x37")
    assert "xdp_srcip" in printed("pybpf object show")
    assert (work / "out.pcap").stat().st_size > 24  # the frame passed and was written back
    assert "srcip" in printed("pybpf --json prog show") or "xdp_srcip" in printed("pybpf --json prog show")
    assert "line_num:" in printed("pybpf prog dump xlated pinned")
    assert "2a 00 00 00 00 00 00 00" in printed("pybpf map dump pinned")
    assert "class " in printed("pybpf gen skeleton")
