"""Auto-attach from the section name, as libbpf's skeleton attach does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pybpf.errors import BPFError, NotSupportedError
from pybpf.kernel.links import Link
from pybpf.loaded import load
from pybpf.object.spec import ObjectSpec

pytestmark = pytest.mark.kernel

FIXTURES = Path(__file__).resolve().parent / "bpf"


def test_attach_all_raw_tracepoint() -> None:
    with load(FIXTURES / "core.v3.o", backend="kernel") as obj:
        links = obj.attach_all()
        assert [link.description for link in links] == ["raw_tracepoint sys_enter"]
        assert links[0].info().id > 0
    assert links[0].closed


@pytest.mark.parametrize(
    "program,description",
    [
        ("sec_tp", "tracepoint sched:sched_process_exec"),
        ("sec_tracepoint", "tracepoint syscalls:sys_enter_unlinkat"),
        ("sec_raw_tp", "raw_tracepoint sched_switch"),
        ("sec_raw_tracepoint", "raw_tracepoint sys_enter"),
        ("sec_tp_btf", "tracing sec_tp_btf"),
    ],
)
def test_attach_from_section(program: str, description: str) -> None:
    with load(FIXTURES / "sections.v3.o", backend="kernel", programs=[program]) as obj:
        link = obj.programs[program].attach()
        assert isinstance(link, Link)
        assert link.description == description


@pytest.mark.skipif(not os.path.exists("/bin/bash"), reason="needs /bin/bash for the uprobe target")
@pytest.mark.parametrize("program", ["sec_uprobe", "sec_uretprobe"])
def test_attach_uprobe_resolves_symbol(program: str) -> None:
    with load(FIXTURES / "sections.v3.o", backend="kernel", programs=[program]) as obj:
        link = obj.programs[program].attach()
        assert "bash+0x" in link.description


@pytest.mark.skipif(
    os.path.exists("/sys/bus/event_source/devices/kprobe"), reason="this machine has a kprobe PMU"
)
def test_kprobe_attach_refused_without_kprobe_pmu() -> None:
    with load(FIXTURES / "kprobe.v3.o", backend="kernel") as obj, pytest.raises(NotSupportedError):
        obj.programs["count_unlinkat"].attach()


def test_xdp_needs_an_interface() -> None:
    with load(FIXTURES / "xdp_pass.v3.o", backend="kernel") as obj:
        with pytest.raises(NotSupportedError):
            obj.programs["xdp_pass"].attach()
        assert obj.attach_all() == []  # skipped, not failed


def test_vm_backend_cannot_attach() -> None:
    with load(FIXTURES / "xdp_pass.v3.o") as obj, pytest.raises(NotSupportedError):
        obj.programs["xdp_pass"].attach("lo")


def test_program_filter_rejects_unknown_names() -> None:
    spec = ObjectSpec.from_file(FIXTURES / "xdp_pass.v3.o")
    with pytest.raises(BPFError, match="no program"):
        load(spec, backend="kernel", programs=["nope"])
