"""Pinned maps are shared, durable memory: real processes, real kill -9 (see docs/pinning.md)."""

from __future__ import annotations

import os
import random
import signal
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

from cli_util import Pybpf
from pybpf.maps import open_map

KEYS = 16
VSIZE = 64


def _child(code: str, *args: str, stdin: bool = False) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdin=subprocess.PIPE if stdin else None,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_processes_see_each_others_writes(tmp_path: Path) -> None:
    pb = Pybpf(tmp_path)
    path = str(tmp_path / "shared")
    pb("map", "create", path, "type", "array", "key", "4", "value", "8", "entries", "4", "name", "shared")
    mine = open_map(path)
    child = _child(
        """
        import struct, sys, time
        from pybpf.maps import open_map
        m = open_map(sys.argv[1])
        print("ready", flush=True)
        deadline = time.monotonic() + 20
        while struct.unpack("<Q", m.lookup(struct.pack("<I", 0)))[0] != 41:
            if time.monotonic() > deadline:
                sys.exit("never saw the parent's write")
        m.update(struct.pack("<I", 1), struct.pack("<Q", 42))
        print("done", flush=True)
        """,
        path,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    mine.update(struct.pack("<I", 0), struct.pack("<Q", 41))  # seen by the child's mapping
    assert child.stdout.readline().strip() == "done", child.stderr.read() if child.stderr else ""
    # the child's write is visible through the mapping this process already had open
    assert struct.unpack("<Q", mine.lookup(struct.pack("<I", 1)))[0] == 42
    assert child.wait(timeout=20) == 0
    mine.close()
    # and through the CLI, a third process
    assert pb("-j", "map", "lookup", "pinned", path, "key", "1", "0", "0", "0").json()["value"][0] == "0x2a"


WRITER = f"""
import sys
from pybpf.maps import open_map
m = open_map(sys.argv[1])
gen = int(sys.argv[2])
while True:
    for k in range({KEYS}):
        m.update(k.to_bytes(4, "little"), bytes([gen % 251]) * {VSIZE})
        print(k, gen, flush=True)
    gen += 1
"""


def test_kill_9_leaves_no_torn_and_no_lost_update(tmp_path: Path) -> None:
    pb = Pybpf(tmp_path)
    path = str(tmp_path / "durable")
    pb(
        "map",
        "create",
        path,
        "type",
        "hash",
        "key",
        "4",
        "value",
        str(VSIZE),
        "entries",
        "64",
        "name",
        "durable",
    )
    rng = random.Random(7)
    last_ack: dict[int, int] = {}  # key -> generation of its last acknowledged update
    start = 1
    for _round in range(3):
        writer = _child(WRITER, path, str(start))
        assert writer.stdout is not None
        stop_after = rng.randrange(50, 1500)
        lines = []
        for line in writer.stdout:
            lines.append(line)
            if len(lines) >= stop_after:
                break
        os.kill(writer.pid, signal.SIGKILL)
        lines.append(writer.stdout.read())  # acks written before the kill still count
        writer.wait()
        for line in "".join(lines).splitlines(keepends=True):
            if line.endswith("\n"):  # a line cut by the kill was never acknowledged
                k, gen = map(int, line.split())
                last_ack[k] = max(last_ack.get(k, 0), gen)
        m = open_map(path)  # rolls back an interrupted update
        try:
            for k in range(KEYS):
                try:
                    raw = m.lookup(k.to_bytes(4, "little"))
                except KeyError:
                    assert k not in last_ack, f"key {k}: acknowledged update lost"
                    continue
                assert len(set(raw)) == 1, f"key {k}: torn value {raw.hex()}"
                acked = last_ack.get(k)
                allowed = {start % 251} if acked is None else {acked % 251, (acked + 1) % 251}
                assert raw[0] in allowed, f"key {k}: holds generation {raw[0]}, last ack {acked}"
        finally:
            m.close()
        start = max(last_ack.values(), default=start) + 1
    assert len(last_ack) == KEYS


HAMMER = """
import os, struct, sys, time
from pybpf.maps import open_map
m = open_map(sys.argv[1])
tag, lo, hi = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
mine, other = f"{sys.argv[1]}.started.{tag}", f"{sys.argv[1]}.started.{3 - tag}"
sys.stdin.readline()  # both writers start together
start = time.monotonic()
open(mine, "w").close()
rounds = 0
# At least 8 rounds, and on until the other writer has started too: each span then
# contains the other's start, so the two overlap by construction, however the
# scheduler runs them.
while rounds < 8 or not os.path.exists(other):
    for i in range(lo, hi):
        m.update(struct.pack("<I", i), struct.pack("<II", tag, i))
    for i in range(lo, hi, 7):
        m.delete(struct.pack("<I", i))
    rounds += 1
print(start, time.monotonic(), flush=True)
"""


def test_two_writers_keep_a_hash_map_consistent(tmp_path: Path) -> None:
    pb = Pybpf(tmp_path)
    path = str(tmp_path / "hammer")
    pb("map", "create", path, "type", "hash", "key", "4", "value", "8", "entries", "1024", "name", "hammer")
    a = _child(HAMMER, path, "1", "0", "600", stdin=True)
    b = _child(HAMMER, path, "2", "300", "900", stdin=True)
    spans = []
    for proc in (a, b):
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in (a, b):
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        spans.append(tuple(map(float, out.split())))
    (a0, a1), (b0, b1) = spans
    assert a0 < b1 and b0 < a1, f"the writers did not overlap in time: {spans}"  # really concurrent
    deleted_a = set(range(0, 600, 7))
    deleted_b = set(range(300, 900, 7))
    m = open_map(path)
    try:
        contents = {struct.unpack("<I", k)[0]: struct.unpack("<II", m.lookup(k)) for k in m.iter_keys()}
        assert len(m) == len(contents)
    finally:
        m.close()
    for key, (tag, value) in contents.items():
        assert value == key and tag in (1, 2) and 0 <= key < 900
    # keys only one writer touched: present unless that writer deleted them
    only_a = set(range(0, 300))
    only_b = set(range(600, 900))
    assert {k for k in contents if k in only_a} == only_a - deleted_a
    assert {k for k in contents if k in only_b} == only_b - deleted_b
    # the overlap: a key written by both is deleted iff some writer deleted it after the other's write;
    # keys neither deleted must be present
    both = set(range(300, 600))
    assert both - deleted_a - deleted_b <= set(contents)
    dumped = pb("-j", "map", "dump", "pinned", path).json()
    assert len(dumped) == len(contents)


TORN_WRITER = f"""
import os, signal, sys
from pybpf.maps import open_map, storage

m = open_map(sys.argv[1])
key = (5).to_bytes(4, "little")
m.update(key, b"A" * {VSIZE})
real_put = storage.Storage.put


def put_half_then_die(self, off, data):
    # crash injection: journal the old bytes, write half of the new value, then SIGKILL
    # (the same instant a kill -9 can land in; here it is certain rather than likely)
    if len(data) != {VSIZE}:
        return real_put(self, off, data)
    self._log(off, len(data))
    self.mm[off : off + len(data) // 2] = data[: len(data) // 2]
    print("half", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


storage.Storage.put = put_half_then_die
m.update(key, b"B" * {VSIZE})
"""


def test_kill_9_mid_write_never_shows_torn_value_to_a_survivor(tmp_path: Path) -> None:
    """A process that had the map open before the crash sees old-or-new too; its next write keeps it so."""
    pb = Pybpf(tmp_path)
    path = str(tmp_path / "torn")
    pb("map", "create", path, "type", "hash", "key", "4", "value", str(VSIZE), "entries", "8", "name", "torn")
    survivor = open_map(path)  # opened before the crash: no recovery at open will help it
    try:
        writer = _child(TORN_WRITER, path)
        out, err = writer.communicate(timeout=60)
        assert writer.returncode == -signal.SIGKILL and out.strip() == "half", err
        key5 = (5).to_bytes(4, "little")
        assert survivor.lookup(key5) == b"A" * VSIZE  # the interrupted update is rolled back on read
        survivor.update((6).to_bytes(4, "little"), b"C" * VSIZE)  # and a later write does not commit it
        assert survivor.lookup(key5) == b"A" * VSIZE
    finally:
        survivor.close()
    fresh = open_map(path)
    try:
        assert fresh.lookup((5).to_bytes(4, "little")) == b"A" * VSIZE
        assert fresh.lookup((6).to_bytes(4, "little")) == b"C" * VSIZE and len(fresh) == 2
    finally:
        fresh.close()
    assert (
        pb("-j", "map", "lookup", "pinned", path, "key", "5", "0", "0", "0").json()["value"]
        == ["0x41"] * VSIZE
    )


def test_vm_program_in_another_process_writes_the_shared_bytes(tmp_path: Path) -> None:
    """``prog run`` in another process updates the pinned map through the very pages this one maps."""
    from cli_util import FIX

    pb = Pybpf(tmp_path)
    pb("prog", "loadall", str(FIX / "xdp_srcip.v3.o"), str(tmp_path / "p"), "pinmaps", str(tmp_path / "m"))
    counter = open_map(str(tmp_path / "m" / "pkt_count"))  # opened once, before the runs
    try:
        assert counter.lookup(bytes(4)) == bytes(8)
        frame = tmp_path / "frame"
        frame.write_bytes(bytes(64))
        prog = str(tmp_path / "p" / "xdp_srcip")
        pb("prog", "run", "pinned", prog, "data_in", str(frame), "repeat", "7")
        assert struct.unpack("<Q", counter.lookup(bytes(4)))[0] == 7
        counter.update(bytes(4), struct.pack("<Q", 100))  # and the program sees this process's write
        pb("prog", "run", "pinned", prog, "data_in", str(frame))
        assert struct.unpack("<Q", counter.lookup(bytes(4)))[0] == 101
    finally:
        counter.close()


PUSHER = """
import struct, sys
from pybpf.maps import open_map
m = open_map(sys.argv[1])
base = int(sys.argv[2])
sys.stdin.readline()
for i in range(base, base + 1000):
    m.push(struct.pack("<I", i))
print("ok", flush=True)
"""


def test_two_pushers_lose_no_queue_element(tmp_path: Path) -> None:
    """Concurrent pushes to one pinned queue: every element is there once (head/tail read under the lock)."""
    pb = Pybpf(tmp_path)
    path = str(tmp_path / "q")
    pb("map", "create", path, "type", "queue", "key", "0", "value", "4", "entries", "2100", "name", "q")
    kids = [_child(PUSHER, path, str(base), stdin=True) for base in (0, 10_000)]
    for proc in kids:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in kids:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and out.strip() == "ok", err
    q = open_map(path)
    try:
        popped = []
        while True:
            try:
                popped.append(struct.unpack("<I", q.pop())[0])
            except KeyError:
                break
    finally:
        q.close()
    assert sorted(popped) == [*range(1000), *range(10_000, 11_000)]
    # each writer's own elements come out in its order (FIFO per producer)
    assert [v for v in popped if v < 10_000] == list(range(1000))
