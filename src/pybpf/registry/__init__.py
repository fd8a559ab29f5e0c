"""The VM's bpffs: a state directory that plays ``/sys/fs/bpf`` for the userspace VM.

Programs and maps loaded "into the VM" get ids and pinned paths here, so a later
command in another process (``pybpf prog run pinned PATH``, ``pybpf map dump
pinned PATH``) finds them again with the same file-backed maps.  See
docs/pinning.md for the layout and the guarantees.
"""

from __future__ import annotations

from typing import Any

from .fs import BpfFs, PinKind, RegistryError, default_root
from .records import MapRecord, ProgRecord

# The loader pulls in the whole VM; map commands (``map lookup``) never need it,
# so it is imported on first use to keep the command's start-up short.
_LAZY = {"PinnedProgram", "load_object_into", "load_pinned_program", "load_program_by_id", "load_record"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import loader

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BpfFs",
    "MapRecord",
    "PinKind",
    "PinnedProgram",
    "ProgRecord",
    "RegistryError",
    "default_root",
    "load_object_into",
    "load_pinned_program",
    "load_program_by_id",
    "load_record",
]
