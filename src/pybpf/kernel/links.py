"""Attaching programs to hooks; every attachment is a :class:`Link`.

Where the kernel offers a bpf_link (BPF_LINK_CREATE, BPF_RAW_TRACEPOINT_OPEN) we
use it: closing the fd detaches, and a link can be pinned to outlive the process.
Perf-event hooks (tracepoints, kprobes, uprobes) open a perf event first and bind
the program with a BPF_PERF_EVENT link, falling back to the PERF_EVENT_IOC_SET_BPF
ioctl on kernels without perf links; the Link then owns both fds.
"""

from __future__ import annotations

import ctypes
import errno as _errno
import os
import socket
from enum import IntFlag

from ..errors import BPFError, KernelError, NotSupportedError
from ..uapi import AttachType, Cmd
from . import syscall
from .attr import FdAttr, LinkCreateAttr, PerfEventAttr, ProgQueryAttr, RawTracepointAttr, addr
from .btf_ids import find_type_id
from .fd import FDObject, OwnedFD
from .info import LinkInfo, link_info
from .pin import ensure_tracefs
from .progs import KernelArgumentError, KernelProgram

PERF_TYPE_TRACEPOINT = 2
PERF_FLAG_FD_CLOEXEC = 1 << 3
PERF_EVENT_IOC_ENABLE = 0x2400
PERF_EVENT_IOC_DISABLE = 0x2401
PERF_EVENT_IOC_SET_BPF = 0x40042408
PMU_DIR = "/sys/bus/event_source/devices"


class XDPFlags(IntFlag):
    """XDP_FLAGS_* for :func:`attach_xdp` (0 lets the kernel pick driver or generic mode)."""

    UPDATE_IF_NOEXIST = 1 << 0
    SKB_MODE = 1 << 1
    DRV_MODE = 1 << 2
    HW_MODE = 1 << 3
    REPLACE = 1 << 4


class MprogFlags(IntFlag):
    """Ordering flags for multi-program hooks (tcx, netkit, cgroup links)."""

    REPLACE = 1 << 2
    BEFORE = 1 << 3
    AFTER = 1 << 4
    ID = 1 << 5
    LINK = 1 << 13


class Link(FDObject):
    """An attachment.  ``close()`` drops our reference (a pinned link stays attached);
    ``detach()`` forcibly detaches the program even if the link is pinned elsewhere.
    """

    __slots__ = ("_perf", "description", "is_bpf_link")

    def __init__(
        self, owned: OwnedFD, description: str, *, perf: OwnedFD | None = None, is_bpf_link: bool = True
    ) -> None:
        super().__init__(owned)
        self.description = description
        self._perf = perf
        self.is_bpf_link = is_bpf_link

    @classmethod
    def from_fd(cls, fd: int) -> Link:
        """Adopt a bpf_link fd (from an id or a pin)."""
        owned = OwnedFD(fd, "link")
        try:
            info = link_info(fd)
        except BPFError:
            owned.close()
            raise
        return cls(owned, f"{getattr(info.type, 'uapi_name', info.type)} link {info.id}")

    def close(self) -> None:
        super().close()
        if self._perf is not None:
            self._perf.close()

    def detach(self) -> None:
        """Detach the program now (BPF_LINK_DETACH), then close."""
        if self.is_bpf_link and not self.closed:
            rc = syscall.bpf_raw(Cmd.LINK_DETACH, FdAttr(fd=self.fd))
            # Some link types cannot be detached except by closing (EOPNOTSUPP/EINVAL).
            if rc < 0 and -rc not in (_errno.EOPNOTSUPP, _errno.EINVAL, syscall.ENOTSUPP):
                raise syscall.error(Cmd.LINK_DETACH, -rc)
        self.close()

    def info(self) -> LinkInfo:
        if not self.is_bpf_link:
            raise NotSupportedError(f"{self.description} is a perf-event attachment, not a bpf_link")
        return link_info(self.fd)

    @property
    def id(self) -> int:
        return self.info().id

    def pin(self, path: str) -> None:
        """Pin the link on bpffs: the attachment then outlives this process."""
        if not self.is_bpf_link:
            raise NotSupportedError(f"{self.description}: perf-event attachments (ioctl) cannot be pinned")
        from .pin import pin_fd

        pin_fd(self.fd, path)

    def update(self, prog: KernelProgram) -> None:
        """BPF_LINK_UPDATE: swap the program behind the link atomically."""
        attr = (ctypes.c_uint32 * 4)(self.fd, prog.fd, 0, 0)
        syscall.bpf(Cmd.LINK_UPDATE, attr, detail=self.description)

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"fd={self._owned._fd}"
        return f"<Link {self.description} {state}>"


