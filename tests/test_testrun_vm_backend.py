"""End to end: clang-built fixtures loaded into the VM backend and test-run."""

from __future__ import annotations

import socket
import struct
from pathlib import Path

import dpkt
import pytest

import pybpf
from pybpf.errors import VerifierError
from pybpf.progtypes.tracing import parse_tracepoint_format
from pybpf.runtime.task import Task
from test_helpers_runtime import OPENAT_FORMAT

BPF = Path(__file__).parent / "bpf"
TASK = Task(pid=5001, tgid=5000, uid=0, gid=0, comm="cat", cpu=0)


def ipv4_frame(src: str) -> bytes:
    ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton("10.0.0.1"), p=17, data=b"x" * 8)
    return bytes(dpkt.ethernet.Ethernet(dst=b"\x02" * 6, src=b"\x04" * 6, type=0x0800, data=ip))


def test_xdp_srcip_prints_source_and_passes():
    with pybpf.load(BPF / "xdp_srcip.v3.o", task=TASK) as obj:
        res = obj.programs["xdp_srcip"].test_run(data_in=ipv4_frame("192.168.72.1"), repeat=2)
        assert res.retval == 2  # XDP_PASS
        log = obj.trace_log
        assert log.messages == ["Received Source IP: 192.168.72.1"] * 2
        assert "cat-5001" in log.lines()[0]
        assert obj.maps["pkt_count"].lookup(bytes(4)) == struct.pack("<Q", 2)


def ipv6_frame(src: str) -> bytes:
    ip6 = dpkt.ip6.IP6(
        src=socket.inet_pton(socket.AF_INET6, src), dst=socket.inet_pton(socket.AF_INET6, "fe80::1"),
        nxt=17, hlim=64, plen=8, data=b"x" * 8,
    )  # fmt: skip
    return bytes(dpkt.ethernet.Ethernet(dst=b"\x02" * 6, src=b"\x04" * 6, type=0x86DD, data=ip6))


def test_xdp_srcip_prints_the_ipv6_form_and_passes():
    """%pI6 prints eight 4-digit groups, uncompressed, as the kernel's vsnprintf does."""
    with pybpf.load(BPF / "xdp_srcip.v3.o", task=TASK) as obj:
        res = obj.programs["xdp_srcip"].test_run(data_in=ipv6_frame("2001:db8::72:1"))
        assert res.retval == 2  # XDP_PASS
        assert obj.trace_log.messages == ["Received Source IPv6: 2001:0db8:0000:0000:0000:0000:0072:0001"]
        assert "cat-5001" in obj.trace_log.lines()[0]


def test_openat_ringbuf_record_reaches_python_callback():
    fmt = parse_tracepoint_format(OPENAT_FORMAT)
    with pybpf.load(BPF / "openat_ringbuf.v3.o", task=TASK) as obj:
        memory = obj.backend.runtime.memory
        filename = memory.add("user:filename", bytearray(b"/etc/hostname\0"))
        record = fmt.build_record({"flags": 0o100}, pid=TASK.pid, pointer_values={"filename": filename.base})
        res = obj.programs["trace_openat"].trigger(record)
        assert res.retval == 0
        events: list[bytes] = []
        with pybpf.RingBuffer(obj.maps["events"], events.append) as rb:
            assert rb.poll(timeout_ms=100) == 1
            assert rb.consume() == 0
        assert len(events) == 1
        pid, tid, flags = struct.unpack_from("<IIq", events[0])
        comm = events[0][16:32].rstrip(b"\0")
        name = events[0][32:].split(b"\0", 1)[0]
        assert (pid, tid, flags, comm, name) == (5000, 5001, 0o100, b"cat", b"/etc/hostname")


@pytest.mark.parametrize("fixture", ["xdp_pass", "xdp_parse_count", "tc_sockfilter", "kprobe", "subprogs"])
def test_other_fixtures_load(fixture):
    path = BPF / f"{fixture}.v3.o"
    if not path.exists():
        pytest.skip(f"{path.name} not built")
    try:
        with pybpf.load(path) as obj:
            assert obj.programs
    except VerifierError as exc:  # a helper outside our per-type sets would show up here
        pytest.fail(f"{fixture}: {exc}")


@pytest.mark.kernel
@pytest.mark.parametrize("backend", ["vm", "kernel"])
def test_data_size_out_bounds_data_out_on_both_backends(backend: str):
    from pybpf.errors import KernelError

    frame = ipv4_frame("10.0.0.9")
    with pybpf.load(BPF / "xdp_pass.v3.o", backend=backend) as obj:
        prog = obj.programs["xdp_pass"]
        assert prog.test_run(data_in=frame, data_size_out=len(frame)).data_out == frame
        with pytest.raises(KernelError) as info:
            prog.test_run(data_in=frame, data_size_out=len(frame) - 1)
        assert info.value.errno == 28  # ENOSPC


@pytest.mark.kernel
def test_openat_record_from_the_running_kernels_format_file():
    """The record laid out from /sys/kernel/tracing/events/syscalls/sys_enter_openat/format."""
    from pybpf.progtypes.tracing import load_tracepoint_format

    fmt = load_tracepoint_format("syscalls", "sys_enter_openat")
    assert {"filename", "flags", "mode"} <= {f.name for f in fmt.fields}
    with pybpf.load(BPF / "openat_ringbuf.v3.o", task=TASK) as obj:
        name = obj.backend.runtime.memory.add("user:name", bytearray(b"/etc/hostname\0"))
        record = fmt.build_record({"flags": 2}, pid=TASK.pid, pointer_values={"filename": name.base})
        assert obj.programs["trace_openat"].trigger(record).retval == 0
        events: list[bytes] = []
        with pybpf.RingBuffer(obj.maps["events"], events.append) as rb:
            assert rb.consume() == 1
    assert struct.unpack_from("<q", events[0], 8)[0] == 2
    assert events[0][32:].split(b"\0", 1)[0] == b"/etc/hostname"


@pytest.mark.kernel
def test_trace_line_has_the_kernels_layout():
    """The same bpf_printk from the kernel (its trace buffer) and the VM: equal but for flags and time."""
    import os
    import re

    from pybpf.kernel.pin import ensure_tracefs

    src = f"198.51.100.{os.getpid() % 250 + 1}"
    frame = ipv4_frame(src)
    with pybpf.load(BPF / "xdp_srcip.v3.o", backend="kernel") as obj:
        obj.programs["xdp_srcip"].test_run(data_in=frame)
    trace = Path(ensure_tracefs()) / "trace"
    mine = [ln for ln in trace.read_text(errors="replace").splitlines() if ln.endswith(f"IP: {src}")]
    assert mine, "the kernel's bpf_printk line is in the trace buffer"
    kernel_line = mine[-1]
    comm = re.match(r"\s*(.*?)-\d+\s", kernel_line).group(1)  # type: ignore[union-attr]  # "<...>" if not cached
    task = Task(
        pid=os.getpid(), tgid=os.getpid(), uid=0, gid=0, comm=comm, cpu=int(kernel_line.split("[")[1][:3])
    )
    with pybpf.load(BPF / "xdp_srcip.v3.o", task=task) as obj:
        obj.programs["xdp_srcip"].test_run(data_in=frame)
        vm_line = obj.trace_log.lines()[0]
    shape = re.compile(r"\] \S{5} +\d+\.\d{6}: ")  # irq/preempt flags and timestamp differ by context
    assert shape.sub("] F T: ", vm_line) == shape.sub("] F T: ", kernel_line)
