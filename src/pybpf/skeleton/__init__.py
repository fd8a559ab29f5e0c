"""Typed Python skeletons for BPF objects (``pybpf gen skeleton FILE.o > name_skel.py``).

:func:`generate_skeleton` / :func:`skeleton_for_file` write the module; the
module imports :mod:`pybpf.skeleton.runtime` (lifecycle: open, load, attach,
destroy) and :mod:`pybpf.skeleton.fields` (typed views of global variables).
"""

from __future__ import annotations

from .fields import SkeletonError
from .generate import generate_skeleton, skeleton_for_file
from .runtime import MapHandle, ProgramHandle, Skeleton, SkeletonState

__all__ = [
    "MapHandle",
    "ProgramHandle",
    "Skeleton",
    "SkeletonError",
    "SkeletonState",
    "generate_skeleton",
    "skeleton_for_file",
]
