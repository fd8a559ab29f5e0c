"""Where the CLI's programs and maps live: the VM bpffs or the running kernel.

Both stores answer the same questions (list, look up by reference, open a map,
pin, dump instructions) with bpftool's JSON shapes, so the command modules
never branch on the backend (``--backend vm|kernel``).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import click

from ..errors import BPFError, NotSupportedError
from .refs import Ref

PERCPU_TYPES = frozenset({"percpu_hash", "percpu_array", "lru_percpu_hash", "percpu_cgroup_storage"})


@dataclass
class OpenMap:
    """A map opened for the map verbs: its raw API object, its ``map show`` record and BTF."""

    map: Any
    info: dict[str, Any]
    btf: Any = None
    key_type_id: int = 0
    value_type_id: int = 0
    _close: list[Any] = field(default_factory=list)

    @property
    def percpu(self) -> bool:
        return str(self.info["type"]) in PERCPU_TYPES

    def close(self) -> None:
        for obj in (self.map, *self._close):
            with contextlib.suppress(Exception):
                obj.close()


@dataclass(frozen=True)
class XlatedProg:
    """What ``prog dump xlated`` needs: instructions, func/line info and the BTF they index."""

    name: str
    section: str
    instructions: tuple[Any, ...]
    func_info: tuple[Any, ...] = ()
    line_info: tuple[tuple[int, Any], ...] = ()
    btf: Any = None
    # Names the kernel-rewritten call targets of a loaded program (kernel.kallsyms).
    call_text: Callable[[Any], str | None] | None = None


class Store(Protocol):
    def progs(self) -> list[dict[str, Any]]: ...
    def prog(self, ref: Ref) -> dict[str, Any]: ...
    def prog_pin(self, ref: Ref, path: str) -> None: ...
    def prog_load(self, obj: str, path: str, *, prog_type: Any, map_pins: dict[str, str]) -> None: ...
    def prog_loadall(self, obj: str, pin_dir: str, *, prog_type: Any, map_dir: str | None) -> None: ...
    def xlated(self, ref: Ref) -> XlatedProg: ...
    def maps(self) -> list[dict[str, Any]]: ...
    def map(self, ref: Ref) -> dict[str, Any]: ...
    def open_map(self, ref: Ref) -> OpenMap: ...
    def map_pin(self, ref: Ref, path: str) -> None: ...
    def map_create(
        self, path: str, *, map_type: Any, key: int, value: int, entries: int, name: str, flags: int
    ) -> None: ...
    def links(self) -> list[dict[str, Any]]: ...
    def btfs(self) -> list[dict[str, Any]]: ...
    def btf_by_id(self, btf_id: int) -> Any: ...
    def prog_btf(self, ref: Ref) -> Any: ...
    def map_btf(self, ref: Ref) -> tuple[Any, int, int]: ...


def current_store() -> Store:
    from .options import options

    if options().backend == "kernel":
        return KernelStore()
    return VmStore()


# ----------------------------------------------------------------------------- VM
class VmStore:
    """The VM bpffs (src/pybpf/registry): ids and pins in a state directory."""

    def __init__(self) -> None:
        from ..registry import BpfFs

        self.fs = BpfFs()

    def _prog_json(self, rec: Any, pins: list[str] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": rec.id,
            "type": rec.type,
            "name": rec.name,
            "tag": rec.tag,
            "gpl_compatible": rec.gpl_compatible,
            "loaded_at": rec.loaded_at,
            "uid": rec.uid,
            "bytes_xlated": rec.bytes_xlated,
            "jited": False,
            "bytes_memlock": rec.bytes_xlated,
            "map_ids": rec.map_ids,
        }
        if pins is not None:
            out["pinned"] = pins
        return out

    def progs(self) -> list[dict[str, Any]]:
        from ..registry import PinKind

        self.fs.collect()
        pins = self.fs.pins()
        out = []
        for prog_id in self.fs.prog_ids():
            with contextlib.suppress(BPFError):
                out.append(self._prog_json(self.fs.prog(prog_id), pins.get((PinKind.PROG, prog_id), [])))
        return out

    def _record(self, ref: Ref) -> Any:
        if ref.kind == "id":
            return self.fs.prog(ref.id)
        if ref.kind == "pinned":
            return self.fs.prog_by_pin(ref.value)
        found = [
            r for r in (self.fs.prog(i) for i in self.fs.prog_ids()) if getattr(r, ref.kind) == ref.value
        ]
        if not found:
            raise BPFError(f"no program with {ref}")
        if len(found) > 1:
            raise BPFError(f"{ref} matches programs {', '.join(str(r.id) for r in found)}; use id N")
        return found[0]

    def prog(self, ref: Ref) -> dict[str, Any]:
        from ..registry import PinKind

        rec = self._record(ref)
        return self._prog_json(rec, self.fs.pins().get((PinKind.PROG, rec.id), []))

    def prog_pin(self, ref: Ref, path: str) -> None:
        rec = self._record(ref)
        self.fs.pin(self.fs.prog_file(rec.id), path)

    def prog_load(self, obj: str, path: str, *, prog_type: Any, map_pins: dict[str, str]) -> None:
        from ..registry import load_object_into

        self.fs.resolve(path)
        with self.fs.locked():
            records, _ = load_object_into(
                self.fs, obj, prog_type=prog_type, map_pins=map_pins, only_first=True
            )
            self.fs.pin(self.fs.prog_file(records[0].id), path)

    def prog_loadall(self, obj: str, pin_dir: str, *, prog_type: Any, map_dir: str | None) -> None:
        from ..registry import load_object_into

        progs_at = self.fs.resolve(pin_dir)
        maps_at = self.fs.resolve(map_dir) if map_dir is not None else None
        for d in (progs_at, maps_at):
            if d is not None:
                d.mkdir(parents=True, exist_ok=True)
        with self.fs.locked():
            records, map_ids = load_object_into(self.fs, obj, prog_type=prog_type)
            for rec in records:
                self.fs.pin(self.fs.prog_file(rec.id), str(progs_at / rec.name))
            if maps_at is not None:
                for name, map_id in map_ids.items():
                    self.fs.pin(self.fs.map_file(map_id), str(maps_at / pin_name(name)))

    def xlated(self, ref: Ref) -> XlatedProg:
        from ..object import ObjectSpec

        rec = self._record(ref)
        spec = ObjectSpec.from_bytes(self.fs.object_file(rec.object).read_bytes(), name=rec.name)
        p = spec.programs[rec.name]
        insns = tuple(_with_map_id(insn, rec.maps) for insn in p.instructions)
        return XlatedProg(p.name, p.section, insns, p.func_info, p.line_info, spec.btf)

    def _map_json(self, map_id: int, bpf_map: Any, pins: list[str] | None) -> dict[str, Any]:
        meta = self.fs.map_meta(map_id)
        out: dict[str, Any] = {
            "id": map_id,
            "type": _map_type_name(bpf_map.map_type),
            "name": meta.name,
            "flags": bpf_map.flags,
            "bytes_key": bpf_map.key_size,
            "bytes_value": bpf_map.value_size,
            "max_entries": bpf_map.max_entries,
            "bytes_memlock": bpf_map.storage_size,
            "frozen": int(bool(bpf_map.frozen)),
        }
        if pins is not None:
            out["pinned"] = pins
        return out

    def _map_id(self, ref: Ref) -> int:
        if ref.kind == "id":
            self.fs.map_meta(ref.id)
            return ref.id
        if ref.kind == "pinned":
            return self.fs.map_id_by_pin(ref.value)
        if ref.kind == "name":
            return self.fs.map_id_by_name(ref.value)
        raise click.UsageError(f"maps cannot be named by {ref.kind}")

    def _open(self, map_id: int) -> Any:
        from ..maps import open_map

        try:
            return open_map(self.fs.map_file(map_id), name=self.fs.map_meta(map_id).name)
        except FileNotFoundError:
            raise BPFError(f"no map with id {map_id}") from None

    def maps(self) -> list[dict[str, Any]]:
        from ..registry import PinKind

        self.fs.collect()
        pins = self.fs.pins()
        out = []
        for map_id in self.fs.map_ids():
            with contextlib.suppress(BPFError, FileNotFoundError):
                m = self._open(map_id)
                try:
                    out.append(self._map_json(map_id, m, pins.get((PinKind.MAP, map_id), [])))
                finally:
                    m.close()
        return out

    def map(self, ref: Ref) -> dict[str, Any]:
        from ..registry import PinKind

        map_id = self._map_id(ref)
        m = self._open(map_id)
        try:
            return self._map_json(map_id, m, self.fs.pins().get((PinKind.MAP, map_id), []))
        finally:
            m.close()

    def open_map(self, ref: Ref) -> OpenMap:
        map_id = self._map_id(ref)
        m = self._open(map_id)
        meta = self.fs.map_meta(map_id)
        om = OpenMap(m, self._map_json(map_id, m, None))
        if meta.object and meta.btf_value_type_id:
            with contextlib.suppress(BPFError, OSError):
                from ..btf import BTF

                om.btf = BTF.from_file(self.fs.object_file(meta.object))
                om.key_type_id, om.value_type_id = meta.btf_key_type_id, meta.btf_value_type_id
        return om

    def map_pin(self, ref: Ref, path: str) -> None:
        self.fs.pin(self.fs.map_file(self._map_id(ref)), path)

    def map_create(
        self, path: str, *, map_type: Any, key: int, value: int, entries: int, name: str, flags: int
    ) -> None:
        from ..maps import create_map
        from ..registry import MapRecord, PinKind

        dest = self.fs.resolve(path)
        if os.path.lexists(dest):
            raise BPFError(f"can't pin the object ({path}): File exists")
        with self.fs.locked():
            map_id = self.fs.next_id(PinKind.MAP)
            storage = self.fs.map_file(map_id)
            try:
                create_map(map_type, key, value, entries, flags, name=name, path=storage).close()
                self.fs.write_map_meta(MapRecord(id=map_id, name=name, created_at=int(time.time())))
                self.fs.pin(storage, path)
            except BaseException:
                storage.unlink(missing_ok=True)
                self.fs.map_meta_file(map_id).unlink(missing_ok=True)
                raise

    def links(self) -> list[dict[str, Any]]:
        return []

    def btfs(self) -> list[dict[str, Any]]:
        return []

    def btf_by_id(self, btf_id: int) -> Any:
        raise BPFError(
            f"no BTF object with id {btf_id} (the VM bpffs keeps BTF with programs and maps: "
            "use btf dump prog PROG or map MAP, or --backend kernel)"
        )

    def _object_btf(self, obj: str | None, what: str) -> Any:
        from ..btf import BTF

        if obj is None:
            raise BPFError(f"{what} has no BTF")
        try:
            return BTF.from_file(self.fs.object_file(obj))
        except OSError as exc:
            raise BPFError(f"{what}: its object is gone ({exc.strerror or exc})") from None

    def prog_btf(self, ref: Ref) -> Any:
        rec = self._record(ref)
        return self._object_btf(rec.object if rec.btf else None, f"program {rec.id} ({rec.name})")

    def map_btf(self, ref: Ref) -> tuple[Any, int, int]:
        map_id = self._map_id(ref)
        meta = self.fs.map_meta(map_id)
        btf = self._object_btf(meta.object, f"map {map_id} ({meta.name})")
        return btf, meta.btf_key_type_id, meta.btf_value_type_id


def _with_map_id(insn: Any, map_ids: dict[str, int]) -> Any:
    """A map-loading lddw with the loaded map's id in its imm, as the kernel's xlated code shows it."""
    from dataclasses import replace

    from ..isa.opcodes import PseudoSrc

    ref = insn.meta.reference if insn.meta is not None else None
    if not insn.is_lddw or insn.src not in (PseudoSrc.MAP_FD, PseudoSrc.MAP_VALUE) or ref not in map_ids:
        return insn
    return replace(insn, imm=map_ids[ref] | (insn.imm_hi << 32))


def pin_name(map_name: str) -> str:
    """The file name ``pinmaps`` gives a map: libbpf turns '.' into '_' (x.rodata -> x_rodata)."""
    return map_name.replace(".", "_")


def _pinned_maps_backend(map_pins: dict[str, str]) -> Any:
    """A KernelBackend that opens the pinned maps named by ``map name NAME pinned PATH``."""
    from ..backends.kernel import KernelBackend

    class PinnedMapsBackend(KernelBackend):
        def create_map(self, spec: Any) -> Any:
            path = map_pins.get(spec.name)
            if path is None:
                return super().create_map(spec)
            bpf_map = self._reuse_pin(spec, path)
            self._maps.append(bpf_map)
            self.reused_pins.add(spec.name)
            return bpf_map

    return PinnedMapsBackend()


def _map_type_name(value: Any) -> str:
    from ..uapi import MapType

    try:
        return MapType(int(value)).uapi_name
    except ValueError:
        return str(int(value))


def _prog_type_name(value: Any) -> str:
    from ..uapi import ProgType

    try:
        return ProgType(int(value)).uapi_name
    except ValueError:
        return str(int(value))


# ----------------------------------------------------------------------------- kernel
def _fdinfo(fd: int) -> dict[str, str]:
    out: dict[str, str] = {}
    with contextlib.suppress(OSError), open(f"/proc/self/fdinfo/{fd}") as f:
        for line in f:
            key, _, value = line.partition(":")
            out[key.strip()] = value.strip()
    return out


def _boot_to_epoch(ns: int) -> int:
    """bpftool's loaded_at: the load time (ns since boot) as wall-clock seconds."""
    boot = time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)
    return int(boot + ns / 1e9)


