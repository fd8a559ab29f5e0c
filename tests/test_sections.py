"""The SEC-name table: libbpf's matching rules and attach-target parsing."""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path

import pytest

from pybpf.elf.sections import (
    SECTION_DEFS,
    AttachKind,
    SecDef,
    SecFlag,
    find_sec_def,
    lookup_section,
    parse_attach_target,
)
from pybpf.errors import ObjectParseError
from pybpf.uapi import AttachType as A
from pybpf.uapi import MapType
from pybpf.uapi import ProgType as P

BRIEF_NAMES = [
    "socket",
    "sk_reuseport",
    "sk_reuseport/migrate",
    "kprobe+",
    "uprobe+",
    "uprobe.s+",
    "kretprobe+",
    "uretprobe+",
    "uretprobe.s+",
    "kprobe.multi+",
    "kretprobe.multi+",
    "kprobe.session+",
    "uprobe.multi+",
    "uretprobe.multi+",
    "uprobe.multi.s+",
    "uretprobe.multi.s+",
    "ksyscall+",
    "kretsyscall+",
    "usdt+",
    "usdt.s+",
    "tc/ingress",
    "tc/egress",
    "tcx/ingress",
    "tcx/egress",
    "tc",
    "classifier",
    "action",
    "netkit/primary",
    "netkit/peer",
    "tracepoint+",
    "tp+",
    "raw_tracepoint+",
    "raw_tp+",
    "raw_tracepoint.w+",
    "raw_tp.w+",
    "tp_btf+",
    "fentry+",
    "fmod_ret+",
    "fexit+",
    "fentry.s+",
    "fmod_ret.s+",
    "fexit.s+",
    "freplace+",
    "lsm+",
    "lsm.s+",
    "lsm_cgroup+",
    "iter+",
    "iter.s+",
    "syscall",
    "xdp.frags/devmap",
    "xdp/devmap",
    "xdp.frags/cpumap",
    "xdp/cpumap",
    "xdp.frags",
    "xdp",
    "perf_event",
    "lwt_in",
    "lwt_out",
    "lwt_xmit",
    "lwt_seg6local",
    "sockops",
    "sk_skb/stream_parser",
    "sk_skb/stream_verdict",
    "sk_skb/verdict",
    "sk_skb",
    "sk_msg",
    "lirc_mode2",
    "flow_dissector",
    "cgroup_skb/ingress",
    "cgroup_skb/egress",
    "cgroup/skb",
    "cgroup/sock_create",
    "cgroup/sock_release",
    "cgroup/sock",
    "cgroup/post_bind4",
    "cgroup/post_bind6",
    "cgroup/bind4",
    "cgroup/bind6",
    "cgroup/connect4",
    "cgroup/connect6",
    "cgroup/connect_unix",
    "cgroup/sendmsg4",
    "cgroup/sendmsg6",
    "cgroup/sendmsg_unix",
    "cgroup/recvmsg4",
    "cgroup/recvmsg6",
    "cgroup/recvmsg_unix",
    "cgroup/getpeername4",
    "cgroup/getpeername6",
    "cgroup/getpeername_unix",
    "cgroup/getsockname4",
    "cgroup/getsockname6",
    "cgroup/getsockname_unix",
    "cgroup/sysctl",
    "cgroup/getsockopt",
    "cgroup/setsockopt",
    "cgroup/dev",
    "struct_ops+",
    "struct_ops.s+",
    "sk_lookup",
    "netfilter",
]


def test_every_libbpf_name_is_in_the_table_once() -> None:
    patterns = [d.pattern for d in SECTION_DEFS]
    assert len(patterns) == len(set(patterns))
    assert set(BRIEF_NAMES) <= set(patterns)


@pytest.mark.parametrize("pattern", BRIEF_NAMES)
def test_each_name_matches_its_own_entry(pattern: str) -> None:
    name = pattern.rstrip("+")
    found = find_sec_def(name)
    assert found is not None and found.pattern == pattern


