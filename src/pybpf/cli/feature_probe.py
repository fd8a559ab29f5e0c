"""``feature probe`` on the running kernel: which program types, map types and helpers it has.

Each probe asks the kernel for the smallest thing of that kind it must accept
when it knows the kind: a map of that type with the sizes and flags its type
requires (uapi bpf.h and the map types' documented constraints), a two-instruction
program of that type with the attach type it needs, and per program type one
program per helper that calls it.  A helper counts as available unless the
verifier says the call is unknown ("invalid func", "unknown func"), whatever
else it dislikes about the bogus arguments, which is how bpftool decides too.
"""

from __future__ import annotations

import errno
import struct
from typing import Any

from ..errors import BPFError
from ..isa import Instruction
from ..uapi import HELPER_NAMES, AttachType, MapType, ProgType

ENOTSUPP = 524  # the kernel's internal "known but not supported this way" errno
BPF_F_NO_PREALLOC = 1
BPF_F_MMAPABLE = 1 << 10
BPF_F_SLEEPABLE = 1 << 4
_RET0 = [Instruction(0xB7, 0, 0, 0, 0), Instruction(0x95, 0, 0, 0, 0)]

# map type -> (key size, value size, max entries, flags); anything unlisted: (4, 4, 1, 0)
_MAP_SHAPES: dict[MapType, tuple[int, int, int, int]] = {
    MapType.STACK_TRACE: (4, 8, 1, 0),
    MapType.LPM_TRIE: (8, 8, 1, BPF_F_NO_PREALLOC),
    MapType.CGROUP_STORAGE: (8, 8, 0, 0),
    MapType.PERCPU_CGROUP_STORAGE: (8, 8, 0, 0),
    MapType.QUEUE: (0, 4, 1, 0),
    MapType.STACK: (0, 4, 1, 0),
    MapType.BLOOM_FILTER: (0, 4, 1, 0),
    MapType.RINGBUF: (0, 0, 4096, 0),
    MapType.USER_RINGBUF: (0, 0, 4096, 0),
    MapType.SK_STORAGE: (4, 4, 0, BPF_F_NO_PREALLOC),
    MapType.INODE_STORAGE: (4, 4, 0, BPF_F_NO_PREALLOC),
    MapType.TASK_STORAGE: (4, 4, 0, BPF_F_NO_PREALLOC),
    MapType.CGRP_STORAGE: (4, 4, 0, BPF_F_NO_PREALLOC),
    MapType.ARENA: (0, 0, 1, BPF_F_MMAPABLE),
}
_LOCAL_STORAGE = frozenset(
    {MapType.SK_STORAGE, MapType.INODE_STORAGE, MapType.TASK_STORAGE, MapType.CGRP_STORAGE}
)
_MAP_OF_MAPS = frozenset({MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS})

# program type -> what its load needs besides the two instructions
_PROG_NEEDS: dict[ProgType, dict[str, Any]] = {
    ProgType.CGROUP_SOCK_ADDR: {"expected_attach_type": AttachType.CGROUP_INET4_CONNECT},
    ProgType.CGROUP_SOCKOPT: {"expected_attach_type": AttachType.CGROUP_GETSOCKOPT},
    ProgType.SK_LOOKUP: {"expected_attach_type": AttachType.SK_LOOKUP},
    ProgType.NETFILTER: {"expected_attach_type": AttachType.NETFILTER},
    ProgType.SYSCALL: {"prog_flags": BPF_F_SLEEPABLE},
}
# types that need a BTF hook: loaded with a made-up attach_btf_id, the kernel's refusal
# says whether it knows the type (errno, and a log line only a known type produces)
_BTF_HOOKED: dict[ProgType, tuple[dict[str, Any], int, str]] = {
    ProgType.TRACING: ({"expected_attach_type": AttachType.TRACE_FENTRY}, errno.EINVAL, "is not a function"),
    ProgType.LSM: ({"expected_attach_type": AttachType.LSM_MAC}, errno.EINVAL, "is not a function"),
    ProgType.EXT: ({}, errno.EINVAL, ""),
    ProgType.STRUCT_OPS: ({}, ENOTSUPP, ""),
}
_UNKNOWN_HELPER = ("invalid func ", "unknown func ")
# helpers whose call writes to the kernel log: listed only with ``full``, as bpftool does
NOISY_HELPERS = frozenset({"trace_printk", "trace_vprintk", "probe_write_user"})


