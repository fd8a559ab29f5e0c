"""Layout, ids, pins and garbage collection of the VM bpffs.

Layout under the root (``$PYBPF_FS``, else ``$XDG_STATE_HOME/pybpf``, else
``~/.local/state/pybpf``)::

    .pybpf/lock             flock held while ids are allocated or objects freed
    .pybpf/ids.json         next program id and next map id
    .pybpf/progs/<id>.json  program record (ProgRecord), written once
    .pybpf/maps/<id>.map    map storage (pybpf.maps file-backed map)
    .pybpf/maps/<id>.json   map metadata (MapRecord)
    .pybpf/objs/<sha>.o     object bytes programs are reloaded from
    anything else           pins made by the user

Why hard links: a pin *is* another name of the object's file, as on the real
bpffs.  Deleting a pin with plain ``rm`` is therefore always safe; an object
whose file has no other name (link count 1) and that no live program uses is
unreferenced and is freed by :meth:`BpfFs.collect`, like the kernel frees an
object when its last reference goes.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from enum import Enum
from pathlib import Path

from ..errors import BPFError
from .records import MapRecord, ProgRecord

KERNEL_BPFFS = "/sys/fs/bpf"
_MAP_MAGIC = b"PBPF"  # first bytes of a pybpf map storage file


class RegistryError(BPFError):
    """A pin or an id of the VM bpffs that does not exist or cannot be made."""


class PinKind(Enum):
    PROG = "prog"
    MAP = "map"


def default_root() -> Path:
    """Where the VM bpffs lives: $PYBPF_FS, else the XDG state directory."""
    env = os.environ.get("PYBPF_FS")
    if env:
        return Path(env).expanduser()
    state = os.environ.get("XDG_STATE_HOME")
    base = Path(state).expanduser() if state else Path.home() / ".local" / "state"
    return base / "pybpf"


def _atomic_write(path: Path, data: bytes) -> None:
    """Write a new file whole or not at all (temp file + rename)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class BpfFs:
    """One VM bpffs directory."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_root()
        self.root = Path(os.path.abspath(self.root))
        self.state = self.root / ".pybpf"
        try:
            for sub in ("progs", "maps", "objs"):
                (self.state / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RegistryError(f"cannot create the VM bpffs at {self.root}: {exc.strerror or exc}") from None

    # -- paths ---------------------------------------------------------------------
    def resolve(self, path: str) -> Path:
        """The file of pin ``path``: /sys/fs/bpf/X and relative X both mean ROOT/X."""
        if path == KERNEL_BPFFS or path.startswith(KERNEL_BPFFS + "/"):
            path = path[len(KERNEL_BPFFS) :].lstrip("/")
        p = Path(path).expanduser()
        full = Path(os.path.abspath(p if p.is_absolute() else self.root / p))
        try:
            rel = full.relative_to(self.root)
        except ValueError:
            raise RegistryError(
                f"{path} is not inside the VM bpffs {self.root} "
                "(use a path under it, a relative path, or /sys/fs/bpf/...; PYBPF_FS moves it)"
            ) from None
        if not rel.parts or rel.parts[0] == ".pybpf":
            raise RegistryError(f"{path} is not a valid pin path (it names the bpffs itself)")
        return full

    def prog_file(self, prog_id: int) -> Path:
        return self.state / "progs" / f"{prog_id}.json"

    def map_file(self, map_id: int) -> Path:
        return self.state / "maps" / f"{map_id}.map"

    def map_meta_file(self, map_id: int) -> Path:
        return self.state / "maps" / f"{map_id}.json"

    def object_file(self, name: str) -> Path:
        return self.state / "objs" / name

    # -- ids and records -------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Serialise id allocation, object creation and collection across processes."""
        fd = os.open(self.state / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def next_id(self, kind: PinKind) -> int:
        """A fresh id (call under :meth:`locked`); ids are never reused, as in the kernel."""
        ids_path = self.state / "ids.json"
        try:
            ids = json.loads(ids_path.read_bytes())
        except (OSError, ValueError):
            ids = {}
        value = int(ids.get(kind.value, 1))
        ids[kind.value] = value + 1
        _atomic_write(ids_path, json.dumps(ids).encode())
        return value

    def store_object(self, data: bytes) -> str:
        """Keep the object bytes (content-addressed) so programs can be reloaded later."""
        name = hashlib.sha256(data).hexdigest()[:32] + ".o"
        path = self.object_file(name)
        if not path.exists():
            _atomic_write(path, data)
        return name

    def write_prog(self, rec: ProgRecord) -> Path:
        path = self.prog_file(rec.id)
        _atomic_write(path, rec.to_json())
        return path

    def write_map_meta(self, rec: MapRecord) -> None:
        _atomic_write(self.map_meta_file(rec.id), rec.to_json())

    def prog_ids(self) -> list[int]:
        return sorted(int(p.stem) for p in (self.state / "progs").glob("*.json") if p.stem.isdigit())

    def map_ids(self) -> list[int]:
        return sorted(int(p.stem) for p in (self.state / "maps").glob("*.map") if p.stem.isdigit())

    def prog(self, prog_id: int) -> ProgRecord:
        path = self.prog_file(prog_id)
        try:
            return ProgRecord.from_json(path.read_bytes(), str(path))
        except FileNotFoundError:
            raise RegistryError(f"no program with id {prog_id}") from None

    def map_meta(self, map_id: int) -> MapRecord:
        """A map's metadata; a missing or damaged sidecar degrades to an unnamed map."""
        if not self.map_file(map_id).exists():
            raise RegistryError(f"no map with id {map_id}")
        try:
            return MapRecord.from_json(self.map_meta_file(map_id).read_bytes(), f"map {map_id}")
        except (OSError, BPFError):
            return MapRecord(id=map_id, name="")

    def map_id_by_name(self, name: str) -> int:
        found = [i for i in self.map_ids() if self.map_meta(i).name == name]
        if not found:
            raise RegistryError(f"no map named {name!r}")
        if len(found) > 1:
            raise RegistryError(
                f"map name {name!r} is ambiguous (ids {', '.join(map(str, found))}); use id N"
            )
        return found[0]

    # -- pins ------------------------------------------------------------------------
    def pin_kind(self, path: str) -> tuple[PinKind, Path]:
        full = self.resolve(path)
        try:
            with open(full, "rb") as f:
                head = f.read(4)
        except FileNotFoundError:
            raise RegistryError(f"no such pinned object: {path} (nothing pinned there)") from None
        except IsADirectoryError:
            raise RegistryError(f"{path} is a directory, not a pinned object") from None
        except OSError as exc:
            raise RegistryError(f"cannot open pinned object {path}: {exc.strerror or exc}") from None
        if head == _MAP_MAGIC:
            return PinKind.MAP, full
        if head[:1] == b"{":
            return PinKind.PROG, full
        raise RegistryError(f"{path} is not a pinned pybpf program or map")

    def prog_by_pin(self, path: str) -> ProgRecord:
        kind, full = self.pin_kind(path)
        if kind is not PinKind.PROG:
            raise RegistryError(f"{path} is a pinned map, not a program")
        return ProgRecord.from_json(full.read_bytes(), path)

    def map_id_by_pin(self, path: str) -> int:
        kind, full = self.pin_kind(path)
        if kind is not PinKind.MAP:
            raise RegistryError(f"{path} is a pinned program, not a map")
        ino = full.stat().st_ino
        for map_id in self.map_ids():
            with contextlib.suppress(FileNotFoundError):
                if self.map_file(map_id).stat().st_ino == ino:
                    return map_id
        raise RegistryError(f"{path} is a map file that does not belong to this bpffs ({self.root})")

    def pin(self, source: Path, path: str) -> Path:
        """Give the object file ``source`` the extra name ``path``, as BPF_OBJ_PIN does."""
        dest = self.resolve(path)
        try:
            os.link(source, dest)
        except FileExistsError:
            raise RegistryError(f"can't pin the object ({path}): File exists") from None
        except FileNotFoundError:
            if not dest.parent.is_dir():
                raise RegistryError(
                    f"can't pin the object ({path}): directory {dest.parent} does not exist"
                ) from None
            raise RegistryError(f"can't pin the object ({path}): the object is gone") from None
        except OSError as exc:
            raise RegistryError(f"can't pin the object ({path}): {exc.strerror or exc}") from None
        return dest

    def pins(self) -> dict[tuple[PinKind, int], list[str]]:
        """Every pin under the root, by (kind, id)."""
        by_ino: dict[int, tuple[PinKind, int]] = {}
        for prog_id in self.prog_ids():
            with contextlib.suppress(FileNotFoundError):
                by_ino[self.prog_file(prog_id).stat().st_ino] = (PinKind.PROG, prog_id)
        for map_id in self.map_ids():
            with contextlib.suppress(FileNotFoundError):
                by_ino[self.map_file(map_id).stat().st_ino] = (PinKind.MAP, map_id)
        out: dict[tuple[PinKind, int], list[str]] = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            if Path(dirpath) == self.root and ".pybpf" in dirnames:
                dirnames.remove(".pybpf")
            for fname in filenames:
                full = os.path.join(dirpath, fname)
                with contextlib.suppress(OSError):
                    key = by_ino.get(os.lstat(full).st_ino)
                    if key is not None:
                        out.setdefault(key, []).append(full)
        for paths in out.values():
            paths.sort()
        return out

    # -- collection ------------------------------------------------------------------
    def collect(self) -> None:
        """Free programs without pins, then maps without pins that no live program uses."""
        with self.locked():
            live_maps: set[int] = set()
            for prog_id in self.prog_ids():
                path = self.prog_file(prog_id)
                try:
                    if path.stat().st_nlink <= 1:
                        path.unlink()
                        continue
                    live_maps.update(self.prog(prog_id).map_ids)
                except (FileNotFoundError, BPFError):
                    continue
            for map_id in self.map_ids():
                if map_id in live_maps:
                    continue
                path = self.map_file(map_id)
                with contextlib.suppress(FileNotFoundError):
                    if path.stat().st_nlink <= 1:
                        path.unlink()
                        self.map_meta_file(map_id).unlink(missing_ok=True)


def errno_name(code: int) -> str:
    return errno.errorcode.get(code, str(code))
