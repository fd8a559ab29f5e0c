"""The verifier-failure path with real clang-built programs the kernel rejects.

libbpf's policy, checked on the syscalls actually made: the first BPF_PROG_LOAD
carries no log; only a failure triggers a retry with log level 1, whose buffer
grows until the whole log fits; the error is a VerifierError whose summary is
one line (the log's last meaningful line) and whose ``log`` is the full log.
"""

from __future__ import annotations

import ctypes
import errno
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pybpf.errors import VerifierError
from pybpf.kernel import KernelVerifierError, syscall
from pybpf.kernel.attr import ProgLoadAttr
from pybpf.kernel.logbuf import summary_line
from pybpf.loaded import load
from pybpf.uapi import Cmd

pytestmark = [pytest.mark.kernel, pytest.mark.clang]

FIXTURES = Path(__file__).resolve().parent / "bpf"

# Reads the first packet byte without checking it against data_end.
UNCHECKED_PACKET_READ = r"""
#include "fixture.h"

SEC("xdp")
int unchecked(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data;

	return data[0] == 0x45 ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
"""


@pytest.fixture(scope="module")
def bad_object(tmp_path_factory: pytest.TempPathFactory) -> Path:
    clang = shutil.which("clang-19")
    if clang is None:
        pytest.fail("clang-19 is required to build the rejected program")
    flags = subprocess.run(
        ["make", "-s", "-C", str(FIXTURES), "print-cflags"], capture_output=True, text=True, check=True
    ).stdout.split()
    out = tmp_path_factory.mktemp("verifier")
    src = out / "unchecked.bpf.c"
    src.write_text(UNCHECKED_PACKET_READ)
    obj = out / "unchecked.o"
    flags = [f for f in flags if not f.startswith(("-ffile-prefix-map", "-I."))]
    subprocess.run([clang, *flags, f"-I{FIXTURES}", "-mcpu=v3", "-c", str(src), "-o", str(obj)], check=True)
    return obj


@pytest.fixture
def prog_loads() -> Iterator[list[tuple[int, int, int]]]:
    """(log_level, log_size, result) of every BPF_PROG_LOAD made inside the test."""
    calls: list[tuple[int, int, int]] = []
    real = syscall._real_bpf

    def record(cmd: Cmd, attr: ctypes._CData, size: int) -> int:
        rc = real(cmd, attr, size)
        if cmd == Cmd.PROG_LOAD and isinstance(attr, ProgLoadAttr):
            calls.append((attr.log_level, attr.log_size, rc))
        return rc

    with syscall.hooked(bpf_hook=record):
        yield calls


def test_rejected_object_raises_verifier_error_with_summary_and_log(
    bad_object: Path, prog_loads: list[tuple[int, int, int]]
) -> None:
    with pytest.raises(VerifierError) as info:
        load(bad_object, backend="kernel")
    err = info.value
    assert isinstance(err, KernelVerifierError)
    assert err.errno == errno.EACCES and err.command == "prog_load"
    assert err.summary == "R1 offset is outside of the packet"
    assert "invalid access to packet, off=0 size=1" in err.log
    assert err.summary == summary_line(err.log) == str(err).splitlines()[0]
    # The full log: the instruction trace from the first instruction, and the statistics.
    assert err.log.splitlines()[0].startswith("0: R1=ctx()")
    assert "processed 2 insns" in err.log
    # line_info reached the kernel: the log quotes the C source line of each instruction.
    assert "; return data[0] == 0x45 ? XDP_DROP : XDP_PASS; @ unchecked.bpf.c:9" in err.log
    assert err.hint and "verifier" in err.hint
    # libbpf's policy: no log on the first try, a level-1 log on the retry.
    assert [(level, rc < 0) for level, _size, rc in prog_loads] == [(0, True), (1, True)]
    assert prog_loads[0][1] == 0 and prog_loads[1][1] > 0


def test_small_log_buffer_grows_until_the_log_fits(
    bad_object: Path, prog_loads: list[tuple[int, int, int]]
) -> None:
    with pytest.raises(KernelVerifierError) as info:
        load(bad_object, backend="kernel", log_size=256)
    sizes = [size for level, size, _rc in prog_loads if level]
    assert sizes[0] == 256 and sizes[-1] > sizes[0]  # grew after ENOSPC
    assert [rc for _l, _s, rc in prog_loads][-1] == -errno.EACCES  # the last try failed on the program
    assert "processed" in info.value.log and info.value.log.splitlines()[0].startswith("0: R1=ctx()")


def test_a_good_program_loads_without_a_log(prog_loads: list[tuple[int, int, int]]) -> None:
    with load(FIXTURES / "xdp_parse_count.v3.o", backend="kernel") as obj:
        assert obj.programs["xdp_parse_count"].handle.log == ""
    assert [(level, size) for level, size, _rc in prog_loads] == [(0, 0)]
