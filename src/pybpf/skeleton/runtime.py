"""The base class every generated skeleton module builds on.

Lifecycle mirrors libbpf's skeleton: ``open()`` parses the embedded object and
lets you edit ``.rodata``/``.data``/``.bss`` initial values, choose which programs
load (``skel.progs.x.autoload = False``) and resize maps; ``load(backend=...)``
builds an edited :class:`~pybpf.object.spec.ObjectSpec` (``dataclasses.replace``:
the spec itself stays frozen) and hands it to :func:`pybpf.loaded.load`;
``attach()`` auto-attaches what the section names say; ``destroy()`` (or leaving a
``with`` block) releases everything.

After load, global variables are read and written in the loaded object's
global-data map: in the VM directly in the map's native storage (the very bytes
the program touches), elsewhere (the kernel) through map lookup/update of key 0.
"""

from __future__ import annotations

import base64
from dataclasses import replace
from enum import Enum
from typing import Any, ClassVar, Generic, TypeVar, overload

from ..backends.testrun import TestRun
from ..errors import BPFError, NotSupportedError
from ..object.spec import MapKind, MapSpec, ObjectSpec, ProgramSpec
from .fields import DataSection, GlobalsStore, SectionOwner, SkeletonError

_KEY0 = bytes(4)


class SkeletonState(Enum):
    """Where a skeleton is in its lifecycle."""

    OPEN = "open"
    LOADED = "loaded"
    ATTACHED = "attached"
    DESTROYED = "destroyed"


# -- stores: where a data section's bytes live ----------------------------------


class _BufferStore(GlobalsStore):
    """An editable copy (before load)."""

    def __init__(self, data: bytearray) -> None:
        self.data = data

    def read(self, offset: int, size: int) -> bytes:
        _bounds(offset, size, len(self.data))
        return bytes(self.data[offset : offset + size])

    def write(self, offset: int, data: bytes) -> None:
        _bounds(offset, len(data), len(self.data))
        self.data[offset : offset + len(data)] = data


class _NativeStore(GlobalsStore):
    """A VM map's native storage: slices of its mmap, no copy through lookup/update.

    Slicing (not a memoryview) so no buffer export keeps the mmap from closing.
    """

    def __init__(self, storage: Any, base: int, size: int) -> None:
        self.storage = storage
        self.base = base
        self.size = size

    def read(self, offset: int, size: int) -> bytes:
        _bounds(offset, size, self.size)
        start = self.base + offset
        return bytes(self.storage[start : start + size])

    def write(self, offset: int, data: bytes) -> None:
        _bounds(offset, len(data), self.size)
        start = self.base + offset
        self.storage[start : start + len(data)] = data


class _MapStore(GlobalsStore):
    """Any map with the raw API (kernel maps): read-modify-write value 0."""

    def __init__(self, bpf_map: Any, size: int) -> None:
        self.map = bpf_map
        self.size = size

    def read(self, offset: int, size: int) -> bytes:
        _bounds(offset, size, self.size)
        return bytes(self.map.lookup(_KEY0))[offset : offset + size]

    def write(self, offset: int, data: bytes) -> None:
        _bounds(offset, len(data), self.size)
        value = bytearray(self.map.lookup(_KEY0))
        value[offset : offset + len(data)] = data
        self.map.update(_KEY0, bytes(value))


class _ClosedStore(GlobalsStore):
    def read(self, offset: int, size: int) -> bytes:
        raise SkeletonError("the skeleton was destroyed; its global data is gone")

    def write(self, offset: int, data: bytes) -> None:
        raise SkeletonError("the skeleton was destroyed; its global data is gone")


def _bounds(offset: int, size: int, total: int) -> None:
    if offset < 0 or offset + size > total:
        raise SkeletonError(f"access [{offset}, {offset + size}) outside a {total}-byte section")


def _live_store(bpf_map: Any, size: int) -> GlobalsStore:
    storage = getattr(bpf_map, "storage", None)
    value_offset = getattr(bpf_map, "value_offset", None)
    if storage is not None and value_offset is not None:
        base = value_offset(_KEY0)
        if isinstance(base, int):
            return _NativeStore(storage, base, size)
    return _MapStore(bpf_map, size)


# -- programs and maps ------------------------------------------------------------


