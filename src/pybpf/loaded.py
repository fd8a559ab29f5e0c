"""A loaded object: its programs and maps, live in one backend.

``with pybpf.loaded.load("prog.bpf.o") as obj: obj.programs["xdp_srcip"].test_run(data_in=frame)``
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .backends.testrun import TestRun
from .errors import BPFError, NotSupportedError
from .object.spec import ObjectSpec, ProgramSpec


class Program:
    """A loaded program: run it with :meth:`test_run`."""

    def __init__(self, spec: ProgramSpec, handle: Any, backend: Any) -> None:
        self.spec = spec
        self.handle = handle
        self._backend = backend

    @property
    def name(self) -> str:
        return self.spec.name

    def test_run(
        self, *, data_in: bytes = b"", ctx_in: bytes | None = None, repeat: int = 1, flags: int = 0
    ) -> TestRun:
        result: TestRun = self._backend.test_run(
            self.handle, data_in=data_in, ctx_in=ctx_in, repeat=repeat, flags=flags
        )
        return result

    def __repr__(self) -> str:
        return f"Program({self.name!r}, {self.spec.prog_type.uapi_name})"


class LoadedObject:
    """Programs and maps of one object in one backend; a context manager that releases them."""

    def __init__(self, spec: ObjectSpec, backend: Any) -> None:
        self.spec = spec
        self.backend = backend
        self.maps: dict[str, Any] = {}
        self.programs: dict[str, Program] = {}
        try:
            for name, map_spec in spec.maps.items():
                self.maps[name] = backend.create_map(map_spec)
            for name, prog_spec in spec.programs.items():
                self.programs[name] = Program(prog_spec, backend.load_program(prog_spec, self.maps), backend)
        except BaseException:
            backend.close()
            raise

    def global_bytes(self, name: str) -> bytes:
        """Current bytes of a global variable (read from its data map's storage)."""
        var = self.spec.variables.get(name)
        if var is None:
            raise BPFError(f"no global variable named {name!r}")
        value = self.maps[var.map_name].lookup(bytes(4))
        return bytes(value[var.offset : var.offset + var.size])

    def set_global(self, name: str, data: bytes) -> None:
        var = self.spec.variables.get(name)
        if var is None:
            raise BPFError(f"no global variable named {name!r}")
        if len(data) != var.size:
            raise BPFError(f"global {name} is {var.size} bytes, got {len(data)}")
        bpf_map = self.maps[var.map_name]
        value = bytearray(bpf_map.lookup(bytes(4)))
        value[var.offset : var.offset + var.size] = data
        bpf_map.update(bytes(4), bytes(value))

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> LoadedObject:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load(source: str | Path | ObjectSpec, backend: str | Any = "vm", **options: Any) -> LoadedObject:
    """Load an object (path or spec) into a backend ("vm", or a Backend instance)."""
    spec = source if isinstance(source, ObjectSpec) else ObjectSpec.from_file(source)
    if isinstance(backend, str):
        if backend != "vm":
            raise NotSupportedError(f"backend {backend!r} is not available here (use 'vm' or pass a Backend)")
        from .backends.vm import VmBackend

        backend = VmBackend(**options)
    return LoadedObject(spec, backend)
