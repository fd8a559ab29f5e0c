"""The VM's bpffs: a state directory that plays ``/sys/fs/bpf`` for the userspace VM.

Programs and maps loaded "into the VM" get ids and pinned paths here, so a later
command in another process (``pybpf prog run pinned PATH``, ``pybpf map dump
pinned PATH``) finds them again with the same file-backed maps.  See
docs/pinning.md for the layout and the guarantees.
"""

from __future__ import annotations

from .fs import BpfFs, PinKind, RegistryError, default_root
from .loader import PinnedProgram, load_object_into, load_pinned_program, load_program_by_id
from .records import MapRecord, ProgRecord

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
]
