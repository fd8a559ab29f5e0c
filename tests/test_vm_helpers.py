"""The helper registry: specs, prototypes, lookup errors."""

from __future__ import annotations

import pytest

from pybpf.errors import BPFError, UnknownHelperError
from pybpf.helpers import ArgType, HelperProto, HelperRegistry, HelperSpec, RetType, helper_name


def _impl(ctx, r1, r2, r3, r4, r5):  # type: ignore[no-untyped-def]
    return 0


def test_register_and_lookup_by_kernel_name() -> None:
    reg = HelperRegistry()
    proto = HelperProto(RetType.PTR_TO_MAP_VALUE_OR_NULL, (ArgType.CONST_MAP_PTR, ArgType.PTR_TO_MAP_KEY))
    spec = reg.add("map_lookup_elem", _impl, proto)
    assert spec == HelperSpec(1, "map_lookup_elem", proto, _impl)
    assert reg.get(1) is spec and reg.by_name("map_lookup_elem") is spec
    assert 1 in reg and len(reg) == 1 and list(reg) == [spec]
    assert reg.lookup(2) is None
    with pytest.raises(UnknownHelperError, match="map_update_elem"):
        reg.get(2)
    with pytest.raises(BPFError, match="already registered"):
        reg.add(1, _impl)
    reg.add(1, _impl, replace=True)
    copy = reg.copy()
    copy.add(5, _impl)
    assert 5 in copy and 5 not in reg


def test_bad_specs() -> None:
    with pytest.raises(UnknownHelperError):
        HelperRegistry().add("no_such_helper", _impl)
    with pytest.raises(BPFError):
        HelperProto(args=(ArgType.ANYTHING,) * 6)
    with pytest.raises(BPFError):
        HelperRegistry().register("not a spec")  # type: ignore[arg-type]
    assert helper_name(1) == "map_lookup_elem" and helper_name(100000) == "helper#100000"
