"""Every fixture object loads whole into the running kernel (or fails with the typed error).

What this kernel refuses is asserted precisely, so a change in either pybpf or the
machine shows up: fentry/fexit/fmod_ret/LSM programs (EPERM here), typed ksyms
(no kallsyms address for per-CPU variables), lirc_mode2 (EINVAL, no rc-core),
freplace (pybpf does not load it yet), and one v1 codegen the verifier rejects.
The struct_ops fixtures load whole (serialized: their algorithm names are global).
"""

from __future__ import annotations

import errno
import os
import struct
from pathlib import Path

import pytest

from pybpf.errors import KernelError, NotSupportedError, VerifierError
from pybpf.kernel.objload import kernel_version_code
from pybpf.loaded import load
from pybpf.object.spec import ObjectSpec
from pybpf.uapi import MapType

FIXTURES = Path(__file__).resolve().parent / "bpf"

pytestmark = pytest.mark.kernel

VERSIONS = ("v1", "v3", "v4")
WHOLE = [
    "alu", "atomics", "btf_types", "core", "globals", "helpers_mix", "kprobe", "loop_hash",
    "maps_btf", "maps_legacy", "openat_ringbuf", "sections", "subprogs", "tc_sockfilter",
    "xdp_parse_count", "xdp_pass", "xdp_srcip",
]  # fmt: skip


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("fixture", WHOLE)
def test_fixture_loads_whole(fixture: str, version: str, pin_root: str) -> None:
    spec = ObjectSpec.from_file(FIXTURES / f"{fixture}.{version}.o")
    with load(spec, backend="kernel", pin_root=pin_root) as obj:
        assert set(obj.programs) == set(spec.programs)
        for program in obj.programs.values():
            info = program.handle.info()
            assert info.id > 0
        for name in spec.maps:
            assert obj.maps[name].fd >= 0


@pytest.mark.parametrize("version", VERSIONS)
def test_sections_new_loads_all_but_lirc_and_freplace(version: str) -> None:
    spec = ObjectSpec.from_file(FIXTURES / f"sections_new.{version}.o")
    others = [n for n in spec.programs if n not in ("new_lirc_mode2", "new_freplace")]
    with load(spec, backend="kernel", programs=others) as obj:
        assert len(obj.programs) == len(spec.programs) - 2
    with pytest.raises(KernelError) as exc:
        load(spec, backend="kernel", programs=["new_lirc_mode2"])
    assert exc.value.errno == errno.EINVAL
    with pytest.raises(NotSupportedError):
        load(spec, backend="kernel", programs=["new_freplace"])


@pytest.mark.parametrize("version", VERSIONS)
def test_trampoline_programs_refused_with_eperm(version: str) -> None:
    spec = ObjectSpec.from_file(FIXTURES / f"sections_trampoline.{version}.o")
    for name in spec.programs:
        with pytest.raises(KernelError) as exc:
            load(spec, backend="kernel", programs=[name])
        assert exc.value.errno == errno.EPERM, name


@pytest.mark.parametrize("version", VERSIONS)
def test_typed_ksym_refused_by_verifier(version: str) -> None:
    with pytest.raises(VerifierError) as exc:
        load(FIXTURES / f"ksym_typed.{version}.o", backend="kernel")
    assert "bpf_prog_active" in exc.value.log


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("fixture", ["struct_ops", "struct_ops_link"])
def test_struct_ops_fixtures_load_whole(fixture: str, version: str, struct_ops_registry: None) -> None:
    """Their programs and a struct_ops map per variable (registering them: test_kernel_struct_ops)."""
    spec = ObjectSpec.from_file(FIXTURES / f"{fixture}.{version}.o")
    with load(spec, backend="kernel") as obj:
        assert set(obj.programs) == set(spec.programs)
        for name in spec.struct_ops:
            assert obj.maps[name].raw.info().type == MapType.STRUCT_OPS


def test_subprog_in_section_v1_rejected_v3_v4_load() -> None:
    with pytest.raises(VerifierError) as exc:
        load(FIXTURES / "subprog_in_section.v1.o", backend="kernel")
    assert exc.value.log and "prohibited" in str(exc.value)
    for version in ("v3", "v4"):
        with load(FIXTURES / f"subprog_in_section.{version}.o", backend="kernel") as obj:
            assert set(obj.programs) == {"twice", "xdp_caller"}


def test_globals_kconfig_rodata_and_test_run() -> None:
    with load(FIXTURES / "globals.v3.o", backend="kernel") as obj:
        kconfig = obj.maps["globals.kconfig"]
        assert kernel_version_code().to_bytes(4, "little") in kconfig.lookup(bytes(4))
        assert obj.global_bytes("packets_seen") == struct.pack("<i", 5)
        assert obj.global_bytes("max_len") == struct.pack("<I", 1514)
        run = obj.programs["xdp_globals"].test_run(data_in=bytes(64))
        assert run.retval == 2  # XDP_PASS
        assert obj.global_bytes("packets_seen") == struct.pack("<i", 6)
        assert struct.unpack("<Q", obj.global_bytes("kversion_seen"))[0] == kernel_version_code()
        assert struct.unpack("<Q", obj.global_bytes("hz_seen"))[0] > 0
        assert struct.unpack("<Q", obj.global_bytes("ksym_addr"))[0] != 0  # _stext from kallsyms
        # .rodata is frozen: userspace writes are refused.
        with pytest.raises(Exception) as exc:
            obj.set_global("max_len", struct.pack("<I", 1))
        assert getattr(exc.value, "errno", None) == errno.EPERM


def test_maps_btf_inner_maps_prog_array_and_pin(pin_root: str) -> None:
    pin = os.path.join(pin_root, "pybpf_fixture_pinned")
    with load(FIXTURES / "maps_btf.v3.o", backend="kernel", pin_root=pin_root) as obj:
        outer = obj.maps["outer_array"]
        inner_id = struct.unpack("<I", outer.lookup(struct.pack("<I", 0)))[0]
        assert inner_id == obj.maps["inner0"].id
        assert struct.unpack("<I", outer.lookup(struct.pack("<I", 2)))[0] == obj.maps["inner1"].id
        jmp = obj.maps["jmp_table"]
        assert struct.unpack("<I", jmp.lookup(struct.pack("<I", 0)))[0] == obj.programs["tail_a"].handle.id
        assert obj.maps["flows"].info().btf_id > 0
        assert os.path.exists(pin)
        pinned = obj.maps["pybpf_fixture_pinned"]
        pinned.update(struct.pack("<I", 7), struct.pack("<I", 99))
    # A second load reuses the pin: the value written above is still there.
    with load(FIXTURES / "maps_btf.v3.o", backend="kernel", pin_root=pin_root) as obj:
        assert obj.maps["pybpf_fixture_pinned"].lookup(struct.pack("<I", 7)) == struct.pack("<I", 99)


def test_test_run_same_result_type_as_vm() -> None:
    frame = bytes(14) + bytes(50)
    with load(FIXTURES / "xdp_pass.v3.o", backend="kernel") as kobj, load(FIXTURES / "xdp_pass.v3.o") as vobj:
        k = kobj.programs["xdp_pass"].test_run(data_in=frame)
        v = vobj.programs["xdp_pass"].test_run(data_in=frame)
        assert type(k) is type(v)
        assert (k.retval, k.data_out) == (v.retval, v.data_out)