# -- BPF_LINK_CREATE based ------------------------------------------------


def _link_create(prog: KernelProgram, attr: LinkCreateAttr, description: str) -> Link:
    attr.prog_fd = prog.fd
    fd = syscall.bpf(Cmd.LINK_CREATE, attr, detail=description)
    return Link(OwnedFD(fd, "link"), description)


def _attach_type(prog: KernelProgram, given: AttachType | int | None, what: str) -> int:
    value = given if given is not None else prog.expected_attach_type
    if value is None:
        raise KernelArgumentError(f"{what}: no attach type given and the program has no expected_attach_type")
    return int(value)


def attach_tracing(
    prog: KernelProgram, *, cookie: int = 0, attach_type: AttachType | int | None = None
) -> Link:
    """fentry / fexit / fmod_ret / LSM / tp_btf: the hook comes from the load-time attach_btf_id."""
    at = _attach_type(prog, attach_type, "attach_tracing")
    attr = LinkCreateAttr(attach_type=at)
    attr.tail.tracing.cookie = cookie
    return _link_create(prog, attr, f"tracing {prog.name or 'prog'}")


def attach_xdp(prog: KernelProgram, ifindex: int | str, flags: int = 0) -> Link:
    """XDP on an interface (index or name)."""
    index = if_index(ifindex)
    attr = LinkCreateAttr(target_fd=index, attach_type=AttachType.XDP, flags=flags)
    return _link_create(prog, attr, f"xdp ifindex {index}")


def attach_tcx(
    prog: KernelProgram,
    ifindex: int | str,
    direction: AttachType | int = AttachType.TCX_INGRESS,
    *,
    flags: int = 0,
    relative_fd: int = 0,
    expected_revision: int = 0,
) -> Link:
    """tcx ingress/egress link (kernel 6.6+) on an interface; ``flags`` orders it (MprogFlags)."""
    if int(direction) not in (AttachType.TCX_INGRESS, AttachType.TCX_EGRESS):
        raise KernelArgumentError(f"tcx direction must be tcx_ingress or tcx_egress, not {direction}")
    index = if_index(ifindex)
    attr = LinkCreateAttr(target_fd=index, attach_type=int(direction), flags=flags)
    attr.tail.relative.relative_fd = relative_fd
    attr.tail.relative.expected_revision = expected_revision
    return _link_create(prog, attr, f"{AttachType(int(direction)).uapi_name} ifindex {index}")


def query_tcx(ifindex: int, attach_type: AttachType, room: int = 64) -> list[tuple[int, int]]:
    """(prog id, link id) of each program tcx runs on ``ifindex`` of *this* network namespace.

    BPF_PROG_QUERY by ifindex answers for the caller's namespace, which a walk over
    all links cannot: a link's info names an ifindex but not its namespace.  A
    program attached without a link has link id 0.
    """
    progs = (ctypes.c_uint32 * room)()
    links = (ctypes.c_uint32 * room)()
    attr = ProgQueryAttr(
        target=ifindex, attach_type=int(attach_type), prog_ids=addr(progs), link_ids=addr(links), count=room
    )
    rc = syscall.bpf_raw(Cmd.PROG_QUERY, attr)
    if rc < 0:
        if -rc == _errno.ENOSPC:
            return query_tcx(ifindex, attach_type, attr.count)
        raise syscall.error(Cmd.PROG_QUERY, -rc, f"tcx on ifindex {ifindex}", attr)
    return [(progs[i], links[i]) for i in range(min(attr.count, room))]


