"""ctypes layouts of the ``union bpf_attr`` variants and the info structures.

One Structure per command instead of the whole union: the kernel accepts an attr
shorter than its own (it zero-fills the rest) and refuses a longer one only when
the unknown tail is non-zero, so each command passes exactly the fields it uses.
Layouts follow the current kernel UAPI (include/uapi/linux/bpf.h, 6.18), which
extends the 6.1 header installed here; ``c_uint64`` fields are 8-aligned on the
supported 64-bit ABIs, matching ``__aligned_u64``.
"""

from __future__ import annotations

import ctypes

u8 = ctypes.c_uint8
u16 = ctypes.c_uint16
u32 = ctypes.c_uint32
s32 = ctypes.c_int32
u64 = ctypes.c_uint64

OBJ_NAME_LEN = 16
TAG_SIZE = 8


class MapCreateAttr(ctypes.Structure):
    _fields_ = [
        ("map_type", u32),
        ("key_size", u32),
        ("value_size", u32),
        ("max_entries", u32),
        ("map_flags", u32),
        ("inner_map_fd", u32),
        ("numa_node", u32),
        ("map_name", ctypes.c_char * OBJ_NAME_LEN),
        ("map_ifindex", u32),
        ("btf_fd", u32),
        ("btf_key_type_id", u32),
        ("btf_value_type_id", u32),
        ("btf_vmlinux_value_type_id", u32),
        ("map_extra", u64),
        ("value_type_btf_obj_fd", s32),
        ("map_token_fd", s32),
    ]


class MapElemAttr(ctypes.Structure):
    _fields_ = [
        ("map_fd", u32),
        ("key", u64),
        ("value", u64),  # also next_key
        ("flags", u64),
    ]


class MapBatchAttr(ctypes.Structure):
    _fields_ = [
        ("in_batch", u64),
        ("out_batch", u64),
        ("keys", u64),
        ("values", u64),
        ("count", u32),
        ("map_fd", u32),
        ("elem_flags", u64),
        ("flags", u64),
    ]


class FdAttr(ctypes.Structure):
    """Commands whose attr is a single fd (MAP_FREEZE, LINK_DETACH)."""

    _fields_ = [("fd", u32)]


class ProgLoadAttr(ctypes.Structure):
    _fields_ = [
        ("prog_type", u32),
        ("insn_cnt", u32),
        ("insns", u64),
        ("license", u64),
        ("log_level", u32),
        ("log_size", u32),
        ("log_buf", u64),
        ("kern_version", u32),
        ("prog_flags", u32),
        ("prog_name", ctypes.c_char * OBJ_NAME_LEN),
        ("prog_ifindex", u32),
        ("expected_attach_type", u32),
        ("prog_btf_fd", u32),
        ("func_info_rec_size", u32),
        ("func_info", u64),
        ("func_info_cnt", u32),
        ("line_info_rec_size", u32),
        ("line_info", u64),
        ("line_info_cnt", u32),
        ("attach_btf_id", u32),
        ("attach_prog_fd", u32),  # also attach_btf_obj_fd
        ("core_relo_cnt", u32),
        ("fd_array", u64),
        ("core_relos", u64),
        ("core_relo_rec_size", u32),
        ("log_true_size", u32),
        ("prog_token_fd", s32),
        ("fd_array_cnt", u32),
    ]


class ObjPinAttr(ctypes.Structure):
    _fields_ = [
        ("pathname", u64),
        ("bpf_fd", u32),
        ("file_flags", u32),
        ("path_fd", s32),
    ]


class ProgAttachAttr(ctypes.Structure):
    """BPF_PROG_ATTACH / BPF_PROG_DETACH (legacy, non-link attachment)."""

    _fields_ = [
        ("target_fd", u32),
        ("attach_bpf_fd", u32),
        ("attach_type", u32),
        ("attach_flags", u32),
        ("replace_bpf_fd", u32),
    ]


