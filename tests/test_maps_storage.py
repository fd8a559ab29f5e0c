"""File-backed storage: shared views, reopen, and no torn values after kill -9."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pybpf.errors import MapError, NotSupportedError
from pybpf.maps import create_map, open_map
from pybpf.maps.storage import Word
from pybpf.uapi import MapType


def k(i: int) -> bytes:
    return i.to_bytes(4, "little")


def test_two_openers_see_each_others_writes(tmp_path: Path) -> None:
    path = tmp_path / "h"
    a = create_map(MapType.HASH, 4, 8, 16, path=path)
    b = open_map(path)
    a.update(k(1), b"A" * 8)
    assert b.lookup(k(1)) == b"A" * 8
    b.update(k(2), b"B" * 8)
    b.delete(k(1))
    assert sorted(a) == [k(2)] and len(a) == 1
    lpm_path = tmp_path / "lpm"
    l1 = create_map(MapType.LPM_TRIE, 5, 4, 4, 1, path=lpm_path)
    l2 = open_map(lpm_path)
    l1.update(b"\x08\0\0\0\x0a", b"tenn")
    assert l2.lookup(b"\x20\0\0\0\x0a") == b"tenn"  # index rebuilt from the buffer
    with pytest.raises(MapError) as ei:
        create_map(MapType.HASH, 4, 8, 16, path=path)  # exists
    assert ei.value.errno == errno.EEXIST


def test_failed_update_rolls_back(tmp_path: Path) -> None:
    m = create_map(MapType.ARRAY, 4, 16, 2, path=tmp_path / "a", spin_lock_offset=8)
    m.update(k(0), b"x" * 16)
    st = m._st
    with pytest.raises(RuntimeError), st.txn():
        st.put(st.data_offset, b"y" * 8)
        raise RuntimeError("interrupted")
    assert m.lookup(k(0)) == b"x" * 8 + bytes(4) + b"x" * 4
    assert open_map(tmp_path / "a").spec.spin_lock_offset == 8


def test_reopen_rejects_foreign_files(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"\0" * 8192)
    with pytest.raises(MapError):
        open_map(junk)
    with pytest.raises(MapError):
        open_map(tmp_path / "missing")
    inner = create_map(MapType.ARRAY, 4, 4, 1)
    create_map(MapType.ARRAY_OF_MAPS, 4, 4, 1, inner_map=inner, path=tmp_path / "mim")
    with pytest.raises(NotSupportedError):
        open_map(tmp_path / "mim")


WRITER = textwrap.dedent(
    """
    import sys
    from pybpf.maps import open_map
    m = open_map(sys.argv[1])
    i = 0
    print("ready", flush=True)
    while True:
        i = (i + 1) % 251
        for key in range(4):
            m.update(key.to_bytes(4, "little"), bytes([i]) * 65536)
    """
)


def test_kill_9_mid_update_never_tears_a_value(tmp_path: Path) -> None:
    path = tmp_path / "big"
    m = create_map(MapType.HASH, 4, 65536, 4, path=path)
    for key in range(4):
        m.update(k(key), bytes(65536))
    m.close()
    for delay in (0.05, 0.13, 0.21):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE)
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        reopened = open_map(path)
        assert reopened._st.words[Word.MAGIC]
        for key in range(4):
            value = reopened.lookup(k(key))
            assert value == bytes([value[0]]) * 65536, "torn value"
        reopened.close()
