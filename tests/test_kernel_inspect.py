"""bpffs pins, enumeration by id, object info and BTF loading against the real kernel."""

from __future__ import annotations

import errno
import os
import struct

import pytest

from kernel_asm import counter
from pybpf.errors import BTFError, KernelError
from pybpf.kernel import KernelMap, KernelProgram, create_map, get_pinned, load_btf, load_program, unpin
from pybpf.kernel import inspect as kinspect
from pybpf.kernel.pin import BPFFS, ensure_bpffs, fs_type_of
from pybpf.uapi import MapType, ProgType

pytestmark = pytest.mark.kernel


def _btf_int(kind_word: int = 1 << 24) -> bytes:
    """A minimal BTF blob: one 32-bit signed INT named "int"."""
    strings = b"\0int\0"
    types = struct.pack("<III", 1, kind_word, 4) + struct.pack("<I", (1 << 24) | 32)
    header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings))
    return header + types + strings


@pytest.fixture
def pin_dir() -> object:
    ensure_bpffs()
    path = os.path.join(BPFFS, f"pybpf_test_{os.getpid()}")
    os.makedirs(path, exist_ok=True)
    yield path
    for name in os.listdir(path):
        os.unlink(os.path.join(path, name))
    os.rmdir(path)


def test_bpffs_is_mounted() -> None:
    ensure_bpffs()
    assert fs_type_of(BPFFS) == "bpf"


def test_pin_and_get_round_trip(pin_dir: str) -> None:
    with create_map(MapType.HASH, 4, 4, 8, name="pinned") as m:
        m.update(b"key1", b"val1")
        path = os.path.join(pin_dir, "map")
        m.pin(path)
        owned = get_pinned(path)
        assert owned.kind == "map"
        with KernelMap.from_fd(owned.release()) as again:
            assert again.name == "pinned" and again.lookup(b"key1") == b"val1"
            again.update(b"key2", b"val2")
        assert m.lookup(b"key2") == b"val2"
        with (
            create_map(MapType.ARRAY, 4, 8, 1) as cnt,
            load_program(counter(cnt.fd), ProgType.SOCKET_FILTER, name="pinprog") as prog,
        ):
            prog.pin(os.path.join(pin_dir, "prog"))
        reopened = KernelProgram.from_fd(get_pinned(os.path.join(pin_dir, "prog")).release())
        with reopened:
            assert reopened.name == "pinprog" and reopened.prog_type == ProgType.SOCKET_FILTER
        unpin(path)
        with pytest.raises(KernelError) as exc:
            get_pinned(path)
        assert exc.value.errno == errno.ENOENT and "pin" in (exc.value.hint or "")
        with pytest.raises(KernelError) as taken:
            m.pin(os.path.join(pin_dir, "prog"))
        assert taken.value.errno == errno.EEXIST


def test_pin_outside_bpffs_is_refused() -> None:
    with create_map(MapType.ARRAY, 4, 4, 1) as m, pytest.raises(KernelError) as exc:
        m.pin(f"/tmp/pybpf_not_bpffs_{os.getpid()}")
    assert exc.value.command == "obj_pin" and exc.value.hint


def test_enumeration_finds_created_objects() -> None:
    with (
        create_map(MapType.ARRAY, 4, 8, 1, name="enum_map") as m,
        load_program(counter(m.fd), ProgType.SOCKET_FILTER, name="enum_prog") as prog,
    ):
        map_id, prog_id = m.info().id, prog.info().id
        assert map_id in kinspect.map_ids()
        assert prog_id in kinspect.prog_ids()
        infos = {i.id: i for i in kinspect.iter_prog_infos()}
        assert infos[prog_id].name == "enum_prog" and infos[prog_id].map_ids == (map_id,)
        assert any(i.name == "enum_map" for i in kinspect.iter_map_infos())
        with kinspect.map_by_id(map_id) as twin:
            twin.update(b"\0" * 4, struct.pack("<Q", 5))
        assert m.lookup(b"\0" * 4) == struct.pack("<Q", 5)
        with kinspect.program_by_id(prog_id) as p2:
            assert p2.xlated() == prog.xlated()
    with pytest.raises(KernelError) as exc:
        kinspect.map_by_id(0x7FFFFFF0)
    assert exc.value.errno == errno.ENOENT


def test_run_stats_while_enabled() -> None:
    with create_map(MapType.ARRAY, 4, 8, 1) as m, load_program(counter(m.fd), ProgType.SOCKET_FILTER) as prog:
        with kinspect.enable_stats():
            prog.test_run(b"\0" * 64, repeat=10)
        assert prog.info().run_cnt >= 1


def test_btf_load_info_and_enumeration() -> None:
    blob = _btf_int()
    with load_btf(blob) as btf:
        info = btf.info()
        assert info.id in kinspect.btf_ids() and not info.kernel_btf and info.size == len(blob)
        assert btf.data() == blob
    kernel = next(i for i in kinspect.iter_btf_infos() if i.kernel_btf)
    assert kernel.name == "vmlinux"


def test_btf_rejection_carries_the_log() -> None:
    with pytest.raises(BTFError) as exc:
        load_btf(_btf_int(kind_word=31 << 24))
    assert getattr(exc.value, "log", "")
