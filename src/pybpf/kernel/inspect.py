"""Enumerating what is loaded: ids (*_GET_NEXT_ID) and objects by id (*_GET_FD_BY_ID).

This is what ``pybpf prog show`` / ``map show`` / ``link show`` / ``btf show`` walk.
Objects can vanish between listing an id and opening it; :func:`iter_programs` and
friends skip those instead of failing.
"""

from __future__ import annotations

import errno as _errno
from collections.abc import Iterator

from ..errors import KernelError
from ..uapi import Cmd
from . import syscall
from .attr import EnableStatsAttr, GetIdAttr
from .btf_load import KernelBTF, open_btf_fd
from .fd import OwnedFD
from .info import BtfInfo, LinkInfo, MapInfo, ProgInfo, btf_info, link_info, map_info, prog_info
from .links import Link
from .maps import KernelMap
from .progs import KernelProgram

_NEXT = {
    "prog": Cmd.PROG_GET_NEXT_ID,
    "map": Cmd.MAP_GET_NEXT_ID,
    "link": Cmd.LINK_GET_NEXT_ID,
    "btf": Cmd.BTF_GET_NEXT_ID,
}
_BY_ID = {
    "prog": Cmd.PROG_GET_FD_BY_ID,
    "map": Cmd.MAP_GET_FD_BY_ID,
    "link": Cmd.LINK_GET_FD_BY_ID,
    "btf": Cmd.BTF_GET_FD_BY_ID,
}


def _ids(kind: str) -> Iterator[int]:
    cmd = _NEXT[kind]
    current = 0
    while True:
        attr = GetIdAttr(id=current)
        rc = syscall.bpf_raw(cmd, attr)
        if rc == -_errno.ENOENT:
            return
        if rc < 0:
            raise syscall.error(cmd, -rc)
        current = attr.next_id
        yield current


def prog_ids() -> list[int]:
    return list(_ids("prog"))


def map_ids() -> list[int]:
    return list(_ids("map"))


def link_ids() -> list[int]:
    return list(_ids("link"))


def btf_ids() -> list[int]:
    return list(_ids("btf"))


def fd_by_id(kind: str, obj_id: int, open_flags: int = 0) -> OwnedFD:
    """A new owned fd for the ``kind`` ("prog", "map", "link", "btf") object ``obj_id``."""
    cmd = _BY_ID[kind]
    fd = syscall.bpf(cmd, GetIdAttr(id=obj_id, open_flags=open_flags), detail=f"{kind} id {obj_id}")
    return OwnedFD(fd, kind)


def _adopt(kind: str, obj_id: int) -> int:
    """A raw fd for ``obj_id`` whose ownership passes to the object constructor."""
    return fd_by_id(kind, obj_id).release()


def program_by_id(prog_id: int) -> KernelProgram:
    return KernelProgram.from_fd(_adopt("prog", prog_id))


def map_by_id(map_id: int) -> KernelMap:
    return KernelMap.from_fd(_adopt("map", map_id))


def link_by_id(link_id: int) -> Link:
    return Link.from_fd(_adopt("link", link_id))


def btf_by_id(btf_id: int) -> KernelBTF:
    return open_btf_fd(_adopt("btf", btf_id))


def _open_or_none(kind: str, obj_id: int) -> OwnedFD | None:
    """The object's fd, or None when it vanished since its id was listed."""
    try:
        return fd_by_id(kind, obj_id)
    except KernelError as e:
        if e.errno == _errno.ENOENT:
            return None
        raise


def iter_prog_infos() -> Iterator[ProgInfo]:
    """ProgInfo of every loaded program, by ascending id."""
    for obj_id in _ids("prog"):
        owned = _open_or_none("prog", obj_id)
        if owned is not None:
            with owned:
                yield prog_info(owned.fd)


def iter_map_infos() -> Iterator[MapInfo]:
    for obj_id in _ids("map"):
        owned = _open_or_none("map", obj_id)
        if owned is not None:
            with owned:
                yield map_info(owned.fd)


def iter_link_infos() -> Iterator[LinkInfo]:
    for obj_id in _ids("link"):
        owned = _open_or_none("link", obj_id)
        if owned is not None:
            with owned:
                yield link_info(owned.fd)


def iter_btf_infos() -> Iterator[BtfInfo]:
    for obj_id in _ids("btf"):
        owned = _open_or_none("btf", obj_id)
        if owned is not None:
            with owned:
                yield btf_info(owned.fd)


STATS_RUN_TIME = 0
"""BPF_STATS_RUN_TIME for :func:`enable_stats`."""


def enable_stats(stats_type: int = STATS_RUN_TIME) -> OwnedFD:
    """BPF_ENABLE_STATS: run_time_ns/run_cnt are counted while the returned fd is open."""
    fd = syscall.bpf(Cmd.ENABLE_STATS, EnableStatsAttr(type=stats_type))
    return OwnedFD(fd, "stats")
