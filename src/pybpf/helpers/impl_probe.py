"""probe_read family: copy memory the program names, confined to the VM's regions.

In the kernel these read arbitrary kernel or user addresses and return -EFAULT
(zeroing the destination) when the read faults.  In the VM the only memory is the
VM's regions, so "kernel" and "user" addresses are the same space; a source
outside it behaves exactly like a faulting read.  The destination must be
writable program memory (the verifier guarantees that in the kernel), so a bad
destination is a VM fault.
"""

from __future__ import annotations

import errno

from ..errors import MemoryAccessError
from ..vm.context import CallContext
from .impl_common import A, HelperDef, neg, proto, read_or_none, read_str_or_none


def _probe_read(ctx: CallContext, dst: int, size: int, src: int, r4: int, r5: int) -> int:
    data = read_or_none(ctx, src, size)
    if data is None:
        ctx.memory.write(dst, bytes(size))
        return neg(errno.EFAULT)
    ctx.memory.write(dst, data)
    return 0


def _probe_read_str(ctx: CallContext, dst: int, size: int, src: int, r4: int, r5: int) -> int:
    """Copy a NUL-terminated string (at most size-1 bytes plus NUL); return bytes copied including the NUL."""
    if size == 0:
        return 0
    data = read_str_or_none(ctx, src, size - 1)
    if data is None:
        ctx.memory.write(dst, bytes(1))  # the kernel terminates the buffer on failure
        return neg(errno.EFAULT)
    ctx.memory.write(dst, data + b"\0")
    return len(data) + 1


def _probe_write_user(ctx: CallContext, dst: int, src: int, size: int, r4: int, r5: int) -> int:
    data = read_or_none(ctx, src, size)
    if data is None:
        return neg(errno.EFAULT)
    try:
        ctx.memory.write(dst, data)
    except MemoryAccessError:  # an unwritable target is -EFAULT, as in the kernel
        return neg(errno.EFAULT)
    return 0


_READ = proto(A.PTR_TO_UNINIT_MEM, A.CONST_SIZE_OR_ZERO, A.ANYTHING)

HELPERS = (
    HelperDef("probe_read", _READ, _probe_read),
    HelperDef("probe_read_user", _READ, _probe_read),
    HelperDef("probe_read_kernel", _READ, _probe_read),
    HelperDef("copy_from_user", _READ, _probe_read),
    HelperDef("probe_read_str", _READ, _probe_read_str),
    HelperDef("probe_read_user_str", _READ, _probe_read_str),
    HelperDef("probe_read_kernel_str", _READ, _probe_read_str),
    HelperDef("probe_write_user", proto(A.ANYTHING, A.PTR_TO_MEM, A.CONST_SIZE), _probe_write_user),
)
