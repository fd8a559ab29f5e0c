"""What the VM bpffs remembers about a program or a map (JSON on disk).

A program record is written once and never changed: pins are hard links to it,
and rewriting in place would be seen through every pin half-written.  A map's
metadata (name, BTF of key and value) sits beside its storage file; its sizes
and type also live in the storage header, which stays the authority.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import BPFError


@dataclass(frozen=True, slots=True)
class ProgRecord:
    """One program loaded into the VM: enough to load it again in another process."""

    id: int
    name: str
    type: str
    object: str  # file name of the object bytes under the registry's objs/ directory
    expected_attach_type: str | None = None
    tag: str = ""
    loaded_at: int = 0
    uid: int = 0
    bytes_xlated: int = 0
    gpl_compatible: bool = False
    maps: dict[str, int] = field(default_factory=dict)  # map name in the object -> map id
    btf: bool = False

    @property
    def map_ids(self) -> list[int]:
        return sorted(set(self.maps.values()))

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes, where: str) -> ProgRecord:
        data = _load(raw, where)
        try:
            return cls(**data)
        except TypeError as exc:
            raise BPFError(f"{where}: not a pybpf program record ({exc})") from None


@dataclass(frozen=True, slots=True)
class MapRecord:
    """Metadata of one VM map whose bytes live in a file-backed storage."""

    id: int
    name: str
    created_at: int = 0
    object: str | None = None  # object holding the BTF of key/value, if any
    btf_key_type_id: int = 0
    btf_value_type_id: int = 0

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes, where: str) -> MapRecord:
        data = _load(raw, where)
        try:
            return cls(**data)
        except TypeError as exc:
            raise BPFError(f"{where}: not a pybpf map record ({exc})") from None


def _load(raw: bytes, where: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError:
        raise BPFError(f"{where}: not a pybpf record (bad JSON)") from None
    if not isinstance(data, dict):
        raise BPFError(f"{where}: not a pybpf record")
    return data