class KernelStore:
    """The running kernel through bpf(2) (pybpf.kernel): ids, pins on /sys/fs/bpf."""

    def _fd(self, kind: str, ref: Ref) -> Any:
        from ..kernel import inspect, pin

        if ref.kind == "id":
            return inspect.fd_by_id(kind, ref.id)
        if ref.kind == "pinned":
            owned = pin.get_pinned(ref.value)
            if owned.kind != kind:
                owned.close()
                raise BPFError(f"{ref.value} is a pinned {owned.kind}, not a {kind}")
            return owned
        if ref.kind in ("name", "tag"):
            ids = inspect.prog_ids() if kind == "prog" else inspect.map_ids()
            found = []
            for obj_id in ids:
                with contextlib.suppress(BPFError):
                    rec = (
                        self.prog(Ref("id", str(obj_id)))
                        if kind == "prog"
                        else self.map(Ref("id", str(obj_id)))
                    )
                    if str(rec.get(ref.kind)) == ref.value:
                        found.append(obj_id)
            if len(found) != 1:
                raise BPFError(f"{ref} matches {len(found)} {kind}s (expected exactly one; use id N)")
            return inspect.fd_by_id(kind, found[0])
        raise click.UsageError(f"unsupported reference {ref}")

    def _prog_json(self, fd: int) -> dict[str, Any]:
        from ..kernel.info import prog_info

        info = prog_info(fd)
        fdinfo = _fdinfo(fd)
        out: dict[str, Any] = {
            "id": info.id,
            "type": _prog_type_name(info.type),
            "name": _full_prog_name(fd, info),
            "tag": info.tag,
            "gpl_compatible": info.gpl_compatible,
            "loaded_at": _boot_to_epoch(info.load_time_ns),
            "uid": info.created_by_uid,
            "bytes_xlated": info.xlated_len,
            "jited": bool(info.jited_len),
        }
        if info.jited_len:
            out["bytes_jited"] = info.jited_len
        if "memlock" in fdinfo:
            out["bytes_memlock"] = int(fdinfo["memlock"])
        if info.map_ids:
            out["map_ids"] = list(info.map_ids)
        if info.btf_id:
            out["btf_id"] = info.btf_id
        return out

    def _each(self, kind: str) -> Iterator[Any]:
        from ..errors import KernelError
        from ..kernel import inspect

        ids = {
            "prog": inspect.prog_ids,
            "map": inspect.map_ids,
            "link": inspect.link_ids,
            "btf": inspect.btf_ids,
        }
        for obj_id in ids[kind]():
            try:
                owned = inspect.fd_by_id(kind, obj_id)
            except KernelError:
                continue  # vanished since listed
            with owned:
                yield owned.fd

    def progs(self) -> list[dict[str, Any]]:
        return [self._prog_json(fd) for fd in self._each("prog")]

    def prog(self, ref: Ref) -> dict[str, Any]:
        with self._fd("prog", ref) as owned:
            return self._prog_json(owned.fd)

    def prog_pin(self, ref: Ref, path: str) -> None:
        from ..kernel.pin import pin_fd

        with self._fd("prog", ref) as owned:
            pin_fd(owned.fd, path)

    def _load_object(self, obj: str, prog_type: Any, map_pins: dict[str, str]) -> Any:
        """The object loaded into the kernel (maps named in ``map_pins`` reuse those pins)."""
        from ..loaded import LoadedObject
        from ..object import ObjectSpec
        from ..registry.loader import check_loadable, with_prog_type

        try:
            spec = with_prog_type(ObjectSpec.from_file(obj), prog_type)
        except OSError as exc:
            raise BPFError(f"cannot read {obj}: {exc.strerror or exc}") from None
        check_loadable(spec, obj, map_pins)
        return LoadedObject(spec, _pinned_maps_backend(map_pins))

    def prog_load(self, obj: str, path: str, *, prog_type: Any, map_pins: dict[str, str]) -> None:
        with self._load_object(obj, prog_type, map_pins) as loaded:
            next(iter(loaded.programs.values())).pin(path)

    def prog_loadall(self, obj: str, pin_dir: str, *, prog_type: Any, map_dir: str | None) -> None:
        from ..kernel.pin import pin_fd

        with self._load_object(obj, prog_type, {}) as loaded:
            for d in (pin_dir, map_dir):
                if d is not None:
                    os.makedirs(d, exist_ok=True)
            for name, prog in loaded.programs.items():
                prog.pin(os.path.join(pin_dir, name))
            if map_dir is not None:
                for name, bpf_map in loaded.maps.items():
                    pin_fd(bpf_map.fd, os.path.join(map_dir, pin_name(name)))

    def xlated(self, ref: Ref) -> XlatedProg:
        """The kernel's rewritten instructions, with the func/line info and BTF bpftool shows."""
        from ..isa.codec import decode
        from ..kernel.info import prog_debug_info, prog_info, prog_jited_ksyms, prog_xlated
        from ..kernel.kallsyms import xlated_call_names

        with self._fd("prog", ref) as owned:
            info = prog_info(owned.fd)
            raw = prog_xlated(owned.fd)
            ksyms = prog_jited_ksyms(owned.fd)
            debug = prog_debug_info(owned.fd)
        if not raw:
            raise BPFError(f"program {info.id}: the kernel gave no instructions (needs CAP_SYS_ADMIN)")
        # The kernel's own instruction forms (r11, the per-CPU address mov) are not
        # valid program input, so they are decoded as they are, unchecked.
        insns = tuple(decode(raw, validate=False))
        btf = None
        if debug.btf_id and (debug.func_info or debug.line_info):
            with contextlib.suppress(BPFError, OSError):
                btf = kernel_btf(debug.btf_id)
        funcs: tuple[Any, ...] = ()
        lines: tuple[tuple[int, Any], ...] = ()
        if btf is not None:
            from ..isa.instruction import LineInfo
            from ..object.spec import FuncInfo

            funcs = tuple(FuncInfo(off, type_id, "") for off, type_id in debug.func_info)
            text = btf.strings.get
            lines = tuple(
                (off, LineInfo(text(file_off, None), line_col >> 10, line_col & 0x3FF, text(line_off, None)))
                for off, file_off, line_off, line_col in debug.line_info
            )
        calls = xlated_call_names(ksyms)
        return XlatedProg(info.name, _prog_type_name(info.type), insns, funcs, lines, btf, calls)

    def _map_json(self, fd: int) -> dict[str, Any]:
        from ..kernel.info import map_info

        info = map_info(fd)
        fdinfo = _fdinfo(fd)
        out: dict[str, Any] = {
            "id": info.id,
            "type": _map_type_name(info.type),
            "name": info.name,
            "flags": info.flags,
            "bytes_key": info.key_size,
            "bytes_value": info.value_size,
            "max_entries": info.max_entries,
        }
        if "memlock" in fdinfo:
            out["bytes_memlock"] = int(fdinfo["memlock"])
        if "owner_prog_type" in fdinfo:  # a program array bound to the first program using it
            out["owner_prog_type"] = _prog_type_name(fdinfo["owner_prog_type"])
            out["owner_jited"] = fdinfo.get("owner_jited", "0") == "1"
        out["frozen"] = int(fdinfo.get("frozen", "0") or 0)
        if info.btf_id:
            out["btf_id"] = info.btf_id
        return out

    def maps(self) -> list[dict[str, Any]]:
        return [self._map_json(fd) for fd in self._each("map")]

    def map(self, ref: Ref) -> dict[str, Any]:
        with self._fd("map", ref) as owned:
            return self._map_json(owned.fd)

    def open_map(self, ref: Ref) -> OpenMap:
        from ..kernel.info import map_info
        from ..kernel.maps import KernelMap

        owned = self._fd("map", ref)
        info_json = self._map_json(owned.fd)
        info = map_info(owned.fd)
        om = OpenMap(KernelMap.from_fd(owned.release()), info_json)
        if info.btf_id and info.btf_value_type_id:
            with contextlib.suppress(BPFError, OSError):
                om.btf = kernel_btf(info.btf_id)
                om.key_type_id, om.value_type_id = info.btf_key_type_id, info.btf_value_type_id
        elif info.btf_vmlinux_value_type_id:
            # a struct_ops map: its value is the kernel's bpf_struct_ops_<struct> wrapper
            with contextlib.suppress(BPFError, OSError):
                from ..kernel.struct_ops import vmlinux_btf

                om.btf = vmlinux_btf()
                om.value_type_id = info.btf_vmlinux_value_type_id
        return om

    def map_pin(self, ref: Ref, path: str) -> None:
        from ..kernel.pin import pin_fd

        with self._fd("map", ref) as owned:
            pin_fd(owned.fd, path)

    def map_create(
        self, path: str, *, map_type: Any, key: int, value: int, entries: int, name: str, flags: int
    ) -> None:
        from ..kernel.maps import create_map

        m = create_map(map_type, key, value, entries, flags=flags, name=name)
        try:
            m.pin(path)
        finally:
            m.close()

    def links(self) -> list[dict[str, Any]]:
        from ..kernel.info import link_info
        from ..uapi import LinkType

        out = []
        for fd in self._each("link"):
            info = link_info(fd)
            rec: dict[str, Any] = {"id": info.id, "type": _enum_name(info.type), "prog_id": info.prog_id}
            if info.type == LinkType.RAW_TRACEPOINT and info.target_name is not None:
                rec["tp_name"] = info.target_name  # bpftool's key for raw tracepoint links
            for key in (
                "attach_type",
                "target_name",
                "target_obj_id",
                "target_btf_id",
                "ifindex",
                "cgroup_id",
            ):
                value = getattr(info, key)
                if key == "target_name" and info.type in (LinkType.RAW_TRACEPOINT, LinkType.PERF_EVENT):
                    continue  # bpftool 7.1 prints raw tracepoints as tp_name, perf events bare
                if value is not None:
                    rec[key] = _enum_name(value) if key == "attach_type" else value
            if info.ifindex:
                rec["devname"] = _ifname(info.ifindex)
            out.append(rec)
        return out

    def btf_by_id(self, btf_id: int) -> Any:
        return kernel_btf(btf_id)

    def prog_btf(self, ref: Ref) -> Any:
        from ..kernel.info import prog_info

        with self._fd("prog", ref) as owned:
            info = prog_info(owned.fd)
        if not info.btf_id:
            raise BPFError(f"program {info.id} ({info.name}) has no BTF")
        return kernel_btf(info.btf_id)

    def map_btf(self, ref: Ref) -> tuple[Any, int, int]:
        from ..kernel.info import map_info

        with self._fd("map", ref) as owned:
            info = map_info(owned.fd)
        if not info.btf_id:
            raise BPFError(f"map {info.id} ({info.name}) has no BTF")
        return kernel_btf(info.btf_id), info.btf_key_type_id, info.btf_value_type_id

    def btfs(self) -> list[dict[str, Any]]:
        from ..kernel.info import btf_info

        progs = self.progs()
        maps = self.maps()
        out = []
        for fd in self._each("btf"):
            info = btf_info(fd)
            rec: dict[str, Any] = {
                "id": info.id,
                "size": info.size,
                "prog_ids": [p["id"] for p in progs if p.get("btf_id") == info.id],
                "map_ids": [m["id"] for m in maps if m.get("btf_id") == info.id],
                "kernel": info.kernel_btf,
            }
            if info.name:
                rec["name"] = info.name
            out.append(rec)
        return out


