"""The bpf_conformance suite: every .data file at cpu v4 with callx, one test per file.

The directory comes from PYBPF_CONFORMANCE_DIR (default ../shared/conformance/tests);
the session prints ``conformance: N/M passed`` at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import CONFORMANCE_DIR
from pybpf.errors import BPFError
from pybpf.vm import VM
from pybpf.vm.conformance import conformance_helpers, load_case

FILES = sorted(CONFORMANCE_DIR.glob("*.data")) if CONFORMANCE_DIR.is_dir() else []
RESULTS: dict[str, bool] = {}


class _SummaryPlugin:
    """Registered on first use; prints ``conformance: N/M passed`` in the terminal summary."""

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if RESULTS:
            terminalreporter.write_line(f"conformance: {sum(RESULTS.values())}/{len(FILES)} passed")


@pytest.fixture(scope="module", autouse=True)
def _summary(request: pytest.FixtureRequest) -> Iterator[None]:
    manager = request.config.pluginmanager
    if not manager.has_plugin("pybpf-conformance-summary"):
        manager.register(_SummaryPlugin(), "pybpf-conformance-summary")
    yield


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
    RESULTS[path.name] = False
    _check(path, "compiled")
    RESULTS[path.name] = True


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_conformance_reference_engine(path: Path) -> None:
    _check(path, "reference")
