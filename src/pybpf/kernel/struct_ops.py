"""struct_ops in the kernel: a kernel struct of function pointers filled by BPF programs.

A ``SEC(".struct_ops")`` variable (a TCP congestion control, a sched_ext
scheduler...) becomes one BPF_MAP_TYPE_STRUCT_OPS map. The facts this module
follows come from the UAPI (include/uapi/linux/bpf.h) and the kernel's BPF docs:

* the kernel describes each struct it accepts (``tcp_congestion_ops``) with a
  wrapper type ``bpf_struct_ops_<struct>`` in vmlinux BTF: a common header
  (refcount and state, which userspace leaves zero) then the struct as member
  ``data``;
* the map has key 4 bytes, max_entries 1, value = the wrapper's size, and
  ``btf_vmlinux_value_type_id`` = the wrapper's vmlinux id; it also needs the
  object's ``btf_fd`` (the kernel insists), and BPF_F_LINK when the variable is in
  ``.struct_ops.link``;
* each program is BPF_PROG_TYPE_STRUCT_OPS with ``attach_btf_id`` = the kernel
  struct's id and ``expected_attach_type`` = the index of the member it fills;
* members are matched BY NAME between the object's (often trimmed) local struct
  and the kernel's, so the object need not know the kernel's exact layout;
* in the value, a function-pointer member holds the program's fd, every other
  member the object's bytes;
* registration is BPF_MAP_UPDATE_ELEM on key 0 (undone by BPF_MAP_DELETE_ELEM),
  or for a BPF_F_LINK map the update then BPF_LINK_CREATE on the map fd
  (attach type BPF_STRUCT_OPS), undone by closing the link.
"""

from __future__ import annotations

import ctypes
import errno as _errno
import fcntl
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from ..btf import BTF, FuncProto, Kind, Ptr, Struct
from ..errors import BTFError, NotSupportedError, StructOpsError
from ..object.spec import StructOpsSpec
from ..uapi import AttachType, Cmd, MapFlag
from . import syscall
from .attr import LinkCreateAttr, MapElemAttr, addr
from .btf_ids import VMLINUX_BTF
from .fd import OwnedFD
from .links import Link
from .maps import KernelMap

WRAPPER_PREFIX = "bpf_struct_ops_"
_KEY0 = bytes(4)


@cache
def vmlinux_btf(path: str = VMLINUX_BTF) -> BTF:
    """The kernel's BTF, parsed once per process (~0.5 s for vmlinux)."""
    try:
        return BTF.from_file(path)
    except OSError as e:
        raise NotSupportedError(f"kernel BTF not readable at {path}: {e.strerror}") from None


@dataclass(frozen=True, slots=True)
class FuncSlot:
    """A function-pointer member the object fills with a program."""

    member: str
    index: int
    """Index of the member in the kernel struct: the program's expected_attach_type."""
    offset: int
    """Byte offset of the pointer in the map value (wrapper), where the prog fd goes."""
    program: str


@dataclass(frozen=True, slots=True)
class StructOpsPlan:
    """Everything the kernel needs for one struct_ops variable, worked out before loading."""

    name: str
    kernel_struct: str
    kernel_type_id: int
    """attach_btf_id of the programs."""
    value_type_id: int
    """btf_vmlinux_value_type_id of the map (the ``bpf_struct_ops_<struct>`` wrapper)."""
    value_size: int
    data: bytes
    """The wrapper's bytes with every data member copied in; function pointers zero."""
    slots: tuple[FuncSlot, ...]
    link: bool

    @property
    def map_flags(self) -> int:
        return int(MapFlag.LINK) if self.link else 0

    def value(self, prog_fds: Mapping[str, int]) -> bytes:
        """The map value: :attr:`data` with each slot's program fd in place."""
        out = bytearray(self.data)
        for slot in self.slots:
            fd = prog_fds.get(slot.program)
            if fd is None:
                raise StructOpsError(
                    f"struct_ops {self.name}: member {slot.member!r} needs program {slot.program!r}, "
                    "which was not loaded",
                    struct_ops=self.name,
                    member=slot.member,
                )
            out[slot.offset : slot.offset + 8] = fd.to_bytes(8, "little")
        return bytes(out)


