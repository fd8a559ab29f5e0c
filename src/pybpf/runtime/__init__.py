"""The userspace runtime around the VM: task identity, trace log, per-run state, test_run."""

from __future__ import annotations

from .task import Task
from .tracelog import TraceEntry, TraceLog

__all__ = ["Task", "TraceEntry", "TraceLog"]
