"""ELF reading for BPF objects: sections, the SEC-name table, relocations, linking, maps."""

from __future__ import annotations

from .sections import SECTION_DEFS, AttachKind, AttachTarget, SecDef, SecFlag, find_sec_def, lookup_section

__all__ = [
    "SECTION_DEFS",
    "AttachKind",
    "AttachTarget",
    "SecDef",
    "SecFlag",
    "find_sec_def",
    "lookup_section",
]
