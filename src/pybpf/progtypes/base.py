"""Declarative description of a program type: its context, return codes and helpers.

The kernel decides per program type which bytes of the context a program may read
or write, with which access sizes, which of those reads yield pointers (packet
start/end, a socket) and which helpers it may call.  pybpf keeps those rules as
data (:class:`ProgTypeSpec`) so that the load-time context checker
(:mod:`pybpf.progtypes.ctx_rewrite`), the VM runtime, the CLI and the verifier all
read the same table.

The VM gives the program a context region laid out as the UAPI struct followed by
one 8-byte *pointer slot* per pointer field (:attr:`CtxLayout.shadow_offset`):
a 32-bit load of ``xdp_md.data`` is rewritten at load time into a 64-bit load of
the slot, which is how the kernel turns the same load into a load of
``xdp_buff->data``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from ..uapi import HELPER_IDS, ProgType


class FieldKind(Enum):
    """What a load of the field gives the program."""

    SCALAR = "scalar"
    PACKET = "packet"  # pointer to the first byte of packet data
    PACKET_END = "packet_end"  # pointer one past the last byte
    PACKET_META = "packet_meta"  # pointer to the metadata before the data
    SOCKET = "socket"  # pointer to a struct bpf_sock (or NULL)
    FLOW_KEYS = "flow_keys"  # pointer to struct bpf_flow_keys

    @property
    def is_pointer(self) -> bool:
        return self is not FieldKind.SCALAR


@dataclass(frozen=True, slots=True)
class CtxField:
    """One member (or array of members) of a context struct.

    ``elem_size`` is the member's natural width (``size_default`` in the kernel);
    ``size`` covers the whole array for array members such as ``cb[5]``.
    ``narrow_read``: loads narrower than ``elem_size`` are allowed (the kernel's
    ``bpf_ctx_narrow_access_ok``).  ``any_size``: any aligned access that stays in
    the member is allowed, read or write (``__sk_buff.cb``).
    """

    name: str
    offset: int
    elem_size: int
    count: int = 1
    readable: bool = True
    writable: bool = False
    kind: FieldKind = FieldKind.SCALAR
    narrow_read: bool = True
    any_size: bool = False

    @property
    def size(self) -> int:
        return self.elem_size * self.count

    @property
    def end(self) -> int:
        return self.offset + self.size

    def with_access(self, *, readable: bool | None = None, writable: bool | None = None) -> CtxField:
        """A copy with other permissions (per-program-type variants of one struct)."""
        return CtxField(
            self.name,
            self.offset,
            self.elem_size,
            self.count,
            self.readable if readable is None else readable,
            self.writable if writable is None else writable,
            self.kind,
            self.narrow_read,
            self.any_size,
        )


@dataclass(frozen=True, slots=True)
class CtxLayout:
    """A context struct: its UAPI size and members.

    Bytes not covered by a member (padding, the tracepoint common header) are
    never accessible.  ``min_offset`` blocks a prefix (tracepoint records hide
    their 8-byte common header from programs).
    """

    name: str
    size: int
    fields: tuple[CtxField, ...]
    min_offset: int = 0
    _by_offset: dict[int, CtxField] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        table: dict[int, CtxField] = {}
        for f in self.fields:
            for off in range(f.offset, f.end):
                table[off] = f
        object.__setattr__(self, "_by_offset", table)

    def field_at(self, offset: int) -> CtxField | None:
        """The member covering byte ``offset``, or None for padding / out of range."""
        return self._by_offset.get(offset)

    def field(self, name: str) -> CtxField:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def pointer_fields(self) -> tuple[CtxField, ...]:
        return tuple(f for f in self.fields if f.kind.is_pointer)

    @property
    def shadow_base(self) -> int:
        """Where the 8-byte pointer slots start in the VM's context region."""
        return (self.size + 7) & ~7

    def shadow_offset(self, f: CtxField) -> int:
        """VM-region offset of the 8-byte slot holding pointer field ``f``."""
        index = self.pointer_fields.index(f)
        return self.shadow_base + 8 * index

    @property
    def region_size(self) -> int:
        """Bytes of the VM's context region: the struct plus the pointer slots."""
        return self.shadow_base + 8 * len(self.pointer_fields)


