"""The Backend protocol: what the object model needs from a place that runs programs.

The VM and the kernel both implement it, so :class:`pybpf.loaded.LoadedObject`,
the CLI and tests never branch on which one they talk to.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..object.spec import MapSpec, ProgramSpec
from .testrun import TestRun


class Backend(Protocol):
    """Create maps, load programs, run them (BPF_PROG_TEST_RUN) and release everything."""

    name: str

    def create_map(self, spec: MapSpec) -> Any:
        """A live map for ``spec`` (global-data maps start with their initial bytes)."""
        ...

    def load_program(self, spec: ProgramSpec, maps: dict[str, Any]) -> Any:
        """A loaded program whose map references point at ``maps`` (by name)."""
        ...

    def test_run(
        self,
        program: Any,
        *,
        data_in: bytes = b"",
        ctx_in: bytes | None = None,
        repeat: int = 1,
        flags: int = 0,
    ) -> TestRun:
        """Run ``program`` once or ``repeat`` times, as BPF_PROG_TEST_RUN does."""
        ...

    def close(self) -> None:
        """Release maps and programs."""
        ...