def _full_prog_name(fd: int, info: Any) -> str:
    """The program's name; one the kernel cut at 15 bytes is read back from its BTF, as bpftool does.

    The kernel keeps BPF_OBJ_NAME_LEN - 1 bytes of a name; bpftool then prints the
    name of the program's first func_info FUNC instead, when the program has BTF.
    """
    from ..kernel.attr import OBJ_NAME_LEN
    from ..kernel.info import prog_debug_info

    name = str(info.name)
    if len(name) != OBJ_NAME_LEN - 1 or not info.btf_id or not info.nr_func_info:
        return name

    with contextlib.suppress(BPFError, OSError, IndexError):
        debug = prog_debug_info(fd)
        return str(kernel_btf(debug.btf_id).name_of(debug.func_info[0][1])) or name
    return name


def kernel_btf(btf_id: int) -> Any:
    """A parsed kernel BTF object (split BTF over vmlinux when it is a module's)."""
    from ..btf import BTF
    from ..kernel import inspect
    from ..kernel.info import btf_data
    from ..kernel.struct_ops import vmlinux_btf

    with inspect.fd_by_id("btf", btf_id) as owned:
        data = btf_data(owned.fd)
    try:
        return BTF.parse(data)
    except BPFError:
        return BTF.parse(data, base=vmlinux_btf())


def _enum_name(value: Any) -> Any:
    name = getattr(value, "uapi_name", None)
    return name if isinstance(name, str) else int(value)


def _ifname(ifindex: int) -> str:
    with contextlib.suppress(OSError):
        return str(socket_if_name(ifindex))
    return ""


def socket_if_name(ifindex: int) -> str:
    import socket

    return socket.if_indextoname(ifindex)


def not_in_kernel(what: str) -> NotSupportedError:
    return NotSupportedError(f"{what} is not supported with --backend kernel yet")