@pytest.mark.parametrize(
    ("name", "prog_type", "eat", "flags"),
    [
        ("socket", P.SOCKET_FILTER, None, SecFlag.NONE),
        ("sk_reuseport/migrate", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT_OR_MIGRATE, SecFlag.ATTACHABLE),
        ("sk_reuseport", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT, SecFlag.ATTACHABLE),
        ("xdp", P.XDP, A.XDP, SecFlag.ATTACHABLE | SecFlag.EXP_ATTACH_OPT),
        ("xdp.frags", P.XDP, A.XDP, SecFlag.XDP_FRAGS),
        ("xdp.frags/devmap", P.XDP, A.XDP_DEVMAP, SecFlag.XDP_FRAGS),
        ("xdp/cpumap", P.XDP, A.XDP_CPUMAP, SecFlag.ATTACHABLE),
        ("tc/ingress", P.SCHED_CLS, A.TCX_INGRESS, SecFlag.NONE),
        ("tcx/egress", P.SCHED_CLS, A.TCX_EGRESS, SecFlag.NONE),
        ("tc", P.SCHED_CLS, None, SecFlag.NONE),
        ("action", P.SCHED_ACT, None, SecFlag.NONE),
        ("fentry.s/tcp_connect", P.TRACING, A.TRACE_FENTRY, SecFlag.ATTACH_BTF | SecFlag.SLEEPABLE),
        ("lsm_cgroup/socket_bind", P.LSM, A.LSM_CGROUP, SecFlag.ATTACH_BTF),
        ("freplace/foo", P.EXT, None, SecFlag.ATTACH_BTF),
        ("syscall", P.SYSCALL, None, SecFlag.SLEEPABLE),
        ("usdt.s/x:p:n", P.KPROBE, None, SecFlag.USDT | SecFlag.SLEEPABLE),
        ("kprobe.session/f", P.KPROBE, A.TRACE_KPROBE_SESSION, SecFlag.NONE),
        ("uprobe.multi.s/p:f*", P.KPROBE, A.TRACE_UPROBE_MULTI, SecFlag.SLEEPABLE),
        (
            "cgroup_skb/ingress",
            P.CGROUP_SKB,
            A.CGROUP_INET_INGRESS,
            SecFlag.ATTACHABLE | SecFlag.EXP_ATTACH_OPT,
        ),
        ("cgroup/skb", P.CGROUP_SKB, None, SecFlag.NONE),
        (
            "cgroup/sock",
            P.CGROUP_SOCK,
            A.CGROUP_INET_SOCK_CREATE,
            SecFlag.ATTACHABLE | SecFlag.EXP_ATTACH_OPT,
        ),
        ("cgroup/getsockname_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETSOCKNAME, SecFlag.ATTACHABLE),
        ("cgroup/dev", P.CGROUP_DEVICE, A.CGROUP_DEVICE, SecFlag.ATTACHABLE | SecFlag.EXP_ATTACH_OPT),
        ("raw_tp.w/sys_exit", P.RAW_TRACEPOINT_WRITABLE, None, SecFlag.NONE),
        ("iter.s/task", P.TRACING, A.TRACE_ITER, SecFlag.ATTACH_BTF | SecFlag.SLEEPABLE),
        ("struct_ops.s/init", P.STRUCT_OPS, None, SecFlag.SLEEPABLE),
        ("sk_lookup", P.SK_LOOKUP, A.SK_LOOKUP, SecFlag.ATTACHABLE),
        ("netfilter", P.NETFILTER, A.NETFILTER, SecFlag.NONE),
        ("netkit/peer", P.SCHED_CLS, A.NETKIT_PEER, SecFlag.NONE),
    ],
)
def test_entries(name: str, prog_type: P, eat: A | None, flags: SecFlag) -> None:
    d = lookup_section(name)
    assert (d.prog_type, d.expected_attach_type, d.flags) == (prog_type, eat, flags)


def test_plus_requires_slash_separator() -> None:
    assert find_sec_def("kprobe") is not None
    assert find_sec_def("kprobe/do_sys_open") is not None
    assert find_sec_def("kprobex") is None  # not "kprobe" + '/'
    assert find_sec_def("kprobe.multi/x").pattern == "kprobe.multi+"  # type: ignore[union-attr]
    assert find_sec_def("xdp/foo") is None  # exact-only entry, no such extras
    assert find_sec_def("socket/1") is None  # old sloppy names are gone (libbpf 1.0)


def test_order_most_specific_first() -> None:
    assert find_sec_def("sk_reuseport/migrate").expected_attach_type == A.SK_REUSEPORT_SELECT_OR_MIGRATE  # type: ignore[union-attr]
    assert find_sec_def("xdp.frags/cpumap").pattern == "xdp.frags/cpumap"  # type: ignore[union-attr]


def test_deprecated_names_still_accepted() -> None:
    for name in ("tc", "classifier", "action"):
        d = lookup_section(name)
        assert d.deprecated


def test_unknown_section_names_closest() -> None:
    with pytest.raises(ObjectParseError) as info:
        lookup_section("kprob/do_unlinkat")
    assert "kprob/do_unlinkat" in str(info.value)
    assert info.value.hint is not None and "kprobe" in info.value.hint
    with pytest.raises(ObjectParseError) as info:
        lookup_section("tracepoin")
    assert "tracepoint" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("tracepoint/syscalls/sys_enter_openat", {"category": "syscalls", "name": "sys_enter_openat"}),
        ("tp/sched/sched_switch", {"category": "sched", "name": "sched_switch"}),
        ("kprobe/do_unlinkat", {"name": "do_unlinkat", "symbol": "do_unlinkat", "offset": None}),
        ("kprobe/tcp_v4_connect+0x10", {"symbol": "tcp_v4_connect", "offset": 16}),
        ("kretprobe/do_unlinkat", {"name": "do_unlinkat"}),
        ("fentry/tcp_connect", {"name": "tcp_connect"}),
        ("tp_btf/sched_switch", {"name": "sched_switch"}),
        ("lsm.s/bprm_committed_creds", {"name": "bprm_committed_creds"}),
        ("raw_tp/sys_enter", {"name": "sys_enter"}),
        ("uprobe//bin/bash:readline", {"path": "/bin/bash", "symbol": "readline", "offset": None}),
        ("uprobe/libc.so.6:malloc+12", {"path": "libc.so.6", "symbol": "malloc", "offset": 12}),
        ("uretprobe.s//usr/bin/x:main", {"path": "/usr/bin/x", "symbol": "main"}),
        (
            "usdt//usr/lib/libc.so.6:libc:setjmp",
            {"path": "/usr/lib/libc.so.6", "provider": "libc", "name": "setjmp"},
        ),
        ("uprobe.multi//bin/bash:read*", {"path": "/bin/bash", "name": "read*"}),
        ("kprobe.multi/tcp_*", {"name": "tcp_*"}),
        ("ksyscall/unlinkat", {"name": "unlinkat"}),
    ],
)
def test_attach_targets(section: str, expected: dict[str, object]) -> None:
    target = parse_attach_target(lookup_section(section), section)
    assert target is not None
    for key, value in expected.items():
        assert getattr(target, key) == value, key


