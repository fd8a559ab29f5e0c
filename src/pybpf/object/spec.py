"""ObjectSpec: everything a BPF object file says, before anything is loaded.

Specs are frozen and deterministic: the same bytes give equal specs on any
machine.  Nothing here knows about file descriptors, map ids or the running
kernel; a backend turns a spec into loaded objects.  Instruction metadata
(``InsnMeta``: function symbol, relocation reference, source line) carries
what a loader needs to resolve references by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..elf.sections import AttachTarget, SecFlag
from ..isa.instruction import Instruction, LineInfo
from ..uapi import AttachType, MapType, ProgType

if TYPE_CHECKING:
    from ..btf.ext import CORERelo

BPF_F_NO_PREALLOC = 1 << 0
BPF_F_RDONLY_PROG = 1 << 7
BPF_F_MMAPABLE = 1 << 10


class PinType(IntEnum):
    """``__uint(pinning, ...)`` of a BTF-defined map (libbpf's LIBBPF_PIN_*)."""

    NONE = 0
    BY_NAME = 1


class MapKind(Enum):
    """Where a map definition came from."""

    BTF = "btf"  # struct in SEC(".maps")
    LEGACY = "legacy"  # struct bpf_map_def in SEC("maps")
    DATA = "data"  # .data, .data.*
    RODATA = "rodata"  # .rodata, .rodata.*
    BSS = "bss"  # .bss, .bss.*
    KCONFIG = "kconfig"  # .kconfig externs
    STRUCT_OPS = "struct_ops"  # a .struct_ops / .struct_ops.link variable (kernel backend)


class ExternKind(Enum):
    KCONFIG = "kconfig"
    KSYM = "ksym"


@dataclass(frozen=True, slots=True)
class FuncInfo:
    """A BTF func_info record of a linked program: where a function starts."""

    insn_off: int  # slot index in the linked program
    type_id: int  # BTF FUNC id
    name: str


@dataclass(frozen=True, slots=True)
class ProgramSpec:
    """One entry point: a global function in a program section, linked.

    ``instructions`` are the program followed by every subprogram it can reach,
    appended in libbpf's order, with call and callback offsets fixed; map and
    global-data references carry ``meta.reference`` (the map name) and have
    ``src`` set to MAP_FD / MAP_VALUE with the fd left 0.
    """

    name: str
    section: str
    prog_type: ProgType
    expected_attach_type: AttachType | None
    attach: AttachTarget | None
    sec_flags: SecFlag
    instructions: tuple[Instruction, ...]
    license: str = ""
    kern_version: int = 0
    subprograms: tuple[str, ...] = ()
    func_info: tuple[FuncInfo, ...] = ()
    line_info: tuple[tuple[int, LineInfo], ...] = ()
    core_relos: tuple[CORERelo, ...] = ()
    """CO-RE relocations, ``insn_idx`` remapped to the linked program."""
    weak: bool = False

    @property
    def sleepable(self) -> bool:
        return bool(self.sec_flags & SecFlag.SLEEPABLE)

    @property
    def frags(self) -> bool:
        return bool(self.sec_flags & SecFlag.XDP_FRAGS)

    @property
    def insn_count(self) -> int:
        """Length in 8-byte slots (what the kernel counts; lddw is 2)."""
        return sum(insn.width for insn in self.instructions)

    @property
    def references(self) -> tuple[str, ...]:
        """Names the program refers to (maps, externs, functions), in first-use order."""
        seen: dict[str, None] = {}
        for insn in self.instructions:
            if insn.meta is not None and insn.meta.reference is not None:
                seen.setdefault(insn.meta.reference, None)
        return tuple(seen)


@dataclass(frozen=True, slots=True)
class MapSpec:
    """A map the object defines (BTF, legacy, or global data)."""

    name: str
    type: MapType
    key_size: int
    value_size: int
    max_entries: int
    flags: int = 0
    kind: MapKind = MapKind.BTF
    section: str = ".maps"
    """ELF section the map comes from; for global data this is libbpf's ``real_name``."""
    numa_node: int = 0
    pinning: PinType = PinType.NONE
    map_extra: int = 0
    key_type_id: int | None = None
    value_type_id: int | None = None
    btf_var_type_id: int | None = None
    inner: MapSpec | None = None
    initial_values: tuple[tuple[int, str], ...] = ()
    """For map-in-map and prog arrays: (index, map or program name) from relocations in .maps."""
    data: bytes | None = None
    """Initial value of a global-data map (zeros for .bss)."""

    @property
    def readonly(self) -> bool:
        """.rodata maps are read-only for programs and frozen at load."""
        return bool(self.flags & BPF_F_RDONLY_PROG)

    @property
    def is_global_data(self) -> bool:
        return self.kind in (MapKind.DATA, MapKind.RODATA, MapKind.BSS, MapKind.KCONFIG)


@dataclass(frozen=True, slots=True)
class VariableSpec:
    """A global variable living in a global-data map."""

    name: str
    section: str
    map_name: str
    offset: int
    size: int
    type_id: int | None = None
    is_global: bool = True


@dataclass(frozen=True, slots=True)
class ExternSpec:
    """An ``extern`` the loader must resolve: a Kconfig value or a kernel symbol."""

    name: str
    kind: ExternKind
    type_id: int | None
    """BTF id of the VAR (or FUNC, for a kfunc) in the object's BTF."""
    weak: bool = False
    is_func: bool = False


@dataclass(frozen=True, slots=True)
class StructOpsSpec:
    """A struct_ops variable: what libbpf makes a BPF_MAP_TYPE_STRUCT_OPS map of.

    ``type_id``/``type_name``/``size`` are the object's own struct (its members are
    matched by name against the kernel's at load); ``data`` its initial bytes;
    ``programs`` which struct_ops program fills which function-pointer member, in
    member order. A variable of ``.struct_ops.link`` is attached through a link.
    """

    name: str
    section: str
    type_id: int
    type_name: str
    size: int
    data: bytes
    programs: tuple[tuple[str, str], ...] = ()
    """(member name, program name) pairs from the section's relocations."""

    @property
    def link(self) -> bool:
        return self.section == ".struct_ops.link"


@dataclass(frozen=True)
class ObjectSpec:
    """A parsed BPF object: programs, maps, variables, externs and BTF."""

    name: str
    license: str
    kern_version: int
    programs: dict[str, ProgramSpec]
    maps: dict[str, MapSpec]
    variables: dict[str, VariableSpec]
    externs: dict[str, ExternSpec]
    btf: Any = field(default=None, compare=False)
    btf_ext: Any = field(default=None, compare=False)
    btf_bytes: bytes | None = field(default=None, repr=False)
    btf_ext_bytes: bytes | None = field(default=None, repr=False)
    struct_ops: dict[str, StructOpsSpec] = field(default_factory=dict)
    """struct_ops variables by name (SEC(".struct_ops") / SEC(".struct_ops.link"))."""

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def from_bytes(cls, data: bytes, *, name: str = "") -> ObjectSpec:
        """Parse an object held in memory; ``name`` prefixes global-data map names as libbpf does."""
        from .builder import build_object_spec

        return build_object_spec(bytes(data), name=name)

    @classmethod
    def from_file(cls, path: str | Path) -> ObjectSpec:
        """Parse a ``.bpf.o``; the object name is the file name up to its first dot (libbpf's rule)."""
        p = Path(path)
        return cls.from_bytes(p.read_bytes(), name=object_name_from_path(p))

    def program(self, name: str) -> ProgramSpec:
        try:
            return self.programs[name]
        except KeyError:
            from ..errors import ObjectParseError

            raise ObjectParseError(
                f"no program named {name!r} (have: {', '.join(self.programs) or 'none'})"
            ) from None


def object_name_from_path(path: Path) -> str:
    """libbpf: basename, cut at the first '.', at most 15 characters."""
    return path.name[:15].split(".", 1)[0]
