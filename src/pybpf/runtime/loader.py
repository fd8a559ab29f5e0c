"""``pybpf.load``: parse an object and load it into a backend in one call.

For the VM backend the loader hands the object's BTF to the backend before any
map exists, so maps get typed keys and values (``obj.maps["flows"][key] = {...}``)
and ``bpf_spin_lock`` offsets.  Other backends go straight to
:func:`pybpf.loaded.load`.  The returned object carries ``trace_log`` (the VM's
bpf_printk output) so scripts need not reach into the backend.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..loaded import LoadedObject
    from ..object.spec import ObjectSpec


def load(
    source: str | Path | ObjectSpec | bytes,
    backend: str | Any = "vm",
    *,
    programs: Iterable[str] | None = None,
    **options: Any,
) -> LoadedObject:
    """Load ``source`` (a path, an :class:`ObjectSpec` or ELF bytes) into ``backend``.

    ``backend`` is ``"vm"`` (default), another backend name :func:`pybpf.loaded.load`
    knows, or a Backend instance.  VM options: ``task``, ``trace_log``, ``clock``,
    ``seed``, ``helpers``, ``engine``, ``max_instructions``, ``num_cpus``,
    ``kernel_version``, ``kconfig``, ``ksyms``.  ``programs`` loads only the named
    programs (libbpf's autoload).
    """
    from .. import loaded
    from ..object.spec import ObjectSpec

    if isinstance(source, bytes | bytearray | memoryview):
        spec = ObjectSpec.from_bytes(bytes(source))
    elif isinstance(source, ObjectSpec):
        spec = source
    else:
        spec = ObjectSpec.from_file(source)
    if backend == "vm":
        from ..backends.vm import VmBackend

        options.setdefault("btf", spec.btf)
        backend = VmBackend(**options)
    if isinstance(backend, str):
        obj = loaded.load(spec, backend=backend, programs=programs, **options)
    else:
        obj = loaded.load(spec, backend=backend, programs=programs)
    trace_log = getattr(obj.backend, "trace_log", None)
    if trace_log is not None and not hasattr(type(obj), "trace_log"):
        obj.trace_log = trace_log  # type: ignore[attr-defined]
    return obj
