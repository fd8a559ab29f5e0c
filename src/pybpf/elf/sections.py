"""The SEC("...") name table: which program type a section name means.

This is data, read by the object parser, the skeleton generator and the CLI.  The
entries, their order and the matching rules are libbpf's (``section_defs`` in
libbpf.c, documented on the kernel's "Program Types and ELF Sections" page):

* ``type``   matches exactly ``type``;
* ``type+``  matches ``type`` or ``type/<extras>`` (a '/' separator is required);
* ``type/``  matches only ``type/<extras>`` (extras are mandatory).

The first entry that matches wins, so more specific names come first
(``sk_reuseport/migrate`` before ``sk_reuseport``, ``xdp.frags/devmap`` before
``xdp.frags``).  Extras after the '/' describe the attach target and are parsed
by :func:`parse_attach_target` according to the entry's :class:`AttachKind`.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from enum import Enum, Flag, auto

from ..errors import ObjectParseError
from ..uapi import AttachType, ProgType


class SecFlag(Flag):
    """libbpf's SEC_* flags: how a section's programs load and attach."""

    NONE = 0
    EXP_ATTACH_OPT = auto()
    """expected_attach_type is dropped when the kernel does not know it."""
    ATTACHABLE = auto()
    """expected_attach_type is passed to BPF_PROG_LOAD."""
    ATTACH_BTF = auto()
    """The extras name a BTF type (function, tracepoint, LSM hook) to attach to."""
    SLEEPABLE = auto()
    """The program is loaded with BPF_F_SLEEPABLE."""
    XDP_FRAGS = auto()
    """The program is loaded with BPF_F_XDP_HAS_FRAGS (multi-buffer XDP)."""
    USDT = auto()
    """A USDT probe: needs the usdt.bpf.h support maps."""


ATTACHABLE_OPT = SecFlag.ATTACHABLE | SecFlag.EXP_ATTACH_OPT


class AttachKind(Enum):
    """How the extras of a section name are spelled (and what they mean)."""

    NONE = "none"
    KPROBE = "kprobe"  # FUNC[+OFFSET]
    UPROBE = "uprobe"  # PATH:SYMBOL[+OFFSET]
    MULTI_KPROBE = "kprobe.multi"  # PATTERN
    MULTI_UPROBE = "uprobe.multi"  # PATH:PATTERN
    SYSCALL = "ksyscall"  # SYSCALL
    USDT = "usdt"  # PATH:PROVIDER:NAME
    TRACEPOINT = "tracepoint"  # CATEGORY/NAME
    RAW_TRACEPOINT = "raw_tracepoint"  # NAME
    BTF = "btf"  # BTF name: function, tracepoint, LSM hook, iterator
    STRUCT_OPS = "struct_ops"  # member name


@dataclass(frozen=True, slots=True)
class SecDef:
    """One row of the table.

    ``expected_attach_type`` is None when libbpf passes none (it uses 0, which
    is also BPF_CGROUP_INET_INGRESS, hence the explicit None).
    """

    pattern: str
    prog_type: ProgType
    expected_attach_type: AttachType | None
    flags: SecFlag = SecFlag.NONE
    attach: AttachKind = AttachKind.NONE
    deprecated: bool = False

    @property
    def prefix(self) -> str:
        """The pattern without its trailing ``+`` (what a section name starts with)."""
        return self.pattern[:-1] if self.pattern.endswith("+") else self.pattern

    @property
    def sleepable(self) -> bool:
        return bool(self.flags & SecFlag.SLEEPABLE)

    @property
    def frags(self) -> bool:
        return bool(self.flags & SecFlag.XDP_FRAGS)

    def matches(self, name: str) -> bool:
        """libbpf's rule for this pattern (see the module docstring)."""
        pat = self.pattern
        if pat.endswith("/"):
            return name.startswith(pat) and len(name) > len(pat)
        if pat.endswith("+"):
            base = pat[:-1]
            return name == base or name.startswith(base + "/")
        return name == pat

    def extras(self, name: str) -> str:
        """What follows ``<type>/`` in ``name`` ('' for an exact match)."""
        base = self.prefix.rstrip("/")
        return name[len(base) + 1 :] if len(name) > len(base) else ""