class ProgramHandle:
    """One program of a skeleton: its spec, whether it loads, and once loaded, test_run/attach."""

    __slots__ = ("_autoload", "_link", "_skel", "name")

    def __init__(self, skel: Skeleton, name: str) -> None:
        self._skel = skel
        self.name = name
        self._autoload = True
        self._link: Any = None

    @property
    def spec(self) -> ProgramSpec:
        return self._skel.spec.programs[self.name]

    @property
    def autoload(self) -> bool:
        """Whether :meth:`Skeleton.load` loads this program (libbpf's bpf_program__set_autoload)."""
        return self._autoload

    @autoload.setter
    def autoload(self, value: bool) -> None:
        self._skel._require(SkeletonState.OPEN, "autoload can only change before load")
        self._autoload = bool(value)

    @property
    def loaded(self) -> Any:
        """The :class:`pybpf.loaded.Program` (after load; error if this program did not load)."""
        obj = self._skel.obj
        program = obj.programs.get(self.name)
        if program is None:
            raise SkeletonError(f"program {self.name} was not loaded (autoload is off)")
        return program

    @property
    def link(self) -> Any:
        """The link :meth:`Skeleton.attach` made for this program, or None."""
        return self._link

    def test_run(
        self, *, data_in: bytes = b"", ctx_in: bytes | None = None, repeat: int = 1, flags: int = 0
    ) -> TestRun:
        """Run the loaded program once or ``repeat`` times (BPF_PROG_TEST_RUN semantics)."""
        result: TestRun = self.loaded.test_run(data_in=data_in, ctx_in=ctx_in, repeat=repeat, flags=flags)
        return result

    def trigger(self, ctx_in: bytes = b"", *, repeat: int = 1) -> TestRun:
        """Run a tracing program on ``ctx_in`` as its event would (VM backend)."""
        result: TestRun = self.loaded.trigger(ctx_in, repeat=repeat)
        return result

    def __repr__(self) -> str:
        return f"<ProgramHandle {self.name} ({self.spec.section})>"


class MapHandle:
    """One map of a skeleton: its spec (``max_entries`` editable before load), the live map after."""

    __slots__ = ("_skel", "name")

    def __init__(self, skel: Skeleton, name: str) -> None:
        self._skel = skel
        self.name = name

    @property
    def spec(self) -> MapSpec:
        return self._skel._map_specs[self.name]

    @property
    def max_entries(self) -> int:
        return self.spec.max_entries

    @max_entries.setter
    def max_entries(self, value: int) -> None:
        self._skel._require(SkeletonState.OPEN, "max_entries can only change before load")
        if not isinstance(value, int) or value <= 0:
            raise SkeletonError(f"map {self.name}: max_entries must be a positive int")
        if self.spec.is_global_data:
            raise SkeletonError(f"map {self.name}: a global-data map has exactly one entry")
        self._skel._map_specs[self.name] = replace(self.spec, max_entries=value)

    @property
    def live(self) -> Any:
        """The loaded map object of the backend (raw API: lookup/update/delete/next_key...)."""
        return self._skel.obj.maps[self.name]

    def lookup(self, key: bytes | None) -> bytes:
        value: bytes = self.live.lookup(key)
        return value

    def update(self, key: bytes | None, value: bytes, flags: int = 0) -> None:
        self.live.update(key, value, flags)

    def delete(self, key: bytes) -> None:
        self.live.delete(key)

    def next_key(self, key: bytes | None) -> bytes | None:
        result: bytes | None = self.live.next_key(key)
        return result

    def __repr__(self) -> str:
        return f"<MapHandle {self.name} ({self.spec.type.uapi_name})>"


class Programs:
    """Base of a generated ``<Name>Progs``: typed attributes, plus iteration and lookup by name."""

    __slots__ = ("_handles",)

    def __init__(self, handles: dict[str, ProgramHandle]) -> None:
        self._handles = handles

    def __getitem__(self, name: str) -> ProgramHandle:
        try:
            return self._handles[name]
        except KeyError:
            raise KeyError(f"no program named {name!r}") from None

    def __iter__(self) -> Any:
        return iter(self._handles.values())

    def __len__(self) -> int:
        return len(self._handles)


class Maps:
    """Base of a generated ``<Name>Maps``."""

    __slots__ = ("_handles",)

    def __init__(self, handles: dict[str, MapHandle]) -> None:
        self._handles = handles

    def __getitem__(self, name: str) -> MapHandle:
        try:
            return self._handles[name]
        except KeyError:
            raise KeyError(f"no map named {name!r}") from None

    def __iter__(self) -> Any:
        return iter(self._handles.values())

    def __len__(self) -> int:
        return len(self._handles)


