"""``pybpf prog run`` over pcap / pcapng files and with data_in, through the real CLI (subprocess)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import dpkt
import pytest

BPF = Path(__file__).parent / "bpf"


def udp(dport: int, src: str = "10.0.0.2", payload: bytes = b"hello") -> bytes:
    u = dpkt.udp.UDP(sport=4000, dport=dport, data=payload)
    ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton("10.0.0.1"), p=17, data=u)
    ip.len = len(bytes(ip))
    return bytes(dpkt.ethernet.Ethernet(dst=b"\x02" * 6, src=b"\x04" * 6, type=0x0800, data=ip))


def tcp() -> bytes:
    ip = dpkt.ip.IP(src=socket.inet_aton("10.0.0.3"), dst=socket.inet_aton("10.0.0.1"), p=6,
                    data=dpkt.tcp.TCP(sport=1, dport=80))  # fmt: skip
    return bytes(dpkt.ethernet.Ethernet(dst=b"\x02" * 6, src=b"\x04" * 6, type=0x0800, data=ip))


PACKETS = [udp(53), udp(9), udp(9), tcp(), udp(53, payload=b"x" * 100), b"\x01\x02"]  # last: a runt


def write_capture(path: Path, packets: list[bytes], ng: bool) -> Path:
    with path.open("wb") as f:
        w = dpkt.pcapng.Writer(f) if ng else dpkt.pcap.Writer(f)
        for i, p in enumerate(packets):
            w.writepkt(p, ts=1_700_000_000 + i)
    return path


def pybpf(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pybpf.cli.main", *args], capture_output=True, text=True,
                          timeout=120)  # fmt: skip


@pytest.mark.parametrize("ng", [False, True], ids=["pcap", "pcapng"])
def test_xdp_parse_count_over_capture(tmp_path, ng):
    cap = write_capture(tmp_path / ("in.pcapng" if ng else "in.pcap"), PACKETS, ng)
    out = tmp_path / "out.pcap"
    r = pybpf("--json", "prog", "run", str(BPF / "xdp_parse_count.v3.o"), "name", "xdp_parse_count",
              "pcap_in", str(cap), "pcap_out", str(out))  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["packets"] == 6
    assert doc["verdicts"] == {"XDP_PASS": 3, "XDP_DROP": 2, "error (TestRunError)": 1}
    assert doc["written"] == 3
    assert {"key": 17, "value": 4} in doc["maps"]["proto_count"]
    assert {"key": 6, "value": 1} in doc["maps"]["proto_count"]
    assert {"key": 9, "value": 2} in doc["maps"]["udp_port_count"]
    with out.open("rb") as f:
        kept = [bytes(buf) for _, buf in dpkt.pcap.Reader(f)]
    assert kept == [PACKETS[0], PACKETS[3], PACKETS[4]]


def test_text_output_and_socket_filter_truncation(tmp_path):
    cap = write_capture(tmp_path / "in.pcap", PACKETS[:5], ng=False)
    out = tmp_path / "out.pcap"
    r = pybpf("prog", "run", str(BPF / "tc_sockfilter.v3.o"), "name", "sock_trunc", "pcap_in", str(cap),
              "pcap_out", str(out))  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "5 packets" in r.stdout
    assert "truncated" in r.stdout and "passed" in r.stdout
    with out.open("rb") as f:
        kept = [bytes(buf) for _, buf in dpkt.pcap.Reader(f)]
    assert len(kept) == 5
    assert kept[0] == PACKETS[0]  # short IPv4 packets pass whole
    assert kept[4] == PACKETS[4][: 14 + 64]  # IPv4: 64 bytes of skb->len (L3 on) are kept


def test_tc_program_verdicts(tmp_path):
    cap = write_capture(tmp_path / "in.pcapng", PACKETS[:3], ng=True)
    r = pybpf("-j", "prog", "run", str(BPF / "tc_sockfilter.v3.o"), "name", "tc_mark", "pcap_in", str(cap))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["verdicts"] == {"TC_ACT_OK": 3}


def test_data_in_mirrors_bpftool_and_trace_reaches_tracelog(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    data = tmp_path / "pkt.bin"
    data.write_bytes(udp(53, src="192.168.72.1"))
    out = tmp_path / "out.bin"
    r = pybpf("prog", "run", str(BPF / "xdp_srcip.v3.o"), "data_in", str(data), "data_out", str(out),
              "repeat", "3")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Return value: 2, duration (average): ")
    assert r.stdout.strip().endswith("ns")
    assert out.read_bytes() == data.read_bytes()
    assert "bpf_trace_printk: Received Source IP: 192.168.72.1" in r.stderr
    from pybpf.cli.prog_run import tracelog_verb

    lines = (tmp_path / "pybpf" / "trace_pipe").read_text().splitlines()
    assert len(lines) == 3 and all("Received Source IP: 192.168.72.1" in ln for ln in lines)
    assert callable(tracelog_verb)
    j = pybpf("--json", "prog", "run", str(BPF / "xdp_pass.v3.o"), "data_in", str(data))
    assert json.loads(j.stdout)["retval"] == 2


def test_tracelog_verb_prints_and_consumes(tmp_path, monkeypatch, capsys):
    from pybpf.cli.prog_run import trace_file, tracelog_verb

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    trace_file().parent.mkdir(parents=True)
    trace_file().write_text("a-1 [000] d..31 1.000000: bpf_trace_printk: hi\n")
    tracelog_verb([])
    assert "bpf_trace_printk: hi" in capsys.readouterr().out
    tracelog_verb([])
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pcap_in", "/nonexistent.pcap"], "cannot read"),
        (["name", "nope", "data_in", "/dev/null"], "no program named"),
        (["data_in"], "needs a FILE"),
    ],
)
def test_bad_arguments_are_usage_errors(args, message):
    r = pybpf("prog", "run", str(BPF / "xdp_pass.v3.o"), *args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert message in r.stderr


def test_not_a_capture(tmp_path):
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"not a capture at all")
    r = pybpf("prog", "run", str(BPF / "xdp_pass.v3.o"), "pcap_in", str(bad))
    assert r.returncode == 2 and "not a pcap" in r.stderr


def test_progress_bar_on_a_long_capture_when_stderr_is_a_terminal(tmp_path):
    """A capture of a megabyte or more draws a rich progress bar on a terminal's stderr."""
    import os
    import pty

    frame = udp(53, payload=b"p" * 60)
    cap = write_capture(tmp_path / "long.pcap", [frame] * (1_100_000 // len(frame) + 1), ng=False)
    assert cap.stat().st_size >= 1 << 20
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pybpf.cli.main", "-j", "prog", "run", str(BPF / "xdp_pass.v3.o"),
             "pcap_in", str(cap)],
            stdout=subprocess.PIPE, stderr=slave, text=True,
        )  # fmt: skip
        os.close(slave)
        seen = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        out, _ = proc.communicate(timeout=120)
    finally:
        os.close(master)
    assert proc.returncode == 0
    assert json.loads(out)["verdicts"] == {"XDP_PASS": 1_100_000 // len(frame) + 1}
    assert b"packets" in seen and b"%" in seen  # the bar: its label and percentage


def test_small_captures_and_pipes_get_no_progress_bar(tmp_path):
    cap = write_capture(tmp_path / "in.pcap", PACKETS[:2], ng=False)
    r = pybpf("prog", "run", str(BPF / "xdp_pass.v3.o"), "pcap_in", str(cap))
    assert r.returncode == 0 and r.stderr == ""


def test_non_ethernet_capture_is_refused(tmp_path):
    path = tmp_path / "raw.pcap"
    with path.open("wb") as f:
        dpkt.pcap.Writer(f, linktype=101).writepkt(b"\x45" + bytes(39), ts=1)  # LINKTYPE_RAW: bare IPv4
    r = pybpf("prog", "run", str(BPF / "xdp_pass.v3.o"), "pcap_in", str(path))
    assert r.returncode == 2 and "not Ethernet" in r.stderr and "Traceback" not in r.stderr


def test_ctx_in_ctx_out_files_and_json(tmp_path):
    import struct

    data = tmp_path / "pkt.bin"
    data.write_bytes(udp(53))
    ctx = tmp_path / "ctx.bin"
    ctx.write_bytes(struct.pack("<6I", 0, len(udp(53)), 0, 0, 0, 0))
    ctx_out, data_out = tmp_path / "ctx_out.bin", tmp_path / "data_out.bin"
    r = pybpf("-j", "prog", "run", str(BPF / "xdp_pass.v3.o"), "data_in", str(data), "ctx_in", str(ctx),
              "ctx_out", str(ctx_out), "data_out", str(data_out), "repeat", "5")  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["retval"] == 2 and doc["duration"] > 0
    assert ctx_out.read_bytes() == ctx.read_bytes() and data_out.read_bytes() == data.read_bytes()
    bad = tmp_path / "bad_ctx.bin"
    bad.write_bytes(ctx.read_bytes() + b"\x01")
    r = pybpf("prog", "run", str(BPF / "xdp_pass.v3.o"), "data_in", str(data), "ctx_in", str(bad))
    assert r.returncode != 0 and "E2BIG" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_tracepoint_program_runs_on_ctx_in_in_the_vm(tmp_path):
    """No kernel test_run for tracepoints: the VM fires the event with ctx_in as the record."""
    record = tmp_path / "record.bin"
    record.write_bytes(bytes(48))
    r = pybpf("-j", "prog", "run", str(BPF / "openat_ringbuf.v3.o"), "ctx_in", str(record))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["retval"] == 0
    r = pybpf("prog", "run", str(BPF / "openat_ringbuf.v3.o"), "data_in", str(record))
    assert r.returncode == 2 and "take no data_in" in r.stderr