def _is_func_ptr(btf: BTF, type_id: int) -> bool:
    t = btf.resolve(type_id)
    return isinstance(t, Ptr) and isinstance(btf.resolve(t.type_id), FuncProto)


def _struct(kbtf: BTF, name: str) -> Struct | None:
    return next((t for t in kbtf.find_all(name, Kind.STRUCT) if isinstance(t, Struct)), None)


def plan_struct_ops(so: StructOpsSpec, local: BTF, kbtf: BTF | None = None) -> StructOpsPlan:
    """Match ``so``'s local struct against the kernel's by member name and lay out the value.

    A local member the kernel struct lacks is an error when the object sets it (a
    program or non-zero bytes) and skipped when it is zero, as libbpf documents for
    running one object on kernels with different versions of the struct.
    """
    kbtf = kbtf if kbtf is not None else vmlinux_btf()

    def fail(message: str, member: str | None = None) -> StructOpsError:
        return StructOpsError(f"struct_ops {so.name}: {message}", struct_ops=so.name, member=member)

    kstruct = _struct(kbtf, so.type_name)
    if kstruct is None:
        exc = fail(f"the kernel has no struct {so.type_name} in its vmlinux BTF")
        exc.hint = "struct_ops types defined by kernel modules are not supported"
        raise exc
    wrapper_name = WRAPPER_PREFIX + so.type_name
    wrapper = _struct(kbtf, wrapper_name)
    if wrapper is None:
        raise fail(
            f"the kernel does not accept struct {so.type_name} as struct_ops (no {wrapper_name} in its BTF)"
        )
    data_member = next((m for m in wrapper.members if m.name == "data"), None)
    if data_member is None or data_member.bits_offset % 8:
        raise fail(f"{wrapper_name} in the kernel BTF has no byte-aligned 'data' member")
    data_off = data_member.bits_offset // 8
    kmembers = {m.name: (index, m) for index, m in enumerate(kstruct.members) if m.name}
    programs = dict(so.programs)
    value = bytearray(wrapper.size)
    slots: list[FuncSlot] = []
    try:
        lmembers = local.members(so.type_id)
    except BTFError as e:
        raise fail(f"local type {so.type_name}: {e}") from None
    for lm in lmembers:
        if lm.bitfield_size or lm.bits_offset % 8:
            raise fail(f"member {lm.name!r} is a bitfield, which struct_ops values cannot hold", lm.name)
        loff = lm.bits_offset // 8
        lsize = local.sizeof(lm.type_id)
        local_bytes = so.data[loff : loff + lsize]
        program = programs.get(lm.name)
        found = kmembers.get(lm.name)
        if found is None:
            if program is not None or any(local_bytes):
                raise fail(f"the kernel's struct {so.type_name} has no member {lm.name!r}", lm.name)
            continue
        index, km = found
        if km.bitfield_size or km.bits_offset % 8:
            raise fail(f"member {lm.name!r} is a bitfield in the kernel's struct {so.type_name}", lm.name)
        koff = data_off + km.bits_offset // 8
        kernel_func = _is_func_ptr(kbtf, km.type_id)
        if _is_func_ptr(local, lm.type_id):
            if not kernel_func:
                raise fail(f"member {lm.name!r} is a function pointer here but data in the kernel", lm.name)
            if program is not None:
                slots.append(FuncSlot(lm.name, index, koff, program))
            continue
        if kernel_func:
            raise fail(f"member {lm.name!r} is data here but a function pointer in the kernel", lm.name)
        ksize = kbtf.sizeof(km.type_id)
        if ksize != lsize:
            raise fail(f"member {lm.name!r} is {lsize} bytes here but {ksize} in the kernel", lm.name)
        value[koff : koff + ksize] = local_bytes
    return StructOpsPlan(
        name=so.name,
        kernel_struct=so.type_name,
        kernel_type_id=kstruct.id,
        value_type_id=wrapper.id,
        value_size=wrapper.size,
        data=bytes(value),
        slots=tuple(slots),
        link=so.link,
    )