def test_no_extras_no_target() -> None:
    assert parse_attach_target(lookup_section("kprobe"), "kprobe") is None
    assert parse_attach_target(lookup_section("xdp"), "xdp") is None
    assert lookup_section("usdt").attach is AttachKind.USDT


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("tracepoint/onlyone", "tracepoint/<category>/<name>"),
        ("usdt/path:name", "usdt/<path>:<provider>:<name>"),
        ("uprobe/nocolon", "uprobe/<path>:<symbol>[+<offset>]"),
        ("kprobe/func+bad", "kprobe/<function>[+<offset>]"),
        ("uprobe.multi/nopattern", "uprobe.multi/<path>:<pattern>"),
    ],
)
def test_bad_extras_keep_the_section_usable(section: str, expected: str) -> None:
    """Like libbpf: malformed extras only stop auto-attach, not the object."""
    target = parse_attach_target(lookup_section(section), section)
    assert target is not None and target.raw == section.split("/", 1)[1]
    assert target.problem == f"expected {expected}, got {section!r}"
    assert (target.name, target.path, target.symbol, target.category) == (None, None, None, None)
    good = parse_attach_target(lookup_section("uprobe//bin/sh:main"), "uprobe//bin/sh:main")
    assert good is not None and good.problem is None


# libbpf's documented table ("Program Types and ELF Sections"), row by row, spelled
# as the kernel's UAPI enumerators: section -> (program type, attach type, sleepable).
# Independent of SECTION_DEFS so a wrong row there is caught.
DOCUMENTED: dict[str, tuple[str, str | None, bool]] = {
    "socket": ("SOCKET_FILTER", None, False),
    "sk_reuseport/migrate": ("SK_REUSEPORT", "SK_REUSEPORT_SELECT_OR_MIGRATE", False),
    "sk_reuseport": ("SK_REUSEPORT", "SK_REUSEPORT_SELECT", False),
    "kprobe+": ("KPROBE", None, False),
    "uprobe+": ("KPROBE", None, False),
    "uprobe.s+": ("KPROBE", None, True),
    "kretprobe+": ("KPROBE", None, False),
    "uretprobe+": ("KPROBE", None, False),
    "uretprobe.s+": ("KPROBE", None, True),
    "kprobe.multi+": ("KPROBE", "TRACE_KPROBE_MULTI", False),
    "kretprobe.multi+": ("KPROBE", "TRACE_KPROBE_MULTI", False),
    "kprobe.session+": ("KPROBE", "TRACE_KPROBE_SESSION", False),
    "uprobe.multi+": ("KPROBE", "TRACE_UPROBE_MULTI", False),
    "uretprobe.multi+": ("KPROBE", "TRACE_UPROBE_MULTI", False),
    "uprobe.session+": ("KPROBE", "TRACE_UPROBE_SESSION", False),
    "uprobe.multi.s+": ("KPROBE", "TRACE_UPROBE_MULTI", True),
    "uretprobe.multi.s+": ("KPROBE", "TRACE_UPROBE_MULTI", True),
    "uprobe.session.s+": ("KPROBE", "TRACE_UPROBE_SESSION", True),
    "ksyscall+": ("KPROBE", None, False),
    "kretsyscall+": ("KPROBE", None, False),
    "usdt+": ("KPROBE", None, False),
    "usdt.s+": ("KPROBE", None, True),
    "tc/ingress": ("SCHED_CLS", "TCX_INGRESS", False),
    "tc/egress": ("SCHED_CLS", "TCX_EGRESS", False),
    "tcx/ingress": ("SCHED_CLS", "TCX_INGRESS", False),
    "tcx/egress": ("SCHED_CLS", "TCX_EGRESS", False),
    "tc": ("SCHED_CLS", None, False),
    "classifier": ("SCHED_CLS", None, False),
    "action": ("SCHED_ACT", None, False),
    "netkit/primary": ("SCHED_CLS", "NETKIT_PRIMARY", False),
    "netkit/peer": ("SCHED_CLS", "NETKIT_PEER", False),
    "tracepoint+": ("TRACEPOINT", None, False),
    "tp+": ("TRACEPOINT", None, False),
    "raw_tracepoint+": ("RAW_TRACEPOINT", None, False),
    "raw_tp+": ("RAW_TRACEPOINT", None, False),
    "raw_tracepoint.w+": ("RAW_TRACEPOINT_WRITABLE", None, False),
    "raw_tp.w+": ("RAW_TRACEPOINT_WRITABLE", None, False),
    "tp_btf+": ("TRACING", "TRACE_RAW_TP", False),
    "fentry+": ("TRACING", "TRACE_FENTRY", False),
    "fmod_ret+": ("TRACING", "MODIFY_RETURN", False),
    "fexit+": ("TRACING", "TRACE_FEXIT", False),
    "fentry.s+": ("TRACING", "TRACE_FENTRY", True),
    "fmod_ret.s+": ("TRACING", "MODIFY_RETURN", True),
    "fexit.s+": ("TRACING", "TRACE_FEXIT", True),
    "freplace+": ("EXT", None, False),
    "lsm+": ("LSM", "LSM_MAC", False),
    "lsm.s+": ("LSM", "LSM_MAC", True),
    "lsm_cgroup+": ("LSM", "LSM_CGROUP", False),
    "iter+": ("TRACING", "TRACE_ITER", False),
    "iter.s+": ("TRACING", "TRACE_ITER", True),
    "syscall": ("SYSCALL", None, True),
    "xdp.frags/devmap": ("XDP", "XDP_DEVMAP", False),
    "xdp/devmap": ("XDP", "XDP_DEVMAP", False),
    "xdp.frags/cpumap": ("XDP", "XDP_CPUMAP", False),
    "xdp/cpumap": ("XDP", "XDP_CPUMAP", False),
    "xdp.frags": ("XDP", "XDP", False),
    "xdp": ("XDP", "XDP", False),
    "perf_event": ("PERF_EVENT", None, False),
    "lwt_in": ("LWT_IN", None, False),
    "lwt_out": ("LWT_OUT", None, False),
    "lwt_xmit": ("LWT_XMIT", None, False),
    "lwt_seg6local": ("LWT_SEG6LOCAL", None, False),
    "sockops": ("SOCK_OPS", "CGROUP_SOCK_OPS", False),
    "sk_skb/stream_parser": ("SK_SKB", "SK_SKB_STREAM_PARSER", False),
    "sk_skb/stream_verdict": ("SK_SKB", "SK_SKB_STREAM_VERDICT", False),
    "sk_skb/verdict": ("SK_SKB", "SK_SKB_VERDICT", False),
    "sk_skb": ("SK_SKB", None, False),
    "sk_msg": ("SK_MSG", "SK_MSG_VERDICT", False),
    "lirc_mode2": ("LIRC_MODE2", "LIRC_MODE2", False),
    "flow_dissector": ("FLOW_DISSECTOR", "FLOW_DISSECTOR", False),
    "cgroup_skb/ingress": ("CGROUP_SKB", "CGROUP_INET_INGRESS", False),
    "cgroup_skb/egress": ("CGROUP_SKB", "CGROUP_INET_EGRESS", False),
    "cgroup/skb": ("CGROUP_SKB", None, False),
    "cgroup/sock_create": ("CGROUP_SOCK", "CGROUP_INET_SOCK_CREATE", False),
    "cgroup/sock_release": ("CGROUP_SOCK", "CGROUP_INET_SOCK_RELEASE", False),
    "cgroup/sock": ("CGROUP_SOCK", "CGROUP_INET_SOCK_CREATE", False),
    "cgroup/post_bind4": ("CGROUP_SOCK", "CGROUP_INET4_POST_BIND", False),
    "cgroup/post_bind6": ("CGROUP_SOCK", "CGROUP_INET6_POST_BIND", False),
    "cgroup/bind4": ("CGROUP_SOCK_ADDR", "CGROUP_INET4_BIND", False),
    "cgroup/bind6": ("CGROUP_SOCK_ADDR", "CGROUP_INET6_BIND", False),
    "cgroup/connect4": ("CGROUP_SOCK_ADDR", "CGROUP_INET4_CONNECT", False),
    "cgroup/connect6": ("CGROUP_SOCK_ADDR", "CGROUP_INET6_CONNECT", False),
    "cgroup/connect_unix": ("CGROUP_SOCK_ADDR", "CGROUP_UNIX_CONNECT", False),
    "cgroup/sendmsg4": ("CGROUP_SOCK_ADDR", "CGROUP_UDP4_SENDMSG", False),
    "cgroup/sendmsg6": ("CGROUP_SOCK_ADDR", "CGROUP_UDP6_SENDMSG", False),
    "cgroup/sendmsg_unix": ("CGROUP_SOCK_ADDR", "CGROUP_UNIX_SENDMSG", False),
    "cgroup/recvmsg4": ("CGROUP_SOCK_ADDR", "CGROUP_UDP4_RECVMSG", False),
    "cgroup/recvmsg6": ("CGROUP_SOCK_ADDR", "CGROUP_UDP6_RECVMSG", False),
    "cgroup/recvmsg_unix": ("CGROUP_SOCK_ADDR", "CGROUP_UNIX_RECVMSG", False),
    "cgroup/getpeername4": ("CGROUP_SOCK_ADDR", "CGROUP_INET4_GETPEERNAME", False),
    "cgroup/getpeername6": ("CGROUP_SOCK_ADDR", "CGROUP_INET6_GETPEERNAME", False),
    "cgroup/getpeername_unix": ("CGROUP_SOCK_ADDR", "CGROUP_UNIX_GETPEERNAME", False),
    "cgroup/getsockname4": ("CGROUP_SOCK_ADDR", "CGROUP_INET4_GETSOCKNAME", False),
    "cgroup/getsockname6": ("CGROUP_SOCK_ADDR", "CGROUP_INET6_GETSOCKNAME", False),
    "cgroup/getsockname_unix": ("CGROUP_SOCK_ADDR", "CGROUP_UNIX_GETSOCKNAME", False),
    "cgroup/sysctl": ("CGROUP_SYSCTL", "CGROUP_SYSCTL", False),
    "cgroup/getsockopt": ("CGROUP_SOCKOPT", "CGROUP_GETSOCKOPT", False),
    "cgroup/setsockopt": ("CGROUP_SOCKOPT", "CGROUP_SETSOCKOPT", False),
    "cgroup/dev": ("CGROUP_DEVICE", "CGROUP_DEVICE", False),
    "struct_ops+": ("STRUCT_OPS", None, False),
    "struct_ops.s+": ("STRUCT_OPS", None, True),
    "sk_lookup": ("SK_LOOKUP", "SK_LOOKUP", False),
    "netfilter": ("NETFILTER", "NETFILTER", False),
}


