"""Flag and constant values from linux/bpf.h that the map layer needs.

They are the kernel's numbers, so a map spec read from an ELF object or typed by a
user means the same thing here as in bpf(2).
"""

from __future__ import annotations

import errno
from enum import IntEnum

from ..uapi import MapFlag as MapFlag
from ..uapi import UpdateFlag as UpdateFlag

#: BPF_F_ACCESS_MASK: the four access flags every map type accepts.
ACCESS_MASK = int(MapFlag.RDONLY | MapFlag.RDONLY_PROG | MapFlag.WRONLY | MapFlag.WRONLY_PROG)


BPF_ANY = 0
BPF_NOEXIST = 1
BPF_EXIST = 2
BPF_F_LOCK = 4


class RingbufQuery(IntEnum):
    """bpf_ringbuf_query() selectors."""

    AVAIL_DATA = 0
    RING_SIZE = 1
    CONS_POS = 2
    PROD_POS = 3


#: bpf_ringbuf_submit/output flags.
BPF_RB_NO_WAKEUP = 1
BPF_RB_FORCE_WAKEUP = 2
#: Bits of a ring buffer record header's length word.
BPF_RINGBUF_BUSY_BIT = 1 << 31
BPF_RINGBUF_DISCARD_BIT = 1 << 30
BPF_RINGBUF_HDR_SZ = 8

#: bpf_perf_event_output flags: low 32 bits pick the index, all-ones = this CPU.
BPF_F_INDEX_MASK = 0xFFFFFFFF
BPF_F_CURRENT_CPU = BPF_F_INDEX_MASK

#: bpf_redirect_map flags (devmap only) beyond the low "default action" bits.
BPF_F_BROADCAST = 1 << 3
BPF_F_EXCLUDE_INGRESS = 1 << 4

#: The kernel-internal ENOTSUPP (not EOPNOTSUPP) that bpf(2) leaks to user space.
ENOTSUPP = 524
EOPNOTSUPP = errno.EOPNOTSUPP

#: Limits the kernel checks at map creation (x86_64, SLUB, 4 KiB pages).
KMALLOC_MAX_SIZE = 1 << 22
PCPU_MIN_UNIT_SIZE = 32 << 10
MAX_BPF_STACK = 512
BPF_OBJ_NAME_LEN = 16
NR_CPUS = 8192
