"""Skeletons in the VM backend: lifecycle, globals read/written through the loaded maps."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from pybpf.errors import BPFError
from pybpf.skeleton import SkeletonError, SkeletonState
from test_skeleton_support import FIXTURES, SKEL_C, compile_bpf, generate

XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX = 0, 1, 2, 3


@pytest.fixture(scope="module")
def sk(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    out = tmp_path_factory.mktemp("skel")
    return generate(compile_bpf(SKEL_C, out / "sk.bpf.o"), out)


def test_initial_values_typed_before_load(sk: ModuleType) -> None:
    with sk.SkSkel.open() as skel:
        assert skel.state is SkeletonState.OPEN
        assert skel.rodata.max_len == 1514
        cfg = skel.rodata.cfg
        assert (cfg.verdict, cfg.lim.lo, cfg.lim.hi) == (XDP_PASS, 10, 20)
        assert list(cfg.weights) == [-1, 2, 3]
        assert (cfg.a, cfg.b, cfg.c) == (5, 17, -3)
        assert cfg.tag == b"\0\0\0\0" and cfg.u.as_u32 == 0
        assert skel.data.flag is True
        assert skel.data.name == b"pybpf".ljust(16, b"\0")
        assert skel.data.total == -5
        assert skel.bss.counter == 0 and list(skel.bss.lens) == [0, 0, 0, 0]
        assert not hasattr(skel.bss, "hidden")  # statics are not exposed (as bpftool)


def test_rodata_set_before_load_changes_the_program(sk: ModuleType) -> None:
    with sk.SkSkel.open() as skel:
        skel.rodata.max_len = 100
        skel.rodata.cfg.verdict = XDP_TX
        skel.rodata.cfg.lim.hi = 50
        skel.rodata.cfg.c = 7
        skel.rodata.cfg.weights[0] = 1
        skel.load(backend="vm")
        assert skel.state is SkeletonState.LOADED
        assert skel.progs.xdp_skel.test_run(data_in=bytes(60)).retval == XDP_TX
        assert skel.progs.xdp_skel.test_run(data_in=bytes(101)).retval == XDP_DROP
        assert skel.bss.seen[1].hi == 50 + 7 + 1
        assert skel.bss.seen[0].lo == 5 + 17
        assert skel.rodata.cfg.lim.hi == 50  # still readable after load
        with pytest.raises(SkeletonError, match="read-only after load"):
            skel.rodata.max_len = 5
        with pytest.raises(SkeletonError):
            skel.rodata.cfg.lim.hi = 1


def test_bss_and_data_live_after_load(sk: ModuleType) -> None:
    with sk.SkSkel.open_and_load() as skel:
        prog = skel.progs.xdp_skel
        assert prog.test_run(data_in=bytes(60)).retval == XDP_PASS
        assert prog.test_run(data_in=bytes(61)).retval == XDP_PASS
        assert skel.bss.counter == 2
        assert skel.data.total == -5 + 60 + 61
        assert list(skel.bss.lens) == [60, 61, 0, 0]
        # writes from Python are what the program sees next (same native bytes)
        skel.bss.counter = 41
        skel.bss.lens = [9, 9, 9, 9]
        prog.test_run(data_in=bytes(62))
        assert skel.bss.counter == 42
        assert skel.bss.lens == [9, 9, 62, 9]
        raw = skel.maps.bss.lookup(bytes(4))
        assert int.from_bytes(raw[:8], "little") == 42
        skel.data.name = b"X"
        assert prog.test_run(data_in=bytes(60)).retval == XDP_ABORTED
        assert skel.obj.global_bytes("counter") == (43).to_bytes(8, "little")


def test_autoload_and_map_resize(sk: ModuleType) -> None:
    skel = sk.SkSkel.open()
    skel.progs.xdp_skel.autoload = False
    skel.load()
    with pytest.raises(SkeletonError, match="not loaded"):
        skel.progs.xdp_skel.test_run(data_in=bytes(60))
    with pytest.raises(SkeletonError, match="before load"):
        skel.progs.xdp_skel.autoload = True
    skel.destroy()
    skel.destroy()  # idempotent
    assert skel.state is SkeletonState.DESTROYED
    with pytest.raises(SkeletonError, match="destroyed"):
        _ = skel.bss.counter


def test_bad_values_are_typed_errors(sk: ModuleType) -> None:
    with sk.SkSkel.open() as skel:
        with pytest.raises(SkeletonError, match="does not fit"):
            skel.rodata.max_len = 1 << 32
        with pytest.raises(SkeletonError, match="does not fit"):
            skel.rodata.cfg.a = 8  # 3-bit field
        with pytest.raises(SkeletonError, match="expected int"):
            skel.bss.counter = "1"
        with pytest.raises(SkeletonError, match="holds 16 bytes"):
            skel.data.name = bytes(17)
        with pytest.raises(SkeletonError, match="has 4 elements"):
            skel.bss.lens = [1, 2]
        with pytest.raises(IndexError):
            _ = skel.bss.lens[4]
        with pytest.raises(SkeletonError, match="needs a loaded"):
            skel.attach()
        with pytest.raises(SkeletonError, match="not loaded"):
            _ = skel.maps.bss.live


def test_xdp_srcip_fixture_counts_packets(tmp_path: Path) -> None:
    mod = generate(FIXTURES / "xdp_srcip.v3.o", tmp_path)
    frame = bytes(12) + b"\x08\x00" + bytes(40)
    with mod.XdpSrcipSkel.open_and_load(backend="vm") as skel:
        for _ in range(3):
            assert skel.progs.xdp_srcip.test_run(data_in=frame).retval == XDP_PASS
        assert skel.maps.pkt_count.lookup(bytes(4)) == (3).to_bytes(8, "little")
        skel.attach()  # XDP needs an interface: auto-attach skips it, as libbpf does
        assert skel.progs.xdp_srcip.link is None


def test_openat_ringbuf_fixture_events(tmp_path: Path) -> None:
    mod = generate(FIXTURES / "openat_ringbuf.v3.o", tmp_path)
    skel = mod.OpenatRingbufSkel.open()
    skel.maps.events.max_entries = 1 << 16
    skel.load()
    try:
        assert skel.obj.maps["events"].max_entries == 1 << 16
        assert skel.progs.trace_openat.trigger(bytes(48)).retval == 0
        events: list[bytes] = []
        assert skel.maps.events.live.consume(lambda data: events.append(bytes(data))) == 1
        assert len(events) == 1 and len(events[0]) == 4 + 4 + 8 + 16 + 256
        # a tracepoint program names its hook; the VM has none to attach it to
        with pytest.raises(BPFError):
            skel.attach()
    finally:
        skel.destroy()


def test_globals_fixture_sections(tmp_path: Path) -> None:
    mod = generate(FIXTURES / "globals.v3.o", tmp_path)
    skel = mod.GlobalsSkel.open()
    assert skel.rodata.max_len == 1514 and skel.rodata.ro_magic == 0x0123456789ABCDEF
    assert skel.data.packets_seen == 5 and skel.data.greeting == b"hello\0\0\0"
    assert skel.data_foo.foo_counter == 42 and list(skel.data_foo.foo_array) == [1, 2, 3, 4]
    assert skel.rodata_bar.bar_limit == 7
    assert skel.bss.last_bytes == bytes(32)
    skel.rodata.max_len = 64
    skel.rodata_bar.bar_limit = -2
    edited = skel.edited_spec()
    assert edited.maps["globals.rodata"].data[:4] == (64).to_bytes(4, "little")
    assert edited.maps[".rodata.bar"].data == (-2).to_bytes(4, "little", signed=True)
    assert skel.spec.maps["globals.rodata"].data[:4] == (1514).to_bytes(4, "little")  # spec untouched
    skel.destroy()


def test_maps_btf_fixture_map_handles(tmp_path: Path) -> None:
    mod = generate(FIXTURES / "maps_btf.v3.o", tmp_path)
    with mod.MapsBtfSkel.open() as skel:
        assert {h.name for h in skel.progs} == {"tail_a", "tail_b", "xdp_use_maps"}
        assert skel.maps.flows.spec.key_size == 16 and skel.maps.flows.spec.value_size == 16
        assert skel.maps.routes.spec.type.uapi_name == "lpm_trie"
        assert skel.maps.rodata_cst16.spec.is_global_data
        assert not hasattr(skel, "bss")
