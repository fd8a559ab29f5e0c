"""VM backend map behaviour on clang-built fixtures: initial values, per-CPU, read-only, typed access."""

from __future__ import annotations

from pathlib import Path

import pytest

import pybpf
from pybpf.errors import MapError, VMError
from pybpf.isa import assemble
from pybpf.maps import create_map
from pybpf.maps.typed import TypedMap
from pybpf.progtypes import spec_for
from pybpf.runtime.program import VmProgram
from pybpf.runtime.task import Task
from pybpf.runtime.testrun import test_run as vm_test_run
from pybpf.uapi import MapType, ProgType

BPF = Path(__file__).parent / "bpf"
FRAME = bytes(64)
XDP_DROP, XDP_PASS, XDP_TX = 1, 2, 3


def test_load_is_lazy_top_level_export():
    assert callable(pybpf.load)
    assert pybpf.RingBuffer.__name__ == "RingBuffer"
    assert pybpf.PerfBuffer.__name__ == "PerfBuffer"


@pytest.mark.parametrize(("route", "verdict"), [(None, XDP_PASS), (0, XDP_DROP), (2, XDP_TX)])
def test_tail_call_through_prog_array_initial_values(route, verdict):
    with pybpf.load(BPF / "maps_btf.v3.o") as obj:
        if route is not None:  # the route value picks the jmp_table slot (u32v & 3)
            obj.maps["routes"][{"prefixlen": 32, "addr": [10, 0, 0, 1]}] = route
        assert obj.programs["xdp_use_maps"].test_run(data_in=FRAME).retval == verdict
        ids = {obj.programs["tail_a"].handle.id, obj.programs["tail_b"].handle.id}
        assert {obj.maps["jmp_table"][0], obj.maps["jmp_table"][2]} == ids
        assert 1 not in obj.maps["jmp_table"]


def test_array_of_maps_initial_values_reach_inner_maps():
    with pybpf.load(BPF / "maps_btf.v3.o") as obj:
        obj.programs["xdp_use_maps"].test_run(data_in=FRAME, repeat=3)
        assert obj.maps["inner0"][0] == 3  # outer_array[0] = inner0, incremented through the outer map
        assert obj.maps["inner1"][0] == 0
        assert obj.maps["outer_array"].raw.inner_map(bytes(4)) is obj.maps["inner0"].raw


def test_hash_of_maps_inner_inserted_from_python():
    with pybpf.load(BPF / "maps_btf.v3.o") as obj:
        inner = create_map(MapType.HASH, 4, 4, 16, name="inner_h")
        obj.maps["outer_hash"][0] = inner
        obj.programs["xdp_use_maps"].test_run(data_in=FRAME)
        assert TypedMap(inner)[0] == 7  # the program updated the inner map through the outer one
        inner.close()


@pytest.mark.parametrize("cpu", [0, 1])
def test_percpu_maps_use_the_task_cpu(cpu):
    task = Task(pid=10, tgid=10, uid=0, gid=0, comm="t", cpu=cpu)
    with pybpf.load(BPF / "maps_btf.v3.o", task=task, num_cpus=2) as obj:
        obj.programs["xdp_use_maps"].test_run(data_in=FRAME, repeat=2)
        expected = [0, 0]
        expected[cpu] = 2
        assert obj.maps["percpu_counters"][0] == expected
        assert obj.maps["lru_percpu"][0][cpu] == 9


def test_typed_btf_struct_keys_and_values():
    with pybpf.load(BPF / "maps_btf.v3.o") as obj:
        flows = obj.maps["flows"]
        key = {"saddr": 1, "daddr": 2, "sport": 3, "dport": 4, "proto": 17}
        flows[key] = {"packets": 10, "bytes": 100}
        obj.programs["xdp_use_maps"].test_run(data_in=FRAME)
        assert flows[key] == {"packets": 11, "bytes": 164}
        assert list(flows) == [{**key, "pad": [0, 0, 0]}]
        with pytest.raises(MapError):
            flows[key] = {"packets": 1, "nope": 2}
        with pytest.raises(KeyError):
            flows[{"saddr": 9}]
        raw_key = next(iter(flows.raw))  # the raw, bytes-level API is still there
        assert len(flows.lookup(raw_key)) == 16


def test_typed_map_btf_path_direct():
    spec = pybpf.ObjectSpec.from_file(BPF / "maps_btf.v3.o")
    ms = spec.maps["flows"]
    m = create_map(ms.type, ms.key_size, ms.value_size, 8, name="f", btf=spec.btf,
                   btf_key=ms.key_type_id, btf_value=ms.value_type_id)  # fmt: skip
    t = TypedMap(m)
    t[{"saddr": 0xFFFFFFFF, "proto": 6}] = {"packets": 2**64 - 1}
    k, v = next(iter(t.items()))
    assert k["saddr"] == 0xFFFFFFFF and k["proto"] == 6 and v == {"packets": 2**64 - 1, "bytes": 0}
    with pytest.raises(MapError):
        t[{"saddr": 1 << 32}] = {}
    m.close()


def asm_program(obj, text, prog_type=ProgType.XDP, name="asm"):
    """A VmProgram from C-syntax assembler text, in ``obj``'s VM runtime (its maps and helpers)."""
    insns = assemble(text, syntax="c")
    backend = obj.backend
    return VmProgram(name, insns, spec_for(prog_type, None), backend.runtime, backend.helpers)


def test_rodata_is_read_only_for_programs():
    with pybpf.load(BPF / "helpers_mix.v3.o") as obj:
        rodata = obj.maps["helpers_.rodata"]
        assert rodata.frozen
        with pytest.raises(MapError):
            rodata.update(bytes(4), bytes(rodata.value_size))
        binding = obj.backend.runtime.binding("helpers_.rodata")
        value = binding.handle + rodata.value_offset(bytes(4))
        reader = asm_program(obj, f"r1 = {value} ll\nr0 = *(u8 *)(r1 + 1)\nexit")
        assert vm_test_run(reader, data_in=FRAME).retval == rodata.lookup(bytes(4))[1]
        writer = asm_program(obj, f"r1 = {value} ll\nr2 = 1\n*(u8 *)(r1 + 0) = r2\nr0 = 0\nexit")
        with pytest.raises(VMError):
            vm_test_run(writer, data_in=FRAME)
