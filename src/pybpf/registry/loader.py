"""Load an object into the VM bpffs, and load a pinned program again later.

``prog load`` records what another process needs to rebuild the program: the
object bytes (kept under objs/), the program's name and type, and for every map
of the object the id of its file-backed storage.  Reloading opens those very
files, so the program sees the maps the first process (and every other process
that opened their pins) sees.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..backends.vm import VmBackend
from ..backends.vm import _kernel_name as kernel_name  # the name rule libbpf applies
from ..errors import BPFError, MapError
from ..isa.codec import encode
from ..isa.opcodes import PseudoSrc
from ..loaded import LoadedObject, Program
from ..maps.factory import MAP_CLASSES, create_map, open_map
from ..object.spec import MapSpec, ObjectSpec, ProgramSpec
from ..uapi import AttachType, MapType, ProgType
from .fs import BpfFs, PinKind, RegistryError
from .records import MapRecord, ProgRecord

_KEY0 = bytes(4)
# map types whose contents are process-local objects: never file-backed
_LOCAL_MAP_TYPES = frozenset(
    {MapType.PROG_ARRAY, MapType.PERF_EVENT_ARRAY, MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS}
)


def file_backable(spec: MapSpec) -> bool:
    return spec.type not in _LOCAL_MAP_TYPES and spec.inner is None and spec.type in MAP_CLASSES


class RegistryBackend(VmBackend):
    """A VM backend whose maps are the bpffs's files: existing ones opened, new ones created."""

    def __init__(self, files: dict[str, tuple[Path, bool]], **options: Any) -> None:
        super().__init__(**options)
        self._files = files

    def create_map(self, spec: MapSpec) -> Any:
        entry = self._files.get(spec.name)
        if entry is None:
            return super().create_map(spec)
        path, exists = entry
        if exists:
            bpf_map = open_map(path, name=kernel_name(spec.name))
            check_compatible(spec, bpf_map, str(path))
        else:
            bpf_map = create_map(
                spec.type, spec.key_size, spec.value_size, spec.max_entries, spec.flags,
                name=kernel_name(spec.name), map_extra=spec.map_extra, path=path,
            )  # fmt: skip
            if spec.data is not None:
                bpf_map.update(_KEY0, spec.data.ljust(spec.value_size, b"\0"))
                if spec.readonly:
                    bpf_map.freeze()
        self.runtime.bind_map(bpf_map, spec.name)
        self._maps.append(bpf_map)
        return bpf_map


def check_compatible(spec: MapSpec, bpf_map: Any, where: str) -> None:
    """A pinned map reused for ``spec`` must have its type and sizes (as libbpf checks)."""
    for what, want, have in (
        ("type", spec.type.uapi_name, MapType(bpf_map.map_type).uapi_name),
        ("key size", spec.key_size, bpf_map.key_size),
        ("value size", spec.value_size, bpf_map.value_size),
        ("max_entries", spec.max_entries, bpf_map.max_entries),
    ):
        if want != have:
            bpf_map.close()
            raise MapError(
                f"map {spec.name}: the map pinned at {where} has {what} {have}, the object expects {want}"
            )


#: The kernel hashes a program's tag with SHA-256 since 6.18 (the signed-programs work), SHA-1 before.
TAG_SHA256_SINCE = (6, 18)


def program_tag(prog: ProgramSpec, kernel_version: int | None = None) -> str:
    """The kernel's tag: the first 8 bytes of the instructions' hash, map references zeroed.

    The hash is the one the host kernel uses (``kernel_version`` = KERNEL_VERSION
    code, default ``uname -r``), so a program shows the same tag in the VM bpffs
    as in ``bpftool prog show`` once loaded into this kernel.
    """
    from ..kconfig import kernel_version_code

    insns = [
        replace(i, imm=0) if i.is_lddw and i.src in (PseudoSrc.MAP_FD, PseudoSrc.MAP_VALUE) else i
        for i in prog.instructions
    ]
    code = kernel_version if kernel_version is not None else kernel_version_code()
    major, minor = TAG_SHA256_SINCE
    algo = hashlib.sha256 if code >= (major << 16) + (minor << 8) else hashlib.sha1
    return algo(encode(insns)).hexdigest()[:16]


def with_prog_type(spec: ObjectSpec, prog_type: ProgType | None) -> ObjectSpec:
    """``spec`` with every program of type ``prog_type`` (``prog load ... type T``)."""
    if prog_type is None:
        return spec
    progs = {n: replace(p, prog_type=prog_type) for n, p in spec.programs.items()}
    return replace(spec, programs=progs)


def check_loadable(spec: ObjectSpec, path: str, map_pins: dict[str, str] | None) -> None:
    """An object to load needs programs, and ``map name NAME pinned P`` must name its maps."""
    if not spec.programs:
        raise BPFError(f"{path} has no programs")
    unknown = sorted(set(map_pins or {}) - set(spec.maps))
    if unknown:
        raise BPFError(f"{path} has no map named {unknown[0]!r} (maps: {', '.join(spec.maps) or 'none'})")


