"""Externs in the VM backend: .kconfig values, __ksym addresses and kfunc calls (globals fixture)."""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import pytest

from pybpf.errors import NotSupportedError
from pybpf.helpers.impl_kfuncs import TASK_REFS_KEY
from pybpf.loaded import LoadedObject
from pybpf.loaded import load as load_object
from pybpf.object.spec import ExternSpec, ObjectSpec
from pybpf.runtime.externs import ExternError, host_kconfig, kernel_version_code
from pybpf.runtime.state import RUNTIME_KEY

BPF = Path(__file__).parent / "bpf"
VERSIONS = ("v1", "v3", "v4")
XDP_DROP, XDP_PASS = 1, 2
KV_5_15_3 = (5 << 16) | (15 << 8) | 3
TASK = 0xFFFF_8880_0000_1000


def u64(obj: LoadedObject, name: str) -> int:
    return int.from_bytes(obj.global_bytes(name), "little")


def load(version: str, **options: object) -> LoadedObject:
    return load_object(BPF / f"globals.{version}.o", **options)


@pytest.mark.parametrize("version", VERSIONS)
def test_xdp_globals_with_explicit_kernel(version: str) -> None:
    opts = {"kernel_version": KV_5_15_3, "kconfig": {"CONFIG_HZ": 250}, "kconfig_from_host": False}
    with load(version, **opts) as obj:
        prog = obj.programs["xdp_globals"]
        assert prog.test_run(data_in=bytes(60)).retval == XDP_PASS
        assert u64(obj, "kversion_seen") == KV_5_15_3
        assert u64(obj, "hz_seen") == 250
        assert u64(obj, "ksym_addr") == 0  # weak _stext: the VM has no kallsyms
        assert obj.global_bytes("last_bytes")[0] == 0  # both weak kconfigs missing -> 0
        assert u64(obj, "packets_seen") == 6
        assert u64(obj, "bytes_seen") == 60
        assert u64(obj, "foo_counter") == 42 + 1  # weights[60 & 3]
        assert struct.unpack("<4Q", obj.global_bytes("foo_array")) == (1 + 7, 2, 3, 4)
        assert obj.global_bytes("greeting")[:5] == b"hello"  # ro_magic untouched

        assert prog.test_run(data_in=bytes(1515)).retval == XDP_DROP  # > max_len (1514)
        assert u64(obj, "drops") == 1
        assert u64(obj, "foo_counter") == 43 + 8  # weights[1515 & 3]
        assert u64(obj, "bytes_seen") == 60 + 1515
        kconfig = obj.maps["globals.kconfig"].lookup(bytes(4))
        assert KV_5_15_3.to_bytes(4, "little") in bytes(kconfig)


@pytest.mark.parametrize(
    "kconfig",
    [
        {"CONFIG_BPF_LSM": "y"},
        {"CONFIG_PYBPF_DOES_NOT_EXIST": True},
        {"CONFIG_BPF_LSM": "m", "CONFIG_PYBPF_DOES_NOT_EXIST": "y"},
    ],
)
def test_tristate_and_bool_kconfig(kconfig: dict[str, object]) -> None:
    with load("v3", kconfig={"CONFIG_HZ": 100, **kconfig}, kconfig_from_host=False) as obj:
        obj.programs["xdp_globals"].test_run(data_in=bytes(64))
        assert obj.global_bytes("last_bytes")[0] == 1


def test_tristate_m_is_not_yes() -> None:
    with load("v3", kconfig={"CONFIG_HZ": 100, "CONFIG_BPF_LSM": "m"}, kconfig_from_host=False) as obj:
        obj.programs["xdp_globals"].test_run(data_in=bytes(64))
        assert obj.global_bytes("last_bytes")[0] == 0


def test_ksym_address_option() -> None:
    opts = {"kconfig": {"CONFIG_HZ": 100}, "ksyms": {"_stext": 0xFFFFFFFF81000000}}
    with load("v3", **opts) as obj:
        obj.programs["xdp_globals"].test_run(data_in=bytes(64))
        assert u64(obj, "ksym_addr") == 0xFFFFFFFF81000000