class ProgQueryAttr(ctypes.Structure):
    """BPF_PROG_QUERY: what is attached to a target (an fd, or an ifindex for tcx)."""

    _fields_ = [
        ("target", u32),  # target_fd or target_ifindex
        ("attach_type", u32),
        ("query_flags", u32),
        ("attach_flags", u32),
        ("prog_ids", u64),
        ("count", u32),  # in: room in the arrays; out: how many are attached
        ("_pad", u32),
        ("prog_attach_flags", u64),
        ("link_ids", u64),
        ("link_attach_flags", u64),
        ("revision", u64),
    ]


class TestRunAttr(ctypes.Structure):
    _fields_ = [
        ("prog_fd", u32),
        ("retval", u32),
        ("data_size_in", u32),
        ("data_size_out", u32),
        ("data_in", u64),
        ("data_out", u64),
        ("repeat", u32),
        ("duration", u32),
        ("ctx_size_in", u32),
        ("ctx_size_out", u32),
        ("ctx_in", u64),
        ("ctx_out", u64),
        ("flags", u32),
        ("cpu", u32),
        ("batch_size", u32),
    ]


class GetIdAttr(ctypes.Structure):
    """*_GET_NEXT_ID and *_GET_FD_BY_ID."""

    _fields_ = [
        ("id", u32),  # start_id / prog_id / map_id / btf_id / link_id
        ("next_id", u32),
        ("open_flags", u32),
    ]


class InfoAttr(ctypes.Structure):
    _fields_ = [
        ("bpf_fd", u32),
        ("info_len", u32),
        ("info", u64),
    ]


class RawTracepointAttr(ctypes.Structure):
    _fields_ = [
        ("name", u64),
        ("prog_fd", u32),
        ("_pad", u32),
        ("cookie", u64),
    ]


class BtfLoadAttr(ctypes.Structure):
    _fields_ = [
        ("btf", u64),
        ("btf_log_buf", u64),
        ("btf_size", u32),
        ("btf_log_size", u32),
        ("btf_log_level", u32),
        ("btf_log_true_size", u32),
        ("btf_flags", u32),
        ("btf_token_fd", s32),
    ]


class LinkCreateTail(ctypes.Union):
    """The per-attach-type union at offset 16 of link_create (48 bytes)."""

    class _Tracing(ctypes.Structure):
        _fields_ = [("target_btf_id", u32), ("cookie", u64)]

    class _Relative(ctypes.Structure):
        """tcx / netkit / cgroup link ordering."""

        _fields_ = [("relative_fd", u32), ("expected_revision", u64)]

    class _Iter(ctypes.Structure):
        _fields_ = [("iter_info", u64), ("iter_info_len", u32)]

    class _KprobeMulti(ctypes.Structure):
        _fields_ = [("flags", u32), ("cnt", u32), ("syms", u64), ("addrs", u64), ("cookies", u64)]

    class _Netfilter(ctypes.Structure):
        _fields_ = [("pf", u32), ("hooknum", u32), ("priority", s32), ("flags", u32)]

    _fields_ = [
        ("target_btf_id", u32),
        ("perf_event_cookie", u64),
        ("tracing", _Tracing),
        ("relative", _Relative),
        ("iter", _Iter),
        ("kprobe_multi", _KprobeMulti),
        ("netfilter", _Netfilter),
        ("_size", u8 * 48),
    ]


class LinkCreateAttr(ctypes.Structure):
    _fields_ = [
        ("prog_fd", u32),  # also map_fd (struct_ops)
        ("target_fd", u32),  # also target_ifindex
        ("attach_type", u32),
        ("flags", u32),
        ("tail", LinkCreateTail),
    ]


class EnableStatsAttr(ctypes.Structure):
    _fields_ = [("type", u32)]


# -- info structures -------------------------------------------------------


