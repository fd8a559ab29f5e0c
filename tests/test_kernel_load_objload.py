"""Load preparation without bpf(2): BTF fix-ups, Kconfig layout, ksym resolution."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pybpf.btf import BTF, Datasec, Func, FuncLinkage, Var, VarLinkage
from pybpf.kernel.objload import (
    ExternResolveError,
    build_kconfig,
    kernel_version_code,
    prepare_btf,
    resolve_ksyms,
)
from pybpf.object.spec import ObjectSpec

FIXTURES = Path(__file__).resolve().parent / "bpf"


def test_kernel_version_code() -> None:
    assert kernel_version_code("6.18.44-fc-v657") == (6 << 16) | (18 << 8) | 44
    assert kernel_version_code("5.4.300") == (5 << 16) | (4 << 8) | 255  # sublevel clamped
    assert kernel_version_code("6.1") == (6 << 16) | (1 << 8)


def test_prepare_btf_fixes_datasecs_and_externs() -> None:
    spec = ObjectSpec.from_file(FIXTURES / "globals.v3.o")
    layout = build_kconfig(spec)
    assert layout is not None
    btf = BTF.parse(prepare_btf(spec, layout))
    secs = {t.name: t for t in btf.own_types if isinstance(t, Datasec)}
    assert secs[".data"].size == spec.maps["globals.data"].value_size
    offsets = {btf.name_of(v.type_id): v.offset for v in secs[".data"].vars}
    assert offsets == {"packets_seen": 0, "greeting": 4}
    assert secs[".kconfig"].size == layout.size
    assert {btf.name_of(v.type_id): v.offset for v in secs[".kconfig"].vars} == layout.offsets
    assert all(btf.name_of(v.type_id) == "pybpf_ksym_dummy" for v in secs[".ksyms"].vars)
    for t in btf.own_types:
        if isinstance(t, Func):
            assert t.linkage != FuncLinkage.EXTERN
        if isinstance(t, Var):
            assert t.linkage != VarLinkage.GLOBAL_EXTERN


def test_strong_missing_kconfig_is_an_error() -> None:
    spec = ObjectSpec.from_file(FIXTURES / "globals.v3.o")
    externs = dict(spec.externs)
    ext = externs["CONFIG_PYBPF_DOES_NOT_EXIST"]
    externs[ext.name] = dataclasses.replace(ext, weak=False)
    with pytest.raises(ExternResolveError, match="CONFIG_PYBPF_DOES_NOT_EXIST"):
        build_kconfig(dataclasses.replace(spec, externs=externs))


def test_weak_missing_kconfig_is_zero() -> None:
    spec = ObjectSpec.from_file(FIXTURES / "globals.v3.o")
    layout = build_kconfig(spec)
    assert layout is not None
    off = layout.offsets["CONFIG_PYBPF_DOES_NOT_EXIST"]
    assert layout.data[off] == 0


def test_ksyms_resolve_kfuncs_and_untyped_symbols() -> None:
    ksyms = resolve_ksyms(ObjectSpec.from_file(FIXTURES / "globals.v3.o"))
    assert ksyms["bpf_task_acquire"].is_func and ksyms["bpf_task_acquire"].btf_id > 0
    assert not ksyms["_stext"].typed