def test_host_defaults() -> None:
    host = host_kconfig()
    if "CONFIG_HZ" not in host:
        pytest.skip("no host kernel config (/proc/config.gz, /boot/config-*)")
    with load("v4") as obj:
        obj.programs["xdp_globals"].test_run(data_in=bytes(64))
        assert u64(obj, "kversion_seen") == kernel_version_code()
        assert u64(obj, "hz_seen") == int(host["CONFIG_HZ"])
        assert obj.global_bytes("last_bytes")[0] == int(host.get("CONFIG_BPF_LSM") == "y")


def test_strong_kconfig_missing_is_a_typed_error() -> None:
    with pytest.raises(ExternError, match="CONFIG_HZ") as info:
        load("v3", kconfig_from_host=False)
    assert info.value.extern == "CONFIG_HZ"


def test_bad_kconfig_value_is_a_typed_error() -> None:
    with pytest.raises(ExternError, match="CONFIG_BPF_LSM"):
        load("v3", kconfig={"CONFIG_HZ": 100, "CONFIG_BPF_LSM": "maybe"}, kconfig_from_host=False)


@pytest.mark.parametrize("version", VERSIONS)
def test_count_new_tasks_kfuncs(version: str) -> None:
    with load(version, kconfig={"CONFIG_HZ": 100}) as obj:
        prog = obj.programs["count_new_tasks"]
        assert prog.trigger(struct.pack("<QQ", TASK, 0)).retval == 0
        assert prog.trigger(struct.pack("<QQ", TASK, 1)).retval == 0
        assert u64(obj, "new_tasks") == 2
        assert prog.trigger(struct.pack("<QQ", 0, 0)).retval == 0  # acquire(NULL) -> NULL
        assert u64(obj, "new_tasks") == 2
        refs = prog.handle.vm.context.state.get(TASK_REFS_KEY, {})
        assert refs == {}  # every acquire was released
        assert prog.handle.vm.context.state[RUNTIME_KEY] is obj.backend.runtime


def _with_extern(spec: ObjectSpec, old: str, new: ExternSpec) -> ObjectSpec:
    externs = {k: v for k, v in spec.externs.items() if k != old}
    externs[new.name] = new
    return dataclasses.replace(spec, externs=externs)


def test_unknown_kfunc_is_refused_at_load() -> None:
    spec = ObjectSpec.from_file(BPF / "globals.v3.o")
    old = spec.externs["bpf_task_release"]
    bad = _with_extern(spec, old.name, dataclasses.replace(old, name="bpf_pybpf_no_such_kfunc"))
    with pytest.raises(NotSupportedError, match="bpf_pybpf_no_such_kfunc"):
        load_object(bad, kconfig={"CONFIG_HZ": 100})


def test_strong_ksym_without_address_is_a_typed_error() -> None:
    spec = ObjectSpec.from_file(BPF / "globals.v3.o")
    strong = _with_extern(spec, "_stext", dataclasses.replace(spec.externs["_stext"], weak=False))
    with pytest.raises(ExternError, match="_stext"):
        load_object(strong, kconfig={"CONFIG_HZ": 100})
    with load_object(strong, kconfig={"CONFIG_HZ": 100}, ksyms={"_stext": 0x1000}) as obj:
        obj.programs["xdp_globals"].test_run(data_in=bytes(64))
        assert u64(obj, "ksym_addr") == 0x1000


@pytest.mark.kernel
def test_vm_matches_kernel_with_host_defaults() -> None:
    """With host defaults the VM computes what the kernel does (except _stext's address)."""
    names = (
        "kversion_seen",
        "hz_seen",
        "last_bytes",
        "packets_seen",
        "bytes_seen",
        "foo_counter",
        "foo_array",
    )
    results = []
    for backend in ("vm", "kernel"):
        with load_object(BPF / "globals.v3.o", backend=backend, programs=["xdp_globals"]) as obj:
            retvals = [obj.programs["xdp_globals"].test_run(data_in=bytes(n)).retval for n in (60, 1515, 99)]
            results.append((retvals, {n: obj.global_bytes(n) for n in names}))
    assert results[0] == results[1]
