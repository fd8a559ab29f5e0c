"""pybpf: a complete eBPF system in Python.

Parse clang-built BPF objects, run them in a sandboxed userspace VM, and load them
into the Linux kernel, from one API.  Submodules are imported lazily so that the
command line starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import BPFError

if TYPE_CHECKING:
    from .object import ObjectSpec
    from .readers import PerfBuffer, RingBuffer
    from .runtime.loader import load

__version__ = "0.1.0"
__all__ = ["BPFError", "ObjectSpec", "PerfBuffer", "RingBuffer", "__version__", "load"]


def __getattr__(name: str) -> Any:
    """Import heavy parts on first access (``pybpf.ObjectSpec`` pulls in pyelftools)."""
    if name == "ObjectSpec":
        from .object import ObjectSpec

        return ObjectSpec
    if name == "load":
        from .runtime.loader import load

        return load
    if name in ("RingBuffer", "PerfBuffer"):
        from . import readers

        return getattr(readers, name)
    raise AttributeError(f"module 'pybpf' has no attribute {name!r}")