P = ProgType
A = AttachType
K = AttachKind
F = SecFlag


def _d(
    pattern: str,
    prog_type: ProgType,
    eat: AttachType | None = None,
    flags: SecFlag = SecFlag.NONE,
    attach: AttachKind = AttachKind.NONE,
    *,
    deprecated: bool = False,
) -> SecDef:
    return SecDef(pattern, prog_type, eat, flags, attach, deprecated)


SECTION_DEFS: tuple[SecDef, ...] = (
    _d("socket", P.SOCKET_FILTER),
    _d("sk_reuseport/migrate", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT_OR_MIGRATE, F.ATTACHABLE),
    _d("sk_reuseport", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT, F.ATTACHABLE),
    _d("kprobe+", P.KPROBE, None, F.NONE, K.KPROBE),
    _d("uprobe+", P.KPROBE, None, F.NONE, K.UPROBE),
    _d("uprobe.s+", P.KPROBE, None, F.SLEEPABLE, K.UPROBE),
    _d("kretprobe+", P.KPROBE, None, F.NONE, K.KPROBE),
    _d("uretprobe+", P.KPROBE, None, F.NONE, K.UPROBE),
    _d("uretprobe.s+", P.KPROBE, None, F.SLEEPABLE, K.UPROBE),
    _d("kprobe.multi+", P.KPROBE, A.TRACE_KPROBE_MULTI, F.NONE, K.MULTI_KPROBE),
    _d("kretprobe.multi+", P.KPROBE, A.TRACE_KPROBE_MULTI, F.NONE, K.MULTI_KPROBE),
    _d("kprobe.session+", P.KPROBE, A.TRACE_KPROBE_SESSION, F.NONE, K.MULTI_KPROBE),
    _d("uprobe.multi+", P.KPROBE, A.TRACE_UPROBE_MULTI, F.NONE, K.MULTI_UPROBE),
    _d("uretprobe.multi+", P.KPROBE, A.TRACE_UPROBE_MULTI, F.NONE, K.MULTI_UPROBE),
    _d("uprobe.session+", P.KPROBE, A.TRACE_UPROBE_SESSION, F.NONE, K.MULTI_UPROBE),
    _d("uprobe.multi.s+", P.KPROBE, A.TRACE_UPROBE_MULTI, F.SLEEPABLE, K.MULTI_UPROBE),
    _d("uretprobe.multi.s+", P.KPROBE, A.TRACE_UPROBE_MULTI, F.SLEEPABLE, K.MULTI_UPROBE),
    _d("uprobe.session.s+", P.KPROBE, A.TRACE_UPROBE_SESSION, F.SLEEPABLE, K.MULTI_UPROBE),
    _d("ksyscall+", P.KPROBE, None, F.NONE, K.SYSCALL),
    _d("kretsyscall+", P.KPROBE, None, F.NONE, K.SYSCALL),
    _d("usdt+", P.KPROBE, None, F.USDT, K.USDT),
    _d("usdt.s+", P.KPROBE, None, F.USDT | F.SLEEPABLE, K.USDT),
    _d("tc/ingress", P.SCHED_CLS, A.TCX_INGRESS),  # alias for tcx/ingress
    _d("tc/egress", P.SCHED_CLS, A.TCX_EGRESS),  # alias for tcx/egress
    _d("tcx/ingress", P.SCHED_CLS, A.TCX_INGRESS),
    _d("tcx/egress", P.SCHED_CLS, A.TCX_EGRESS),
    _d("tc", P.SCHED_CLS, deprecated=True),
    _d("classifier", P.SCHED_CLS, deprecated=True),
    _d("action", P.SCHED_ACT, deprecated=True),
    _d("netkit/primary", P.SCHED_CLS, A.NETKIT_PRIMARY),
    _d("netkit/peer", P.SCHED_CLS, A.NETKIT_PEER),
    _d("tracepoint+", P.TRACEPOINT, None, F.NONE, K.TRACEPOINT),
    _d("tp+", P.TRACEPOINT, None, F.NONE, K.TRACEPOINT),
    _d("raw_tracepoint+", P.RAW_TRACEPOINT, None, F.NONE, K.RAW_TRACEPOINT),
    _d("raw_tp+", P.RAW_TRACEPOINT, None, F.NONE, K.RAW_TRACEPOINT),
    _d("raw_tracepoint.w+", P.RAW_TRACEPOINT_WRITABLE, None, F.NONE, K.RAW_TRACEPOINT),
    _d("raw_tp.w+", P.RAW_TRACEPOINT_WRITABLE, None, F.NONE, K.RAW_TRACEPOINT),
    _d("tp_btf+", P.TRACING, A.TRACE_RAW_TP, F.ATTACH_BTF, K.BTF),
    _d("fentry+", P.TRACING, A.TRACE_FENTRY, F.ATTACH_BTF, K.BTF),
    _d("fmod_ret+", P.TRACING, A.MODIFY_RETURN, F.ATTACH_BTF, K.BTF),
    _d("fexit+", P.TRACING, A.TRACE_FEXIT, F.ATTACH_BTF, K.BTF),
    _d("fentry.s+", P.TRACING, A.TRACE_FENTRY, F.ATTACH_BTF | F.SLEEPABLE, K.BTF),
    _d("fmod_ret.s+", P.TRACING, A.MODIFY_RETURN, F.ATTACH_BTF | F.SLEEPABLE, K.BTF),
    _d("fexit.s+", P.TRACING, A.TRACE_FEXIT, F.ATTACH_BTF | F.SLEEPABLE, K.BTF),
    _d("freplace+", P.EXT, None, F.ATTACH_BTF, K.BTF),
    _d("lsm+", P.LSM, A.LSM_MAC, F.ATTACH_BTF, K.BTF),
    _d("lsm.s+", P.LSM, A.LSM_MAC, F.ATTACH_BTF | F.SLEEPABLE, K.BTF),
    _d("lsm_cgroup+", P.LSM, A.LSM_CGROUP, F.ATTACH_BTF, K.BTF),
    _d("iter+", P.TRACING, A.TRACE_ITER, F.ATTACH_BTF, K.BTF),
    _d("iter.s+", P.TRACING, A.TRACE_ITER, F.ATTACH_BTF | F.SLEEPABLE, K.BTF),
    _d("syscall", P.SYSCALL, None, F.SLEEPABLE),
    _d("xdp.frags/devmap", P.XDP, A.XDP_DEVMAP, F.XDP_FRAGS),
    _d("xdp/devmap", P.XDP, A.XDP_DEVMAP, F.ATTACHABLE),
    _d("xdp.frags/cpumap", P.XDP, A.XDP_CPUMAP, F.XDP_FRAGS),
    _d("xdp/cpumap", P.XDP, A.XDP_CPUMAP, F.ATTACHABLE),
    _d("xdp.frags", P.XDP, A.XDP, F.XDP_FRAGS),
    _d("xdp", P.XDP, A.XDP, ATTACHABLE_OPT),
    _d("perf_event", P.PERF_EVENT),
    _d("lwt_in", P.LWT_IN),
    _d("lwt_out", P.LWT_OUT),
    _d("lwt_xmit", P.LWT_XMIT),
    _d("lwt_seg6local", P.LWT_SEG6LOCAL),
    _d("sockops", P.SOCK_OPS, A.CGROUP_SOCK_OPS, ATTACHABLE_OPT),
    _d("sk_skb/stream_parser", P.SK_SKB, A.SK_SKB_STREAM_PARSER, ATTACHABLE_OPT),
    _d("sk_skb/stream_verdict", P.SK_SKB, A.SK_SKB_STREAM_VERDICT, ATTACHABLE_OPT),
    _d("sk_skb/verdict", P.SK_SKB, A.SK_SKB_VERDICT, ATTACHABLE_OPT),
    _d("sk_skb", P.SK_SKB),
    _d("sk_msg", P.SK_MSG, A.SK_MSG_VERDICT, ATTACHABLE_OPT),
    _d("lirc_mode2", P.LIRC_MODE2, A.LIRC_MODE2, ATTACHABLE_OPT),
    _d("flow_dissector", P.FLOW_DISSECTOR, A.FLOW_DISSECTOR, ATTACHABLE_OPT),
    _d("cgroup_skb/ingress", P.CGROUP_SKB, A.CGROUP_INET_INGRESS, ATTACHABLE_OPT),
    _d("cgroup_skb/egress", P.CGROUP_SKB, A.CGROUP_INET_EGRESS, ATTACHABLE_OPT),
    _d("cgroup/skb", P.CGROUP_SKB),
    _d("cgroup/sock_create", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, F.ATTACHABLE),
    _d("cgroup/sock_release", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_RELEASE, F.ATTACHABLE),
    _d("cgroup/sock", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, ATTACHABLE_OPT),
    _d("cgroup/post_bind4", P.CGROUP_SOCK, A.CGROUP_INET4_POST_BIND, F.ATTACHABLE),
    _d("cgroup/post_bind6", P.CGROUP_SOCK, A.CGROUP_INET6_POST_BIND, F.ATTACHABLE),
    _d("cgroup/bind4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_BIND, F.ATTACHABLE),
    _d("cgroup/bind6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_BIND, F.ATTACHABLE),
    _d("cgroup/connect4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_CONNECT, F.ATTACHABLE),
    _d("cgroup/connect6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_CONNECT, F.ATTACHABLE),
    _d("cgroup/connect_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_CONNECT, F.ATTACHABLE),
    _d("cgroup/sendmsg4", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_SENDMSG, F.ATTACHABLE),
    _d("cgroup/sendmsg6", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_SENDMSG, F.ATTACHABLE),
    _d("cgroup/sendmsg_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_SENDMSG, F.ATTACHABLE),
    _d("cgroup/recvmsg4", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_RECVMSG, F.ATTACHABLE),
    _d("cgroup/recvmsg6", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_RECVMSG, F.ATTACHABLE),
    _d("cgroup/recvmsg_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_RECVMSG, F.ATTACHABLE),
    _d("cgroup/getpeername4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETPEERNAME, F.ATTACHABLE),
    _d("cgroup/getpeername6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETPEERNAME, F.ATTACHABLE),
    _d("cgroup/getpeername_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETPEERNAME, F.ATTACHABLE),
    _d("cgroup/getsockname4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETSOCKNAME, F.ATTACHABLE),
    _d("cgroup/getsockname6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETSOCKNAME, F.ATTACHABLE),
    _d("cgroup/getsockname_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETSOCKNAME, F.ATTACHABLE),
    _d("cgroup/sysctl", P.CGROUP_SYSCTL, A.CGROUP_SYSCTL, F.ATTACHABLE),
    _d("cgroup/getsockopt", P.CGROUP_SOCKOPT, A.CGROUP_GETSOCKOPT, F.ATTACHABLE),
    _d("cgroup/setsockopt", P.CGROUP_SOCKOPT, A.CGROUP_SETSOCKOPT, F.ATTACHABLE),
    _d("cgroup/dev", P.CGROUP_DEVICE, A.CGROUP_DEVICE, ATTACHABLE_OPT),
    _d("struct_ops+", P.STRUCT_OPS, None, F.NONE, K.STRUCT_OPS),
    _d("struct_ops.s+", P.STRUCT_OPS, None, F.SLEEPABLE, K.STRUCT_OPS),
    _d("sk_lookup", P.SK_LOOKUP, A.SK_LOOKUP, F.ATTACHABLE),
    _d("netfilter", P.NETFILTER, A.NETFILTER),
)


def find_sec_def(name: str) -> SecDef | None:
    """The first table entry matching ``name`` (libbpf's order), or None."""
    for sec in SECTION_DEFS:
        if sec.matches(name):
            return sec
    return None


def closest_sections(name: str, n: int = 3) -> list[str]:
    """Known names closest to ``name``, for "did you mean" messages."""
    spellings = [d.pattern.rstrip("+") for d in SECTION_DEFS]
    head = name.split("/", 1)[0]
    found = difflib.get_close_matches(name, spellings, n=n, cutoff=0.5)
    for extra in difflib.get_close_matches(head, spellings, n=n, cutoff=0.5):
        if extra not in found:
            found.append(extra)
    return found[:n]


def lookup_section(name: str) -> SecDef:
    """The entry for ``name``; ObjectParseError naming the closest known names if none."""
    sec = find_sec_def(name)
    if sec is None:
        close = closest_sections(name)
        hint = f"did you mean {', '.join(repr(c) for c in close)}?" if close else None
        raise ObjectParseError("unknown program section name", section=name, hint=hint)
    return sec


# -- attach targets ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AttachTarget:
    """What the extras of a section name say to attach to.

    Only the fields meaningful for the section's :class:`AttachKind` are set:
    ``tracepoint/<category>/<name>``, ``kprobe/<name>[+offset]``,
    ``uprobe/<path>:<symbol>[+offset]``, ``usdt/<path>:<provider>:<name>``,
    ``kprobe.multi/<pattern>`` (in ``name``), ``fentry/<name>``...
    """

    kind: AttachKind
    raw: str
    name: str | None = None
    category: str | None = None
    path: str | None = None
    symbol: str | None = None
    offset: int | None = None
    provider: str | None = None
    problem: str | None = None
    """Why the extras cannot say where to attach (malformed for this kind), else None.

    libbpf opens such an object and fails only when auto-attaching (the program
    can still be attached by hand, e.g. ``SEC("uprobe/func")`` with the binary
    given at attach time); pybpf does the same: the target is kept with its
    ``raw`` text and this reason, and auto-attach refuses it.
    """


_FUNC_OFF = re.compile(r"^(?P<sym>[^+]*)(?:\+(?P<off>0[xX][0-9a-fA-F]+|\d+))?$")


def _split_offset(text: str) -> tuple[str, int | None] | None:
    m = _FUNC_OFF.match(text)
    if m is None:
        return None
    off = m.group("off")
    return m.group("sym"), (int(off, 0) if off is not None else None)


_FORMATS = {
    AttachKind.TRACEPOINT: "tracepoint/<category>/<name>",
    AttachKind.KPROBE: "kprobe/<function>[+<offset>]",
    AttachKind.UPROBE: "uprobe/<path>:<symbol>[+<offset>]",
    AttachKind.MULTI_UPROBE: "uprobe.multi/<path>:<pattern>",
    AttachKind.USDT: "usdt/<path>:<provider>:<name>",
}


def parse_attach_target(sec: SecDef, section: str) -> AttachTarget | None:
    """Parse the extras of ``section`` (matched by ``sec``); None when there are none.

    Malformed extras do not make the object unreadable (libbpf only notices them
    when auto-attaching): the target comes back with ``problem`` set.
    """
    if sec.attach is AttachKind.NONE:
        return None
    extras = sec.extras(section)
    if not extras:
        return None
    kind = sec.attach
    target = _parse_extras(kind, extras)
    if target is None:
        return AttachTarget(kind, extras, problem=f"expected {_FORMATS[kind]}, got {section!r}")
    return target


def _parse_extras(kind: AttachKind, extras: str) -> AttachTarget | None:
    """The target ``extras`` spell for ``kind``; None when they are malformed."""
    if kind is AttachKind.TRACEPOINT:
        category, sep, name = extras.partition("/")
        if not sep or not category or not name:
            return None
        return AttachTarget(kind, extras, name=name, category=category)
    if kind is AttachKind.KPROBE:
        split = _split_offset(extras)
        if split is None or not split[0]:
            return None
        return AttachTarget(kind, extras, name=split[0], symbol=split[0], offset=split[1])
    if kind is AttachKind.UPROBE:
        path, sep, rest = extras.rpartition(":")
        split = _split_offset(rest)
        if not sep or not path or split is None:
            return None
        sym, off = split
        return AttachTarget(kind, extras, name=sym or None, path=path, symbol=sym or None, offset=off)
    if kind is AttachKind.MULTI_UPROBE:
        path, sep, pattern = extras.partition(":")
        if not sep or not path or not pattern:
            return None
        return AttachTarget(kind, extras, name=pattern, path=path, symbol=pattern)
    if kind is AttachKind.USDT:
        parts = extras.rsplit(":", 2)
        if len(parts) != 3 or not all(parts):
            return None
        return AttachTarget(kind, extras, name=parts[2], path=parts[0], provider=parts[1])
    # MULTI_KPROBE, SYSCALL, RAW_TRACEPOINT, BTF, STRUCT_OPS: one name
    return AttachTarget(kind, extras, name=extras)