def attach_cgroup(
    prog: KernelProgram, cgroup: str | int, attach_type: AttachType | int | None = None, flags: int = 0
) -> Link:
    """A cgroup hook on the cgroup directory ``cgroup`` (path, or an open fd we do not own)."""
    at = _attach_type(prog, attach_type, "attach_cgroup")
    if isinstance(cgroup, int):
        target, opened = cgroup, False
    else:
        try:
            target, opened = os.open(cgroup, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC), True
        except OSError as e:
            raise KernelError("open cgroup", e.errno or 0, detail=str(cgroup)) from None
    try:
        attr = LinkCreateAttr(target_fd=target, attach_type=at, flags=flags)
        return _link_create(prog, attr, f"cgroup {cgroup} {AttachType(at).uapi_name}")
    finally:
        if opened:
            os.close(target)


def attach_raw_tracepoint(prog: KernelProgram, name: str, *, cookie: int = 0) -> Link:
    """BPF_RAW_TRACEPOINT_OPEN on the raw tracepoint ``name`` (e.g. ``sys_enter``)."""
    buf = ctypes.create_string_buffer(name.encode())
    attr = RawTracepointAttr(name=addr(buf), prog_fd=prog.fd, cookie=cookie)
    fd = syscall.bpf(Cmd.RAW_TRACEPOINT_OPEN, attr, detail=name)
    return Link(OwnedFD(fd, "link"), f"raw_tracepoint {name}")


# -- perf-event based -----------------------------------------------------


def _perf_open(attr: PerfEventAttr, pid: int, cpu: int) -> OwnedFD:
    attr.size = ctypes.sizeof(PerfEventAttr)
    fd = syscall.perf_event_open(attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC)
    return OwnedFD(fd, "perf_event")


def attach_perf_event(prog: KernelProgram, perf: OwnedFD, description: str, *, cookie: int = 0) -> Link:
    """Bind ``prog`` to an open perf event (the Link takes ownership of ``perf``)."""
    try:
        attr = LinkCreateAttr(prog_fd=prog.fd, target_fd=perf.fd, attach_type=AttachType.PERF_EVENT)
        attr.tail.perf_event_cookie = cookie
        rc = syscall.bpf_raw(Cmd.LINK_CREATE, attr)
        if rc >= 0:
            link = Link(OwnedFD(rc, "link"), description, perf=perf)
            syscall.ioctl(perf.fd, PERF_EVENT_IOC_ENABLE, 0, command="perf_event_ioc_enable")
            return link
        if -rc not in (_errno.EINVAL, _errno.EOPNOTSUPP, syscall.ENOTSUPP) or cookie:
            raise syscall.error(Cmd.LINK_CREATE, -rc, description)
        # Kernels before 5.15 have no perf links: the ioctl binds for the fd's lifetime.
        syscall.ioctl(perf.fd, PERF_EVENT_IOC_SET_BPF, prog.fd, command="perf_event_ioc_set_bpf")
        syscall.ioctl(perf.fd, PERF_EVENT_IOC_ENABLE, 0, command="perf_event_ioc_enable")
        return Link(perf, description, is_bpf_link=False)
    except BaseException:
        perf.close()
        raise


def tracepoint_id(category: str, name: str) -> int:
    """The perf id of tracepoint ``category:name`` from tracefs."""
    for part in (category, name):
        if not part or "/" in part or part in (".", ".."):
            raise KernelArgumentError(f"invalid tracepoint {category}:{name}")
    path = os.path.join(ensure_tracefs(), "events", category, name, "id")
    try:
        with open(path) as f:
            return int(f.read().strip())
    except FileNotFoundError:
        raise NotSupportedError(f"no tracepoint {category}:{name} ({path} missing)") from None
    except (OSError, ValueError) as e:
        raise NotSupportedError(f"cannot read tracepoint id from {path}: {e}") from None