def program_targets(plans: Mapping[str, StructOpsPlan]) -> dict[str, tuple[int, int]]:
    """Program name -> (attach_btf_id, expected_attach_type) over every plan.

    One program may fill members of several variables only if it lands on the same
    kernel struct and member index each time (the kernel verifies it once).
    """
    out: dict[str, tuple[int, int]] = {}
    for plan in plans.values():
        for slot in plan.slots:
            target = (plan.kernel_type_id, slot.index)
            have = out.setdefault(slot.program, target)
            if have != target:
                raise StructOpsError(
                    f"struct_ops program {slot.program} fills members of different kernel structs or "
                    f"indexes ({plan.name}.{slot.member} and another)",
                    struct_ops=plan.name,
                    member=slot.member,
                )
    return out


# -- registration ----------------------------------------------------------------


def _delete_key0(fd: int) -> int:
    key = ctypes.create_string_buffer(_KEY0, 4)
    return syscall.bpf_raw(Cmd.MAP_DELETE_ELEM, MapElemAttr(map_fd=fd, key=addr(key)))


def _unregister_then_close(fd: int) -> None:
    _delete_key0(fd)
    OwnedFD(fd, "map").close()


class _RegisteredMapFD(OwnedFD):
    """A dup of a registered struct_ops map's fd: closing it (or losing it) unregisters first."""

    __slots__ = ()

    def __init__(self, fd: int) -> None:
        super().__init__(fd, "struct_ops map")
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _unregister_then_close, fd)


def unregister_map(fd: int, description: str = "") -> None:
    """BPF_MAP_DELETE_ELEM on key 0 of a registered plain struct_ops map (``bpftool struct_ops
    unregister``); the kernel then drops the map unless someone else holds it."""
    rc = _delete_key0(fd)
    if rc < 0:
        raise syscall.error(Cmd.MAP_DELETE_ELEM, -rc, description)


def kernel_struct_name(value_type_id: int) -> str:
    """The kernel struct behind a struct_ops map's ``btf_vmlinux_value_type_id`` (its wrapper)."""
    kbtf = vmlinux_btf()
    wrapper = kbtf.resolve(value_type_id)
    if isinstance(wrapper, Struct):
        for m in wrapper.members:
            if m.name == "data":
                return kbtf.name_of(kbtf.resolve_id(m.type_id))
    return wrapper.name.removeprefix(WRAPPER_PREFIX)


class StructOpsRegistration(Link):
    """A plain ``.struct_ops`` map registered with BPF_MAP_UPDATE_ELEM: not a bpf_link.

    ``detach()`` unregisters (BPF_MAP_DELETE_ELEM on key 0) and reports a failure;
    ``close()`` does the same quietly, so nothing stays registered past the object.
    """

    __slots__ = ()

    def disconnect(self) -> None:
        """Leave the struct_ops registered after this process: drop our fd without unregistering."""
        if not self.closed:
            OwnedFD(self._owned.release(), "map").close()

    def detach(self) -> None:
        if self.closed:
            return
        fd = self._owned.release()
        rc = _delete_key0(fd)
        OwnedFD(fd, "map").close()
        if rc < 0 and -rc != _errno.ENOENT:
            raise syscall.error(Cmd.MAP_DELETE_ELEM, -rc, self.description)


def register(bpf_map: KernelMap, plan: StructOpsPlan, prog_fds: Mapping[str, int]) -> Link:
    """Register the struct_ops: a Link whose close unregisters it."""
    value = plan.value(prog_fds)
    description = f"struct_ops {plan.name} ({plan.kernel_struct})"
    if plan.link:
        bpf_map.update(_KEY0, value)  # a BPF_F_LINK map: this only prepares the value
        attr = LinkCreateAttr(prog_fd=bpf_map.fd, attach_type=AttachType.STRUCT_OPS)
        fd = syscall.bpf(Cmd.LINK_CREATE, attr, detail=description)
        return Link(OwnedFD(fd, "link"), description)
    dup = OwnedFD(fcntl.fcntl(bpf_map.fd, fcntl.F_DUPFD_CLOEXEC, 0), "struct_ops map")
    bpf_map.update(_KEY0, value)  # registers; from here on the dup unregisters on close
    return StructOpsRegistration(_RegisteredMapFD(dup.release()), description, is_bpf_link=False)


__all__ = [
    "FuncSlot",
    "StructOpsPlan",
    "StructOpsRegistration",
    "kernel_struct_name",
    "plan_struct_ops",
    "program_targets",
    "register",
    "unregister_map",
    "vmlinux_btf",
]