def load_object_into(
    fs: BpfFs,
    path: str,
    *,
    prog_type: ProgType | None = None,
    map_pins: dict[str, str] | None = None,
    only_first: bool = False,
) -> tuple[list[ProgRecord], dict[str, int]]:
    """Verify-load every program of the object in the VM and record them (not pinned yet).

    Returns the program records (only the first one with ``only_first``, as
    ``bpftool prog load`` pins only the first) and map name -> map id.  The caller
    pins; until then :meth:`BpfFs.collect` must not run, so callers hold the
    lock through :func:`pin_records`.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise BPFError(f"cannot read {path}: {exc.strerror or exc}") from None
    spec = with_prog_type(ObjectSpec.from_bytes(data, name=Path(path).name.split(".")[0]), prog_type)
    check_loadable(spec, path, map_pins)
    obj_name = fs.store_object(data)
    files: dict[str, tuple[Path, bool]] = {}
    ids: dict[str, int] = {}
    created: list[Path] = []
    for name, mspec in spec.maps.items():
        pinned = (map_pins or {}).get(name)
        if pinned is not None:
            map_id = fs.map_id_by_pin(pinned)
            files[name] = (fs.map_file(map_id), True)
            ids[name] = map_id
        elif file_backable(mspec):
            map_id = fs.next_id(PinKind.MAP)
            files[name] = (fs.map_file(map_id), False)
            ids[name] = map_id
            created.append(fs.map_file(map_id))
    now = int(time.time())
    try:
        LoadedObject(spec, RegistryBackend(files)).close()
    except BaseException:
        for p in created:
            p.unlink(missing_ok=True)
        raise
    for name, map_id in ids.items():
        mspec = spec.maps[name]
        if (map_pins or {}).get(name) is None:
            fs.write_map_meta(
                MapRecord(
                    id=map_id,
                    name=kernel_name(name),  # what `map show` prints, cut to 15 chars as the kernel does
                    created_at=now,
                    object=obj_name if spec.btf is not None else None,
                    btf_key_type_id=mspec.key_type_id or 0,
                    btf_value_type_id=mspec.value_type_id or 0,
                )
            )
    progs = list(spec.programs.values())[:1] if only_first else list(spec.programs.values())
    records = []
    for prog in progs:
        records.append(
            ProgRecord(
                id=fs.next_id(PinKind.PROG),
                name=prog.name,
                type=prog.prog_type.uapi_name,
                object=obj_name,
                expected_attach_type=prog.expected_attach_type.uapi_name
                if prog.expected_attach_type
                else None,
                tag=program_tag(prog),
                loaded_at=now,
                uid=os.getuid(),
                bytes_xlated=8 * sum(i.width for i in prog.instructions),
                gpl_compatible="GPL" in (prog.license or spec.license),
                maps={n: i for n, i in ids.items() if n in _used_maps(spec, prog)},
                btf=spec.btf is not None,
            )
        )
    for rec in records:
        fs.write_prog(rec)
    return records, ids


def _used_maps(spec: ObjectSpec, prog: ProgramSpec) -> set[str]:
    """Maps the program refers to; a program keeps every map of its object alive like libbpf's object does."""
    return set(spec.maps)


@dataclass
class PinnedProgram:
    """A program of the VM bpffs loaded again in this process, with its pinned maps."""

    record: ProgRecord
    loaded: LoadedObject
    program: Program
    maps: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        self.loaded.close()

    def __enter__(self) -> PinnedProgram:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_record(fs: BpfFs, rec: ProgRecord, **vm_options: Any) -> PinnedProgram:
    """Rebuild the program of ``rec`` in this process over the maps its record names."""
    obj_path = fs.object_file(rec.object)
    try:
        data = obj_path.read_bytes()
    except OSError:
        raise RegistryError(f"program {rec.id} ({rec.name}): its object {obj_path} is gone") from None
    spec = ObjectSpec.from_bytes(data, name=rec.name)
    try:
        ptype = ProgType[rec.type.upper()]
    except KeyError:
        raise RegistryError(f"program {rec.id}: unknown program type {rec.type!r}") from None
    expected = AttachType[rec.expected_attach_type.upper()] if rec.expected_attach_type else None
    if rec.name not in spec.programs:
        raise RegistryError(f"program {rec.id}: the object has no program {rec.name!r}")
    prog_spec = replace(spec.programs[rec.name], prog_type=ptype, expected_attach_type=expected)
    spec = replace(spec, programs={rec.name: prog_spec})
    files: dict[str, tuple[Path, bool]] = {}
    for name, map_id in rec.maps.items():
        path = fs.map_file(map_id)
        if not path.exists():
            raise RegistryError(f"program {rec.id} ({rec.name}): its map {name} (id {map_id}) is gone")
        files[name] = (path, True)
    backend = RegistryBackend(files, **vm_options)
    loaded = LoadedObject(spec, backend)
    return PinnedProgram(rec, loaded, loaded.programs[rec.name], dict(loaded.maps))


def load_pinned_program(path: str, *, fs: BpfFs | None = None, **vm_options: Any) -> PinnedProgram:
    """Load the program pinned at ``path`` (a VM bpffs pin) with its file-backed maps.

    ``vm_options`` go to :class:`~pybpf.backends.vm.VmBackend` (task, clock, seed,
    engine, ...).  Use as a context manager; ``.program.test_run(...)`` runs it.
    """
    fs = fs if fs is not None else BpfFs()
    return load_record(fs, fs.prog_by_pin(path), **vm_options)


def load_program_by_id(prog_id: int, *, fs: BpfFs | None = None, **vm_options: Any) -> PinnedProgram:
    fs = fs if fs is not None else BpfFs()
    return load_record(fs, fs.prog(prog_id), **vm_options)