def _int_btf() -> bytes:
    """Raw BTF with one type, [1] INT 'int' size 4: the key and value of a local-storage probe."""
    strings = b"\0int\0"
    types = struct.pack("<IIII", 1, 1 << 24, 4, (1 << 24) | 32)  # name "int", INT, size 4, signed 32 bits
    header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings))
    return header + types + strings


def probe_map_type(map_type: MapType) -> bool:
    from ..kernel.btf_load import load_btf
    from ..kernel.maps import create_map

    key, value, entries, flags = _MAP_SHAPES.get(map_type, (4, 4, 1, 0))
    opened: list[Any] = []
    kwargs: dict[str, Any] = {"flags": flags}
    try:
        if map_type in _LOCAL_STORAGE:
            btf = load_btf(_int_btf())
            opened.append(btf)
            kwargs.update(btf_fd=btf.fd, btf_key_type_id=1, btf_value_type_id=1)
        if map_type in _MAP_OF_MAPS:
            inner = create_map(MapType.ARRAY, 4, 4, 1)
            opened.append(inner)
            kwargs["inner_map_fd"] = inner.fd
        if map_type == MapType.STRUCT_OPS:
            kwargs["btf_vmlinux_value_type_id"] = 1
        try:
            create_map(map_type, key, value, entries, **kwargs).close()
        except BPFError as exc:
            # a struct_ops map with a made-up value type: ENOTSUPP means the type is known
            return map_type == MapType.STRUCT_OPS and getattr(exc, "errno", None) == ENOTSUPP
        return True
    except BPFError:
        return False
    finally:
        for obj in opened:
            obj.close()


def _load(prog_type: ProgType, insns: list[Instruction], **kwargs: Any) -> tuple[bool, int | None, str]:
    """(loaded, errno, verifier log) of one probe program."""
    from ..kernel.progs import load_program

    try:
        load_program(insns, prog_type, license="GPL", **kwargs).close()
        return True, None, ""
    except BPFError as exc:
        return False, getattr(exc, "errno", None), str(getattr(exc, "log", "") or "")


def probe_prog_type(prog_type: ProgType) -> bool:
    hooked = _BTF_HOOKED.get(prog_type)
    if hooked is None:
        ok, _, _ = _load(prog_type, _RET0, **_PROG_NEEDS.get(prog_type, {}))
        return ok
    extra, want_errno, want_log = hooked
    ok, err, log = _load(prog_type, _RET0, attach_btf_id=1, **extra)
    return ok or (err == want_errno and want_log in log)


def probe_helpers(prog_type: ProgType, *, full: bool = False) -> list[str]:
    """The helpers a ``prog_type`` program may call on this kernel."""
    needs = _PROG_NEEDS.get(prog_type, {})
    out = []
    for helper_id, name in enumerate(HELPER_NAMES):
        if not helper_id or not name or (name in NOISY_HELPERS and not full):
            continue
        ok, _, log = _load(prog_type, [Instruction(0x85, 0, 0, 0, helper_id), *_RET0], **needs)
        if ok or not any(marker in log for marker in _UNKNOWN_HELPER):
            out.append(f"bpf_{name}")
    return out


def kernel_features(*, full: bool = False) -> dict[str, Any]:
    """``bpftool -j feature probe kernel``'s program_types, map_types and helpers sections.

    Every program type gets a helper list; it is empty for a type the kernel lacks
    or one that needs a BTF hook to load (as bpftool leaves them empty).
    """
    progs = {f"have_{t.uapi_name}_prog_type": probe_prog_type(t) for t in ProgType if t.value}
    maps = {f"have_{m.uapi_name}_map_type": probe_map_type(m) for m in MapType if m.value}
    helper_lists: dict[str, list[str]] = {}
    for t in ProgType:
        if t.value:
            probe = t not in _BTF_HOOKED and progs[f"have_{t.uapi_name}_prog_type"]
            helper_lists[f"{t.uapi_name}_available_helpers"] = probe_helpers(t, full=full) if probe else []
    return {"program_types": progs, "map_types": maps, "helpers": helper_lists}