class ReturnKind(Enum):
    """How the kernel reads a program's return value."""

    ACTION = "action"  # an enum of actions (XDP_*, TC_ACT_*)
    TRUNCATE = "truncate"  # socket filter: 0 drops, n keeps the first n bytes
    VERDICT = "verdict"  # cgroup: 1 allow, 0 deny (bit 1: congestion notification)
    ANY = "any"  # tracing: the value is ignored (kprobe: 1 keeps the perf sample)


@dataclass(frozen=True, slots=True)
class ReturnRule:
    """Which return values mean what, and which the verifier accepts."""

    kind: ReturnKind
    names: tuple[tuple[int, str], ...] = ()
    allowed_range: tuple[int, int] | None = None  # inclusive, checked by the verifier
    unknown_means: str | None = None

    def describe(self, value: int) -> str:
        """A human name for a return value (``XDP_PASS``, ``TC_ACT_SHOT``, ``keep 64 bytes``)."""
        value &= 0xFFFFFFFF
        signed = value - (1 << 32) if value & 0x80000000 else value
        for number, name in self.names:
            if number in (value, signed):
                return name
        if self.kind is ReturnKind.TRUNCATE:
            return "drop" if value == 0 else f"keep {value} bytes"
        if self.unknown_means:
            return f"{signed} ({self.unknown_means})"
        return str(signed)

    def accepts(self, value: int) -> bool:
        if self.allowed_range is None:
            return True
        lo, hi = self.allowed_range
        return lo <= (value & 0xFFFFFFFF) <= hi


@dataclass(frozen=True, slots=True)
class ProgTypeSpec:
    """Everything pybpf knows about one program type."""

    prog_type: ProgType
    ctx: CtxLayout
    returns: ReturnRule
    helpers: frozenset[str]
    packet_access: bool = False  # data/data_end loads give packet pointers
    ld_abs: bool = False  # legacy LD_ABS / LD_IND are allowed
    ctx_sized_by_user: bool = False  # tracepoint records: size comes from the format
    description: str = ""

    def allows_helper(self, helper_id: int) -> bool:
        from ..uapi import HELPER_NAMES

        return 0 <= helper_id < len(HELPER_NAMES) and HELPER_NAMES[helper_id] in self.helpers

    @property
    def helper_ids(self) -> frozenset[int]:
        return frozenset(HELPER_IDS[name] for name in self.helpers if name in HELPER_IDS)


# -- helper sets -----------------------------------------------------------
# Names as in uapi.HELPER_NAMES.  These follow the kernel's *_func_proto switch
# statements: every type gets the base set; networking and tracing add their own.

BASE_HELPERS = frozenset(
    {
        "map_lookup_elem",
        "map_update_elem",
        "map_delete_elem",
        "map_push_elem",
        "map_pop_elem",
        "map_peek_elem",
        "map_lookup_percpu_elem",
        "get_prandom_u32",
        "get_smp_processor_id",
        "get_numa_node_id",
        "tail_call",
        "ktime_get_ns",
        "ktime_get_boot_ns",
        "ktime_get_coarse_ns",
        "ktime_get_tai_ns",
        "jiffies64",
        "ringbuf_output",
        "ringbuf_reserve",
        "ringbuf_submit",
        "ringbuf_discard",
        "ringbuf_query",
        "for_each_map_elem",
        "loop",
        "strncmp",
        "spin_lock",
        "spin_unlock",
        "timer_init",
        "timer_set_callback",
        "timer_start",
        "timer_cancel",
        "trace_printk",
        "trace_vprintk",
        "snprintf",
        "probe_read_user",
        "probe_read_kernel",
        "probe_read_user_str",
        "probe_read_kernel_str",
        "get_current_task",
        "get_current_task_btf",
        "get_current_pid_tgid",
        "get_current_uid_gid",
        "get_current_comm",
        "kptr_xchg",
    }
)

