"""The Backend protocol: what the object model needs from a place that runs programs.

The VM and the kernel both implement it, so :class:`pybpf.loaded.LoadedObject`,
the CLI and tests never branch on which one they talk to.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..object.spec import MapSpec, ObjectSpec, ProgramSpec
from .testrun import TestRun


class Backend(Protocol):
    """Create maps, load programs, run them (BPF_PROG_TEST_RUN) and release everything.

    Loading order (:class:`pybpf.loaded.LoadedObject`): ``prepare(spec)`` once, then
    ``create_map`` for every map of the spec it returned, ``load_program`` for each
    program, then ``finalize`` (fills prog arrays and maps of maps, which need fds
    of things created later).
    """

    name: str

    def prepare(self, spec: ObjectSpec) -> ObjectSpec:
        """Whole-object work before maps exist (BTF, externs); may add maps (``.kconfig``)."""
        ...

    def finalize(self, maps: dict[str, Any], programs: dict[str, Any]) -> None:
        """Fill fd-valued maps (prog arrays, maps of maps) from their initial values."""
        ...

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
        data_size_out: int | None = None,
        flags: int = 0,
    ) -> TestRun:
        """Run ``program`` once or ``repeat`` times, as BPF_PROG_TEST_RUN does.

        A backend that can run tracing programs on a chosen context (the VM) also
        has ``trigger(program, ctx_in, repeat=)``; :meth:`pybpf.loaded.Program.trigger`
        looks for it.
        """
        ...

    def attach(self, program: Any, spec: ProgramSpec, target: Any = None, **options: Any) -> Any:
        """Attach ``program`` where its section says (``target``: interface or cgroup); a Link."""
        ...

    def pin(self, handle: Any, path: str) -> None:
        """Pin a map or program at ``path`` (bpffs for the kernel)."""
        ...

    def close(self) -> None:
        """Release maps and programs."""
        ...
