"""The kernel side of pybpf: bpf(2) through one chokepoint, in pure Python (ctypes).

Layers, bottom up: :mod:`.syscall` (the only place that calls bpf(2) and
perf_event_open), :mod:`.attr` (ctypes layouts), :mod:`.fd` (fds that cannot
leak), then maps, programs, BTF, pins, links and inspection built on them.
"""

from __future__ import annotations

from .btf_load import BTFLoadError, KernelBTF, load_btf
from .fd import ClosedFDError, OwnedFD
from .info import BtfInfo, LinkInfo, MapInfo, ProgInfo
from .links import (
    Link,
    attach_cgroup,
    attach_kprobe,
    attach_perf_event,
    attach_raw_tracepoint,
    attach_tcx,
    attach_tracepoint,
    attach_tracing,
    attach_uprobe,
    attach_xdp,
)
from .maps import KernelMap, MapFlags, UpdateFlags, create_map
from .pin import ensure_bpffs, get_pinned, pin_fd, unpin
from .progs import KernelArgumentError, KernelProgram, KernelVerifierError, load_program, test_run
from .syscall import bpf, perf_event_open

__all__ = [
    "BTFLoadError",
    "BtfInfo",
    "ClosedFDError",
    "KernelArgumentError",
    "KernelBTF",
    "KernelMap",
    "KernelProgram",
    "KernelVerifierError",
    "Link",
    "LinkInfo",
    "MapFlags",
    "MapInfo",
    "OwnedFD",
    "ProgInfo",
    "UpdateFlags",
    "attach_cgroup",
    "attach_kprobe",
    "attach_perf_event",
    "attach_raw_tracepoint",
    "attach_tcx",
    "attach_tracepoint",
    "attach_tracing",
    "attach_uprobe",
    "attach_xdp",
    "bpf",
    "create_map",
    "ensure_bpffs",
    "get_pinned",
    "load_btf",
    "load_program",
    "perf_event_open",
    "pin_fd",
    "test_run",
    "unpin",
]