def attach_tracepoint(prog: KernelProgram, category: str, name: str, *, cookie: int = 0) -> Link:
    """A tracepoint program on ``category:name`` (e.g. ``syscalls``, ``sys_enter_getppid``)."""
    attr = PerfEventAttr(type=PERF_TYPE_TRACEPOINT, config=tracepoint_id(category, name), sample_period=1)
    attr.wakeup_events = 1
    perf = _perf_open(attr, -1, 0)
    return attach_perf_event(prog, perf, f"tracepoint {category}:{name}", cookie=cookie)


def _pmu(name: str) -> tuple[int, int]:
    """(PMU type, retprobe config bit) of the dynamic ``kprobe``/``uprobe`` PMU."""
    base = os.path.join(PMU_DIR, name)
    try:
        with open(os.path.join(base, "type")) as f:
            pmu_type = int(f.read().strip())
    except OSError:
        raise NotSupportedError(
            f"the {name} PMU is missing ({base}): kernel built without {name} events"
        ) from None
    try:
        with open(os.path.join(base, "format", "retprobe")) as f:
            spec = f.read().strip()  # "config:0"
        bit = int(spec.split(":", 1)[1])
    except (OSError, ValueError, IndexError):
        raise NotSupportedError(f"cannot read the retprobe bit of the {name} PMU") from None
    return pmu_type, bit


def attach_kprobe(
    prog: KernelProgram, function: str, *, offset: int = 0, retprobe: bool = False, cookie: int = 0
) -> Link:
    """kprobe / kretprobe on kernel ``function`` (+``offset``) through the kprobe PMU."""
    pmu_type, bit = _pmu("kprobe")
    name = ctypes.create_string_buffer(function.encode())
    attr = PerfEventAttr(
        type=pmu_type, config=(1 << bit) if retprobe else 0, config1=addr(name), config2=offset
    )
    perf = _perf_open(attr, -1, 0)
    kind = "kretprobe" if retprobe else "kprobe"
    return attach_perf_event(prog, perf, f"{kind} {function}+{offset}", cookie=cookie)


def attach_uprobe(
    prog: KernelProgram,
    path: str,
    offset: int,
    *,
    retprobe: bool = False,
    pid: int = -1,
    cookie: int = 0,
) -> Link:
    """uprobe / uretprobe at file ``offset`` of the ELF at ``path`` (all processes, or ``pid``)."""
    pmu_type, bit = _pmu("uprobe")
    real = os.path.realpath(path)
    if not os.path.isfile(real):
        raise KernelArgumentError(f"uprobe target {path} is not a file")
    name = ctypes.create_string_buffer(os.fsencode(real))
    attr = PerfEventAttr(
        type=pmu_type, config=(1 << bit) if retprobe else 0, config1=addr(name), config2=offset
    )
    perf = _perf_open(attr, pid, 0 if pid == -1 else -1)
    kind = "uretprobe" if retprobe else "uprobe"
    return attach_perf_event(prog, perf, f"{kind} {real}+{offset:#x}", cookie=cookie)


# -- small lookups ----------------------------------------------------------


def if_index(ifindex: int | str) -> int:
    """An interface index from an index or a name."""
    if isinstance(ifindex, int):
        if ifindex <= 0:
            raise KernelArgumentError(f"invalid interface index {ifindex}")
        return ifindex
    try:
        return socket.if_nametoindex(ifindex)
    except OSError:
        raise KernelArgumentError(f"no network interface {ifindex!r}") from None


def vmlinux_func_id(function: str) -> int:
    """BTF id of kernel function ``function`` (for fentry/fexit ``attach_btf_id``)."""
    return find_type_id(function)
