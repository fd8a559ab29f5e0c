"""The address space: regions over native buffers, checked access, cheap add/remove/rebind."""

from __future__ import annotations

import ctypes
import mmap

import pytest

from pybpf.errors import MemoryAccessError
from pybpf.helpers import HelperRegistry
from pybpf.vm import VM, AddressSpace, Perm
from vm_util import program


def test_regions_get_distinct_high_bases_and_checked_access() -> None:
    space = AddressSpace()
    a = space.add("a", 16)
    b = space.add("b", bytearray(b"hello"), Perm.READ)
    assert a.base != b.base and a.base >= 1 << 63 and b.base >= 1 << 63
    space.store(a.base + 8, 4, 0x11223344)
    assert space.load(a.base + 8, 4) == 0x11223344
    assert space.read(b.base, 5) == b"hello"
    assert space.find(b.base + 4) is b and space.find(b.base + 5) is None
    with pytest.raises(MemoryAccessError, match="write of 1 bytes in a r- region"):
        space.write(b.base, b"x")
    with pytest.raises(MemoryAccessError, match="outside the region") as info:
        space.load(a.base + 14, 4)
    assert info.value.address == a.base + 14 and info.value.region is not None
    assert info.value.region.startswith("a ")
    with pytest.raises(MemoryAccessError, match="NULL"):
        space.load(0, 8)
    assert space.nearest(a.end + 3) is a


def test_native_buffers_are_shared_not_copied() -> None:
    space = AddressSpace()
    native = (ctypes.c_uint32 * 4)()
    region = space.add("map:values", native)
    space.store(region.base + 4, 4, 0xDEADBEEF)
    assert native[1] == 0xDEADBEEF
    native[2] = 7
    assert space.load(region.base + 8, 4) == 7
    with mmap.mmap(-1, 4096) as mm:
        shared = space.add("ringbuf", mm)
        space.write(shared.base + 100, b"abc")
        assert mm[100:103] == b"abc"
        view = space.view(shared.base + 100, 3, writable=True)
        view[0] = ord("z")
        assert mm[100] == ord("z")
        del view
        space.remove(shared)


def test_program_sees_a_native_region() -> None:
    native = (ctypes.c_uint64 * 2)(40, 2)
    vm = VM(program("ldxdw %r0, [%r1]\nldxdw %r2, [%r1+8]\nadd %r0, %r2\nstxdw [%r1+8], %r0\nexit"))
    region = vm.memory.add("values", native)
    assert vm.call(region.base) == 42
    assert native[1] == 42


def test_add_remove_rebind_reuse_slots() -> None:
    space = AddressSpace()
    r = space.add("packet", b"abcd", Perm.READ)
    base = r.base
    r2 = space.rebind(r, b"xyz")
    assert r2.base == base and r2.size == 3 and space.read(base, 3) == b"xyz"
    with pytest.raises(MemoryAccessError):
        space.rebind(r, b"old handle")  # the old Region object is stale
    space.remove(r2)
    assert space.find(base) is None and len(space) == 0
    again = space.add("next", 8)
    assert again.base == base  # freed slots are reused
    with pytest.raises(MemoryAccessError):
        space.remove(r2)


def test_bad_buffers() -> None:
    space = AddressSpace()
    with pytest.raises(MemoryAccessError, match="read-only"):
        space.add("ro", b"bytes are read-only", Perm.RW)
    with pytest.raises(MemoryAccessError, match="buffer protocol"):
        space.add("bad", object())  # type: ignore[arg-type]
    with pytest.raises(MemoryAccessError):
        space.add("neg", -1)


def test_read_cstring() -> None:
    space = AddressSpace()
    r = space.add("s", bytearray(b"hi\0there"))
    assert space.read_cstring(r.base, 64) == b"hi"
    assert space.read_cstring(r.base + 3, 3) == b"the"
    with pytest.raises(MemoryAccessError):
        space.read_cstring(r.base + 3, 64)


def test_helper_uses_checked_memory_and_vm_runs_again() -> None:
    registry = HelperRegistry()
    registry.add(200, lambda ctx, r1, r2, *_: ctx.memory.write(r1, b"\x2a" * r2) or 0, name="fill")
    vm = VM(program("mov %r6, %r1\nmov %r2, 2\ncall 200\nldxh %r0, [%r6]\nexit"), helpers=registry)
    assert vm.run(bytes(4)) == 0x2A2A
    assert vm.run(bytes(2)) == 0x2A2A
    assert vm.mem_region is not None and bytes(vm.mem_region.buffer) == b"\x2a\x2a"
