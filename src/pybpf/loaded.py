"""A loaded object: its programs and maps, live in one backend.

``with pybpf.loaded.load("prog.bpf.o") as obj: obj.programs["xdp_srcip"].test_run(data_in=frame)``
"""

from __future__ import annotations

from collections.abc import Iterable
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
        self,
        *,
        data_in: bytes = b"",
        ctx_in: bytes | None = None,
        repeat: int = 1,
        data_size_out: int | None = None,
        flags: int = 0,
    ) -> TestRun:
        """BPF_PROG_TEST_RUN with the kernel's rules for the program's type (either backend).

        ``data_size_out`` bounds data_out (ENOSPC when the packet grew past it).
        """
        result: TestRun = self._backend.test_run(
            self.handle,
            data_in=data_in,
            ctx_in=ctx_in,
            repeat=repeat,
            data_size_out=data_size_out,
            flags=flags,
        )
        return result

    def trigger(self, ctx_in: bytes = b"", *, repeat: int = 1) -> TestRun:
        """Run a tracing program as its event would, on ``ctx_in`` (VM backend).

        The kernel has no test_run for tracepoint, kprobe and perf_event programs;
        the VM fires the event instead: a tracepoint record, pt_regs, a perf sample
        or the u64 argument array.  The kernel backend runs them when the real event
        happens (attach, then cause it).
        """
        trigger = getattr(self._backend, "trigger", None)
        if trigger is None:
            raise NotSupportedError(
                f"the {self._backend.name} backend runs tracing programs when their event fires: "
                "attach() and cause the event"
            )
        result: TestRun = trigger(self.handle, ctx_in, repeat=repeat)
        return result

    def attach(self, target: Any = None, **options: Any) -> Any:
        """Attach where the section says (tracepoint, raw_tp, kprobe, uprobe, fentry...);
        XDP and tc take an interface, cgroup programs a cgroup path, as ``target``.

        Returns a Link; the object closes it on exit unless you close it first.
        """
        attach = getattr(self._backend, "attach", None)
        if attach is None:
            raise NotSupportedError(f"the {self._backend.name} backend cannot attach programs")
        return attach(self.handle, self.spec, target, **options)

    def pin(self, path: str) -> None:
        """Pin the program on bpffs (kernel backend)."""
        pin = getattr(self._backend, "pin", None)
        if pin is None:
            raise NotSupportedError(f"the {self._backend.name} backend cannot pin programs")
        pin(self.handle, path)

    def __repr__(self) -> str:
        return f"Program({self.name!r}, {self.spec.prog_type.uapi_name})"


class LoadedObject:
    """Programs and maps of one object in one backend; a context manager that releases them."""

    def __init__(self, spec: ObjectSpec, backend: Any, *, programs: Iterable[str] | None = None) -> None:
        self.backend = backend
        self.maps: dict[str, Any] = {}
        self.programs: dict[str, Program] = {}
        self.links: list[Any] = []
        wanted = None if programs is None else set(programs)
        if wanted is not None:
            unknown = wanted - set(spec.programs)
            if unknown:
                raise BPFError(f"no program(s) named {', '.join(sorted(unknown))} in {spec.name or 'object'}")
        try:
            prepare = getattr(backend, "prepare", None)
            self.spec = prepare(spec) if prepare is not None else spec
            for name, map_spec in self.spec.maps.items():
                self.maps[name] = backend.create_map(map_spec)
            for name, prog_spec in self.spec.programs.items():
                if wanted is not None and name not in wanted:
                    continue
                self.programs[name] = Program(prog_spec, backend.load_program(prog_spec, self.maps), backend)
            finalize = getattr(backend, "finalize", None)
            if finalize is not None:
                finalize(self.maps, {n: p.handle for n, p in self.programs.items()})
        except BaseException:
            backend.close()
            raise

    def attach_all(self) -> list[Any]:
        """Attach every program whose section says where (libbpf's skeleton attach).

        Programs that need a target (XDP, tc, cgroup) or cannot be auto-attached are
        skipped; the links are returned and closed with the object.
        """
        from .backends.kernel import can_auto_attach

        links = []
        try:
            for program in self.programs.values():
                if can_auto_attach(program.spec):
                    links.append(program.attach())
            ready = getattr(self.backend, "struct_ops_ready", None)
            for name in self.spec.struct_ops:
                if ready is not None and ready(name):
                    links.append(self.attach_struct_ops(name))
        finally:
            self.links.extend(links)
        return links

    def attach_struct_ops(self, name: str) -> Any:
        """Register the struct_ops variable ``name`` (a TCP congestion control...) with the kernel.

        Returns a Link: closing or detaching it unregisters; the object closes it on exit.
        """
        attach = getattr(self.backend, "attach_struct_ops", None)
        if attach is None:
            raise NotSupportedError(f"the {self.backend.name} backend cannot register struct_ops")
        return attach(name)

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
        """Detach links, release programs, maps and BTF (pins stay, as in libbpf)."""
        for link in self.links:
            link.close()
        self.links.clear()
        self.backend.close()

    def __enter__(self) -> LoadedObject:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load(
    source: str | Path | ObjectSpec,
    backend: str | Any = "vm",
    *,
    programs: Iterable[str] | None = None,
    **options: Any,
) -> LoadedObject:
    """Load an object (path or spec) into a backend ("vm", "kernel", or a Backend instance).

    ``programs`` limits loading to the named programs (libbpf's autoload=false for
    the others); ``options`` go to the backend's constructor.
    """
    spec = source if isinstance(source, ObjectSpec) else ObjectSpec.from_file(source)
    if isinstance(backend, str):
        if backend == "vm":
            from .backends.vm import VmBackend

            backend = VmBackend(**options)
        elif backend == "kernel":
            from .backends.kernel import KernelBackend

            backend = KernelBackend(**options)
        else:
            raise NotSupportedError(f"unknown backend {backend!r} (use 'vm', 'kernel' or pass a Backend)")
    return LoadedObject(spec, backend, programs=programs)