class ProgInfoStruct(ctypes.Structure):
    _fields_ = [
        ("type", u32),
        ("id", u32),
        ("tag", u8 * TAG_SIZE),
        ("jited_prog_len", u32),
        ("xlated_prog_len", u32),
        ("jited_prog_insns", u64),
        ("xlated_prog_insns", u64),
        ("load_time", u64),
        ("created_by_uid", u32),
        ("nr_map_ids", u32),
        ("map_ids", u64),
        ("name", ctypes.c_char * OBJ_NAME_LEN),
        ("ifindex", u32),
        ("gpl_compatible", u32),  # bit 0
        ("netns_dev", u64),
        ("netns_ino", u64),
        ("nr_jited_ksyms", u32),
        ("nr_jited_func_lens", u32),
        ("jited_ksyms", u64),
        ("jited_func_lens", u64),
        ("btf_id", u32),
        ("func_info_rec_size", u32),
        ("func_info", u64),
        ("nr_func_info", u32),
        ("nr_line_info", u32),
        ("line_info", u64),
        ("jited_line_info", u64),
        ("nr_jited_line_info", u32),
        ("line_info_rec_size", u32),
        ("jited_line_info_rec_size", u32),
        ("nr_prog_tags", u32),
        ("prog_tags", u64),
        ("run_time_ns", u64),
        ("run_cnt", u64),
        ("recursion_misses", u64),
        ("verified_insns", u32),
        ("attach_btf_obj_id", u32),
        ("attach_btf_id", u32),
        ("_pad", u32),
    ]


class MapInfoStruct(ctypes.Structure):
    _fields_ = [
        ("type", u32),
        ("id", u32),
        ("key_size", u32),
        ("value_size", u32),
        ("max_entries", u32),
        ("map_flags", u32),
        ("name", ctypes.c_char * OBJ_NAME_LEN),
        ("ifindex", u32),
        ("btf_vmlinux_value_type_id", u32),
        ("netns_dev", u64),
        ("netns_ino", u64),
        ("btf_id", u32),
        ("btf_key_type_id", u32),
        ("btf_value_type_id", u32),
        ("btf_vmlinux_id", u32),
        ("map_extra", u64),
    ]


class BtfInfoStruct(ctypes.Structure):
    _fields_ = [
        ("btf", u64),
        ("btf_size", u32),
        ("id", u32),
        ("name", u64),
        ("name_len", u32),
        ("kernel_btf", u32),
    ]


class LinkInfoStruct(ctypes.Structure):
    """Common head plus the per-type union kept as raw words (parsed in inspect.py)."""

    _fields_ = [
        ("type", u32),
        ("id", u32),
        ("prog_id", u32),
        ("_pad", u32),
        ("u", u64 * 8),
    ]


# -- perf_event_open -------------------------------------------------------


class PerfEventAttr(ctypes.Structure):
    """struct perf_event_attr up to PERF_ATTR_SIZE_VER8 (136 bytes)."""

    _fields_ = [
        ("type", u32),
        ("size", u32),
        ("config", u64),
        ("sample_period", u64),  # also sample_freq
        ("sample_type", u64),
        ("read_format", u64),
        ("flags", u64),  # disabled:1, inherit:1, ... bitfield word
        ("wakeup_events", u32),  # also wakeup_watermark
        ("bp_type", u32),
        ("config1", u64),  # bp_addr / kprobe_func / uprobe_path
        ("config2", u64),  # bp_len / kprobe_addr / probe_offset
        ("branch_sample_type", u64),
        ("sample_regs_user", u64),
        ("sample_stack_user", u32),
        ("clockid", s32),
        ("sample_regs_intr", u64),
        ("aux_watermark", u32),
        ("sample_max_stack", u16),
        ("_reserved_2", u16),
        ("aux_sample_size", u32),
        ("_reserved_3", u32),
        ("sig_data", u64),
        ("config3", u64),
    ]


def addr(buf: ctypes._CData | None) -> int:
    """The address of a ctypes buffer as the u64 the kernel expects (0 for None)."""
    return 0 if buf is None else ctypes.addressof(buf)
