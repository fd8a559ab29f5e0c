"""The bpf_conformance suite: every .data file at cpu v4 with callx, one test per file.

The directory comes from PYBPF_CONFORMANCE_DIR (default ../shared/conformance/tests);
the session prints ``conformance: N/M passed`` at the end (tests/conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import CONFORMANCE_DIR
from pybpf.errors import BPFError
from pybpf.vm import VM
from pybpf.vm.conformance import conformance_helpers, load_case

FILES = sorted(CONFORMANCE_DIR.glob("*.data")) if CONFORMANCE_DIR.is_dir() else []


def _check(path: Path, engine: str) -> None:
    case = load_case(path)
    try:
        vm = VM(case.program(), helpers=conformance_helpers(), engine=engine)  # type: ignore[arg-type]
        result = vm.run(case.mem)
    except BPFError as exc:
        if case.error is None:
            raise
        assert str(exc), "an error is expected and must say something"
        return
    assert case.error is None, f"expected error {case.error!r}, got r0={result:#x}"
    assert result == case.result, f"r0 = {result:#x}, expected {case.result:#x}"


def test_conformance_dir_complete(conformance_dir: Path) -> None:
    assert len(list(conformance_dir.glob("*.data"))) == 313


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_conformance(path: Path) -> None:
    _check(path, "compiled")


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_conformance_reference_engine(path: Path) -> None:
    _check(path, "reference")