TRACING_HELPERS = BASE_HELPERS | frozenset(
    {
        "probe_read",
        "probe_read_str",
        "probe_write_user",
        "perf_event_output",
        "perf_event_read",
        "perf_event_read_value",
        "get_stackid",
        "get_stack",
        "get_func_ip",
        "get_attach_cookie",
        "send_signal",
        "send_signal_thread",
        "get_current_cgroup_id",
        "get_current_ancestor_cgroup_id",
        "current_task_under_cgroup",
        "override_return",
        "task_storage_get",
        "task_storage_delete",
        "get_branch_snapshot",
        "find_vma",
        "copy_from_user",
        "get_func_arg",
        "get_func_ret",
        "get_func_arg_cnt",
    }
)

_SKB_COMMON = frozenset(
    {
        "skb_load_bytes",
        "skb_load_bytes_relative",
        "get_socket_cookie",
        "get_socket_uid",
        "perf_event_output",
        "csum_diff",
        "sk_fullsock",
        "sk_storage_get",
        "sk_storage_delete",
        "skc_lookup_tcp",
        "sk_lookup_tcp",
        "sk_lookup_udp",
        "sk_release",
    }
)

SOCKET_FILTER_HELPERS = BASE_HELPERS | _SKB_COMMON

CGROUP_SKB_HELPERS = SOCKET_FILTER_HELPERS | frozenset(
    {
        "get_local_storage",
        "skb_cgroup_id",
        "skb_ancestor_cgroup_id",
        "tcp_sock",
        "get_listener_sock",
        "skb_ecn_set_ce",
        "get_current_cgroup_id",
    }
)

TC_HELPERS = (
    BASE_HELPERS
    | _SKB_COMMON
    | frozenset(
        {
            "skb_store_bytes",
            "l3_csum_replace",
            "l4_csum_replace",
            "csum_update",
            "csum_level",
            "clone_redirect",
            "redirect",
            "redirect_map",
            "redirect_neigh",
            "redirect_peer",
            "get_cgroup_classid",
            "get_route_realm",
            "get_hash_recalc",
            "set_hash",
            "set_hash_invalid",
            "skb_vlan_push",
            "skb_vlan_pop",
            "skb_change_proto",
            "skb_change_type",
            "skb_change_tail",
            "skb_change_head",
            "skb_pull_data",
            "skb_adjust_room",
            "skb_get_tunnel_key",
            "skb_set_tunnel_key",
            "skb_get_tunnel_opt",
            "skb_set_tunnel_opt",
            "skb_under_cgroup",
            "skb_cgroup_id",
            "skb_ancestor_cgroup_id",
            "skb_get_xfrm_state",
            "fib_lookup",
            "check_mtu",
            "skb_ecn_set_ce",
            "tcp_sock",
            "get_listener_sock",
            "tcp_check_syncookie",
            "tcp_gen_syncookie",
            "sk_assign",
            "skb_set_tstamp",
            "skb_cgroup_classid",
        }
    )
)

XDP_HELPERS = BASE_HELPERS | frozenset(
    {
        "perf_event_output",
        "csum_diff",
        "xdp_adjust_head",
        "xdp_adjust_tail",
        "xdp_adjust_meta",
        "xdp_load_bytes",
        "xdp_store_bytes",
        "xdp_get_buff_len",
        "redirect",
        "redirect_map",
        "fib_lookup",
        "check_mtu",
        "sk_lookup_tcp",
        "sk_lookup_udp",
        "skc_lookup_tcp",
        "sk_release",
        "tcp_check_syncookie",
        "tcp_gen_syncookie",
        "tcp_raw_gen_syncookie_ipv4",
        "tcp_raw_gen_syncookie_ipv6",
        "tcp_raw_check_syncookie_ipv4",
        "tcp_raw_check_syncookie_ipv6",
    }
)