def test_table_is_exactly_the_documented_rows() -> None:
    assert [d.pattern for d in SECTION_DEFS] == list(DOCUMENTED)  # libbpf's order too


@pytest.mark.parametrize("sec", SECTION_DEFS, ids=lambda d: d.pattern)
def test_row_matches_documentation(sec: SecDef) -> None:
    prog, attach, sleepable = DOCUMENTED[sec.pattern]
    assert sec.prog_type.name == prog
    assert (sec.expected_attach_type.name if sec.expected_attach_type is not None else None) == attach
    assert sec.sleepable is sleepable
    # what `object show` prints: bpftool's lowercase spellings
    assert sec.prog_type.uapi_name == prog.lower()


@pytest.mark.skipif(not Path("/sys/kernel/btf/vmlinux").exists(), reason="no kernel BTF")
@pytest.mark.parametrize(
    ("enum", "kernel_enum", "prefix"),
    [
        (P, "bpf_prog_type", "BPF_PROG_TYPE_"),
        (MapType, "bpf_map_type", "BPF_MAP_TYPE_"),
        (A, "bpf_attach_type", "BPF_"),
    ],
    ids=["prog_type", "map_type", "attach_type"],
)
def test_uapi_enums_are_the_running_kernels(enum: type[IntEnum], kernel_enum: str, prefix: str) -> None:
    """Names and numbers of the program, map and attach types are the kernel's own.

    The running kernel's BTF has the enums of its UAPI (newer than the distro
    header): every enumerator pybpf knows has the kernel's value and name, and pybpf
    knows every one the kernel has.
    """
    from pybpf.btf import BTF

    kernel = {
        v.name.removeprefix(prefix): v.value
        for v in BTF.from_file("/sys/kernel/btf/vmlinux").find(kernel_enum).values
        if not v.name.startswith("__MAX")
    }
    # the UAPI keeps old names as aliases (BPF_MAP_TYPE_CGROUP_STORAGE_DEPRECATED = 19 beside
    # BPF_MAP_TYPE_CGROUP_STORAGE = 19): one name per value, the one bpftool prints
    kernel = {
        k: v
        for k, v in kernel.items()
        if not k.endswith("_DEPRECATED") or k.removesuffix("_DEPRECATED") not in kernel
    }
    ours = {m.name: m.value for m in enum}
    assert ours == kernel


def test_type_slash_requires_extras() -> None:
    """The ``type/`` form (no row uses it today) matches only with extras after the '/'."""
    d = SecDef("custom/", P.KPROBE, None)
    assert d.matches("custom/x") and d.extras("custom/x") == "x"
    assert not d.matches("custom/") and not d.matches("custom") and not d.matches("customx")
    plus = SecDef("custom+", P.KPROBE, None)
    assert plus.matches("custom") and plus.matches("custom/x") and not plus.matches("customx")
    exact = SecDef("custom", P.KPROBE, None)
    assert exact.matches("custom") and not exact.matches("custom/x")