class ProgramRef:
    """Descriptor: ``xdp_pass = ProgramRef("xdp_pass")`` on a Programs subclass."""

    def __init__(self, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> ProgramRef: ...
    @overload
    def __get__(self, obj: Programs, owner: type | None = None) -> ProgramHandle: ...
    def __get__(self, obj: Programs | None, owner: type | None = None) -> ProgramRef | ProgramHandle:
        return self if obj is None else obj[self.name]


class MapRef:
    """Descriptor: ``pkt_count = MapRef("pkt_count")`` on a Maps subclass."""

    def __init__(self, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> MapRef: ...
    @overload
    def __get__(self, obj: Maps, owner: type | None = None) -> MapHandle: ...
    def __get__(self, obj: Maps | None, owner: type | None = None) -> MapRef | MapHandle:
        return self if obj is None else obj[self.name]


_SectionT = TypeVar("_SectionT", bound=DataSection)
_SkelT = TypeVar("_SkelT", bound="Skeleton")
_ProgsT = TypeVar("_ProgsT", bound=Programs)
_MapsT = TypeVar("_MapsT", bound=Maps)


class SectionRef(Generic[_SectionT]):
    """Descriptor: ``bss = SectionRef(XdpBss, "xdp.bss")`` on a Skeleton subclass."""

    def __init__(self, cls: type[_SectionT], map_name: str) -> None:
        self.cls = cls
        self.map_name = map_name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> SectionRef[_SectionT]: ...
    @overload
    def __get__(self, obj: Skeleton, owner: type | None = None) -> _SectionT: ...
    def __get__(self, obj: Skeleton | None, owner: type | None = None) -> SectionRef[_SectionT] | _SectionT:
        if obj is None:
            return self
        section = obj._sections.get(self.map_name)
        if section is None:
            section = self.cls(obj, self.map_name)
            obj._sections[self.map_name] = section
        if not isinstance(section, self.cls):
            raise SkeletonError(f"section {self.map_name} has an unexpected type")
        return section


# -- the skeleton -------------------------------------------------------------------


class Skeleton(SectionOwner):
    """Base of a generated skeleton class.  Subclasses set the class variables below."""

    OBJECT_NAME: ClassVar[str] = ""
    OBJECT_B64: ClassVar[str] = ""
    PROGRAM_NAMES: ClassVar[tuple[str, ...]] = ()
    MAP_NAMES: ClassVar[tuple[str, ...]] = ()
    PROGS_CLASS: ClassVar[type[Programs]] = Programs
    MAPS_CLASS: ClassVar[type[Maps]] = Maps

    def __init__(self, spec: ObjectSpec) -> None:
        """Use :meth:`open` (or :meth:`open_and_load`); this takes an already parsed spec."""
        missing = [n for n in self.PROGRAM_NAMES if n not in spec.programs]
        missing += [n for n in self.MAP_NAMES if n not in spec.maps]
        if missing:
            raise SkeletonError(f"object does not match the skeleton: missing {', '.join(missing)}")
        self.spec = spec
        self.state = SkeletonState.OPEN
        self._obj: Any = None
        self._map_specs: dict[str, MapSpec] = dict(spec.maps)
        self._sections: dict[str, DataSection] = {}
        self._stores: dict[str, GlobalsStore] = {}
        for name, map_spec in spec.maps.items():
            if map_spec.is_global_data:
                data = bytearray((map_spec.data or b"").ljust(map_spec.value_size, b"\0"))
                self._stores[name] = _BufferStore(data)
        self._prog_handles = {n: ProgramHandle(self, n) for n in spec.programs}
        self._map_handles = {n: MapHandle(self, n) for n in spec.maps}
        self._progs = self.PROGS_CLASS(self._prog_handles)
        self._maps = self.MAPS_CLASS(self._map_handles)

    # -- lifecycle -----------------------------------------------------------------

    @classmethod
    def object_bytes(cls) -> bytes:
        """The embedded ``.bpf.o``."""
        return base64.b64decode(cls.OBJECT_B64)

    @classmethod
    def open(cls: type[_SkelT]) -> _SkelT:
        """Parse the embedded object; globals are editable until :meth:`load`."""
        return cls(ObjectSpec.from_bytes(cls.object_bytes(), name=cls.OBJECT_NAME))

    @classmethod
    def open_and_load(cls: type[_SkelT], backend: str | Any = "vm", **options: Any) -> _SkelT:
        skel = cls.open()
        try:
            skel.load(backend, **options)
        except BaseException:
            skel.destroy()
            raise
        return skel

    def edited_spec(self) -> ObjectSpec:
        """The spec :meth:`load` loads: initial global bytes and map sizes applied."""
        maps: dict[str, MapSpec] = {}
        for name, map_spec in self._map_specs.items():
            store = self._stores.get(name)
            if isinstance(store, _BufferStore) and map_spec.kind is not MapKind.KCONFIG:
                map_spec = replace(map_spec, data=bytes(store.data))
            maps[name] = map_spec
        return replace(self.spec, maps=maps)

    def load(self, backend: str | Any = "vm", **options: Any) -> None:
        """Load into ``backend`` ("vm", "kernel", or a Backend instance) via :func:`pybpf.loaded.load`.

        Programs with ``autoload`` off are not loaded; ``options`` go to the backend.
        """
        self._require(SkeletonState.OPEN, "load() needs an open skeleton")
        from ..loaded import load

        wanted = [n for n, h in self._prog_handles.items() if h.autoload]
        obj = load(self.edited_spec(), backend, programs=wanted, **options)
        self._obj = obj
        for name in self._stores:
            map_spec = self._map_specs[name]
            self._stores[name] = _live_store(obj.maps[name], map_spec.value_size)
        self.state = SkeletonState.LOADED

    def attach(self) -> None:
        """Attach every loaded program whose section names its hook (libbpf's auto-attach).

        Programs that need a target (XDP, tc: an interface) are skipped, as libbpf
        skips them; attach those with ``skel.progs.x.loaded.attach(ifname)``.
        """
        self._require(SkeletonState.LOADED, "attach() needs a loaded skeleton")
        from .attach import auto_attach

        for handle in self._prog_handles.values():
            if handle.autoload and handle._link is None:
                handle._link = auto_attach(handle.loaded)
        self.state = SkeletonState.ATTACHED

    def detach(self) -> None:
        """Drop every link :meth:`attach` made (programs stay loaded)."""
        errors: list[BaseException] = []
        for handle in self._prog_handles.values():
            link, handle._link = handle._link, None
            if link is not None:
                try:
                    link.close()
                except BPFError as exc:
                    errors.append(exc)
        if self.state is SkeletonState.ATTACHED:
            self.state = SkeletonState.LOADED
        if errors:
            raise errors[0]

    def destroy(self) -> None:
        """Detach, unload and free everything; safe to call twice."""
        if self.state is SkeletonState.DESTROYED:
            return
        try:
            self.detach()
        finally:
            obj, self._obj = self._obj, None
            for name in self._stores:
                self._stores[name] = _ClosedStore()
            self.state = SkeletonState.DESTROYED
            if obj is not None:
                obj.close()

    close = destroy

    def __enter__(self: _SkelT) -> _SkelT:
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    # -- accessors -------------------------------------------------------------------

    def _typed_progs(self, cls: type[_ProgsT]) -> _ProgsT:
        """``self.progs`` as the generated subclass (what the generated ``progs`` property returns)."""
        if not isinstance(self._progs, cls):
            raise SkeletonError(f"programs container is not a {cls.__name__}")
        return self._progs

    def _typed_maps(self, cls: type[_MapsT]) -> _MapsT:
        if not isinstance(self._maps, cls):
            raise SkeletonError(f"maps container is not a {cls.__name__}")
        return self._maps

    @property
    def obj(self) -> Any:
        """The :class:`pybpf.loaded.LoadedObject` (after load)."""
        if self._obj is None:
            raise SkeletonError(f"the skeleton is {self.state.value}, not loaded")
        return self._obj

    def _require(self, state: SkeletonState, message: str) -> None:
        if self.state is not state:
            raise SkeletonError(f"{message} (the skeleton is {self.state.value})")

    # -- SectionOwner ------------------------------------------------------------------

    def section_store(self, map_name: str) -> GlobalsStore:
        try:
            return self._stores[map_name]
        except KeyError:
            raise SkeletonError(f"no global-data map {map_name!r}") from None

    def check_section_writable(self, map_name: str) -> None:
        map_spec = self._map_specs.get(map_name)
        if map_spec is None:
            raise SkeletonError(f"no global-data map {map_name!r}")
        if self.state is SkeletonState.DESTROYED:
            raise SkeletonError("the skeleton was destroyed; its global data is gone")
        if map_spec.kind is MapKind.KCONFIG:
            raise SkeletonError(f"{map_spec.section} is filled in by the loader, not writable")
        if map_spec.readonly and self.state is not SkeletonState.OPEN:
            raise SkeletonError(
                f"{map_spec.section} is read-only after load (set it between open() and load())"
            )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.OBJECT_NAME} {self.state.value}>"


__all__ = [
    "MapHandle",
    "MapRef",
    "Maps",
    "NotSupportedError",
    "ProgramHandle",
    "ProgramRef",
    "Programs",
    "SectionRef",
    "Skeleton",
    "SkeletonError",
    "SkeletonState",
]
