"""BPF_OBJ_GET_INFO_BY_FD parsed into frozen dataclasses.

Variable-length parts (map ids, xlated instructions, names) need a second call
with buffers sized from the first one's counts; that is done here so callers get
complete values.  Enum-typed fields fall back to the raw int for values newer
than :mod:`pybpf.uapi` knows.
"""

from __future__ import annotations

import ctypes
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import TypeVar

from ..uapi import AttachType, Cmd, LinkType, MapType, ProgType
from . import syscall
from .attr import BtfInfoStruct, InfoAttr, LinkInfoStruct, MapInfoStruct, ProgInfoStruct, addr

E = TypeVar("E", bound=IntEnum)


def _enum(cls: type[E], value: int) -> E | int:
    try:
        return cls(value)
    except ValueError:
        return value


def _name(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode(errors="replace")


def get_info(fd: int, info: ctypes.Structure) -> ctypes.Structure:
    """Fill ``info`` (any info structure) for ``fd``."""
    attr = InfoAttr(bpf_fd=fd, info_len=ctypes.sizeof(info), info=addr(info))
    syscall.bpf(Cmd.OBJ_GET_INFO_BY_FD, attr)
    return info


@dataclass(frozen=True, slots=True)
class ProgInfo:
    """What the kernel reports about a loaded program (bpftool prog show)."""

    id: int
    type: ProgType | int
    name: str
    tag: str
    jited_len: int
    xlated_len: int
    map_ids: tuple[int, ...]
    load_time_ns: int
    created_by_uid: int
    btf_id: int
    run_time_ns: int
    run_cnt: int
    recursion_misses: int
    verified_insns: int
    gpl_compatible: bool
    ifindex: int
    attach_btf_obj_id: int
    attach_btf_id: int
    nr_func_info: int
    nr_line_info: int


def prog_info(fd: int) -> ProgInfo:
    """Program info, including the ids of the maps it uses."""
    info = ProgInfoStruct()
    get_info(fd, info)
    map_ids: tuple[int, ...] = ()
    if info.nr_map_ids:
        ids = (ctypes.c_uint32 * info.nr_map_ids)()
        second = ProgInfoStruct(nr_map_ids=info.nr_map_ids, map_ids=addr(ids))
        get_info(fd, second)
        map_ids = tuple(ids[: min(second.nr_map_ids, info.nr_map_ids)])
    return ProgInfo(
        id=info.id,
        type=_enum(ProgType, info.type),
        name=_name(bytes(info.name)),
        tag=bytes(info.tag).hex(),
        jited_len=info.jited_prog_len,
        xlated_len=info.xlated_prog_len,
        map_ids=map_ids,
        load_time_ns=info.load_time,
        created_by_uid=info.created_by_uid,
        btf_id=info.btf_id,
        run_time_ns=info.run_time_ns,
        run_cnt=info.run_cnt,
        recursion_misses=info.recursion_misses,
        verified_insns=info.verified_insns,
        gpl_compatible=bool(info.gpl_compatible & 1),
        ifindex=info.ifindex,
        attach_btf_obj_id=info.attach_btf_obj_id,
        attach_btf_id=info.attach_btf_id,
        nr_func_info=info.nr_func_info,
        nr_line_info=info.nr_line_info,
    )


def prog_xlated(fd: int) -> bytes:
    """The instructions as the kernel rewrote them (empty without CAP_SYS_ADMIN)."""
    first = ProgInfoStruct()
    get_info(fd, first)
    if not first.xlated_prog_len:
        return b""
    buf = ctypes.create_string_buffer(first.xlated_prog_len)
    second = ProgInfoStruct(xlated_prog_len=first.xlated_prog_len, xlated_prog_insns=addr(buf))
    get_info(fd, second)
    return buf.raw[: second.xlated_prog_len]


def prog_jited_ksyms(fd: int) -> tuple[int, ...]:
    """Kernel addresses of the JIT images of the program's functions, main first.

    Empty when the program is not JIT-ed or the caller may not see kernel
    addresses.  An xlated bpf-to-bpf call's ``imm`` indexes this list.
    """
    first = ProgInfoStruct()
    get_info(fd, first)
    if not first.nr_jited_ksyms:
        return ()
    buf = (ctypes.c_uint64 * first.nr_jited_ksyms)()
    second = ProgInfoStruct(nr_jited_ksyms=first.nr_jited_ksyms, jited_ksyms=addr(buf))
    get_info(fd, second)
    return tuple(buf[: min(second.nr_jited_ksyms, first.nr_jited_ksyms)])


@dataclass(frozen=True, slots=True)
class ProgDebugInfo:
    """A loaded program's BTF func_info and line_info, as the kernel kept them.

    ``func_info``: (instruction index, BTF FUNC id); ``line_info``: (instruction
    index, file name offset, line text offset, line << 10 | column), the offsets
    into the string table of the program's BTF (``btf_id``).
    """

    btf_id: int
    func_info: tuple[tuple[int, int], ...]
    line_info: tuple[tuple[int, int, int, int], ...]


def prog_debug_info(fd: int) -> ProgDebugInfo:
    """func_info and line_info of the program behind ``fd`` (empty when it has none)."""
    first = ProgInfoStruct()
    get_info(fd, first)
    nfunc, nline = first.nr_func_info, first.nr_line_info
    frec, lrec = first.func_info_rec_size or 8, first.line_info_rec_size or 16
    if not nfunc and not nline:
        return ProgDebugInfo(first.btf_id, (), ())
    fbuf = ctypes.create_string_buffer(max(nfunc * frec, 1))
    lbuf = ctypes.create_string_buffer(max(nline * lrec, 1))
    second = ProgInfoStruct(
        nr_func_info=nfunc, func_info_rec_size=frec, func_info=addr(fbuf),
        nr_line_info=nline, line_info_rec_size=lrec, line_info=addr(lbuf),
    )  # fmt: skip
    get_info(fd, second)
    funcs = tuple(struct.unpack_from("<II", fbuf.raw, i * frec) for i in range(second.nr_func_info))
    lines = tuple(struct.unpack_from("<IIII", lbuf.raw, i * lrec) for i in range(second.nr_line_info))
    return ProgDebugInfo(second.btf_id, funcs, lines)


def prog_jited(fd: int) -> bytes:
    """The native code the JIT produced (empty when not JIT-ed or not permitted)."""
    first = ProgInfoStruct()
    get_info(fd, first)
    if not first.jited_prog_len:
        return b""
    buf = ctypes.create_string_buffer(first.jited_prog_len)
    second = ProgInfoStruct(jited_prog_len=first.jited_prog_len, jited_prog_insns=addr(buf))
    get_info(fd, second)
    return buf.raw[: second.jited_prog_len]


@dataclass(frozen=True, slots=True)
class MapInfo:
    """What the kernel reports about a map (bpftool map show)."""

    id: int
    type: MapType | int
    name: str
    key_size: int
    value_size: int
    max_entries: int
    flags: int
    btf_id: int
    btf_key_type_id: int
    btf_value_type_id: int
    btf_vmlinux_value_type_id: int
    map_extra: int
    ifindex: int


def map_info(fd: int) -> MapInfo:
    info = MapInfoStruct()
    get_info(fd, info)
    return MapInfo(
        id=info.id,
        type=_enum(MapType, info.type),
        name=_name(bytes(info.name)),
        key_size=info.key_size,
        value_size=info.value_size,
        max_entries=info.max_entries,
        flags=info.map_flags,
        btf_id=info.btf_id,
        btf_key_type_id=info.btf_key_type_id,
        btf_value_type_id=info.btf_value_type_id,
        btf_vmlinux_value_type_id=info.btf_vmlinux_value_type_id,
        map_extra=info.map_extra,
        ifindex=info.ifindex,
    )


@dataclass(frozen=True, slots=True)
class BtfInfo:
    """A BTF object: its id, size, name (``vmlinux`` or a module) and whether it is the kernel's."""

    id: int
    size: int
    name: str
    kernel_btf: bool


_NAME_BUF = 256


def btf_info(fd: int) -> BtfInfo:
    name = ctypes.create_string_buffer(_NAME_BUF)
    info = BtfInfoStruct(name=addr(name), name_len=_NAME_BUF)
    get_info(fd, info)
    return BtfInfo(id=info.id, size=info.btf_size, name=_name(name.raw), kernel_btf=bool(info.kernel_btf))


def btf_data(fd: int) -> bytes:
    """The raw BTF bytes of a loaded BTF object."""
    first = BtfInfoStruct()
    get_info(fd, first)
    buf = ctypes.create_string_buffer(first.btf_size)
    second = BtfInfoStruct(btf=addr(buf), btf_size=first.btf_size)
    get_info(fd, second)
    return buf.raw[: second.btf_size]


class PerfEventLinkType(IntEnum):
    """enum bpf_perf_event_type: what a perf_event link is attached to."""

    UNSPEC = 0
    UPROBE = 1
    URETPROBE = 2
    KPROBE = 3
    KRETPROBE = 4
    TRACEPOINT = 5
    EVENT = 6


@dataclass(frozen=True, slots=True)
class LinkInfo:
    """A link: its type, program and the target fields that apply to its type (others None)."""

    id: int
    type: LinkType | int
    prog_id: int
    attach_type: AttachType | int | None = None
    target_name: str | None = None  # raw tracepoint, perf tracepoint/kprobe function, uprobe file
    target_obj_id: int | None = None
    target_btf_id: int | None = None
    ifindex: int | None = None
    cgroup_id: int | None = None
    perf_event_type: PerfEventLinkType | int | None = None


def _with_name(fd: int, name_at: int, len_at: int) -> tuple[LinkInfoStruct, str]:
    """Second info call handing the kernel a name buffer at the given union offsets."""
    buf = ctypes.create_string_buffer(_NAME_BUF)
    info = LinkInfoStruct()
    raw = bytearray(64)
    struct.pack_into("<Q", raw, name_at, addr(buf))
    struct.pack_into("<I", raw, len_at, _NAME_BUF)
    info.u = (ctypes.c_uint64 * 8).from_buffer_copy(raw)
    # perf_event links also need the union's leading type word left as the kernel wants (0 in).
    get_info(fd, info)
    return info, _name(buf.raw)


def link_info(fd: int) -> LinkInfo:
    info = LinkInfoStruct()
    get_info(fd, info)
    u = bytes(info.u)
    ltype = _enum(LinkType, info.type)
    base = {"id": info.id, "type": ltype, "prog_id": info.prog_id}
    w = struct.unpack_from("<16I", u)
    if ltype == LinkType.RAW_TRACEPOINT:
        _, name = _with_name(fd, 0, 8)
        return LinkInfo(**base, target_name=name)
    if ltype == LinkType.TRACING:
        return LinkInfo(**base, attach_type=_enum(AttachType, w[0]), target_obj_id=w[1], target_btf_id=w[2])
    if ltype == LinkType.CGROUP:
        return LinkInfo(**base, cgroup_id=struct.unpack_from("<Q", u)[0], attach_type=_enum(AttachType, w[2]))
    if ltype == LinkType.XDP:
        return LinkInfo(**base, ifindex=w[0], attach_type=AttachType.XDP)
    if ltype in (LinkType.TCX, LinkType.NETKIT, LinkType.NETNS):
        field = "ifindex" if ltype != LinkType.NETNS else "target_obj_id"
        return LinkInfo(**base, attach_type=_enum(AttachType, w[1]), **{field: w[0]})
    if ltype == LinkType.PERF_EVENT:
        ptype = _enum(PerfEventLinkType, w[0])
        target: str | None = None
        if ptype in (
            PerfEventLinkType.TRACEPOINT,
            PerfEventLinkType.KPROBE,
            PerfEventLinkType.KRETPROBE,
            PerfEventLinkType.UPROBE,
            PerfEventLinkType.URETPROBE,
        ):
            _, target = _with_name(fd, 8, 16)
        return LinkInfo(**base, perf_event_type=ptype, target_name=target)
    return LinkInfo(**base)
