"""pybpf: a complete eBPF system in Python.

Parse clang-built BPF objects, run them in a sandboxed userspace VM, and load them
into the Linux kernel, from one API.  Submodules are imported lazily so that the
command line starts fast.
"""

from __future__ import annotations

from .errors import BPFError

__version__ = "0.1.0"
__all__ = ["BPFError", "__version__"]
