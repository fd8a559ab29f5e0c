"""Memory and speed of userspace maps: a HASH of 1,000,000 u32 -> u64 entries.

Budget: <= 64 MiB for the map (the kernel preallocates roughly 48 bytes per
element for this shape).  Prints the storage size, the RSS growth, bytes per
element, and the per-operation time of update/lookup/delete from Python.
Run: python bench/bench_maps.py [N]
"""

from __future__ import annotations

import resource
import struct
import sys
import time

from pybpf.maps import create_map
from pybpf.uapi import MapType

MIB = 1 << 20


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def timed(label: str, n: int, fn: object) -> float:
    t0 = time.perf_counter()
    fn()  # type: ignore[operator]
    dt = time.perf_counter() - t0
    print(f"{label:<28} {dt:7.2f} s  {dt / n * 1e6:6.2f} us/op")
    return dt


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    keys = [struct.pack("<I", i * 2654435761 & 0xFFFFFFFF) for i in range(n)]
    vals = [struct.pack("<Q", i) for i in range(n)]
    rss0 = rss_bytes()
    m = create_map(MapType.HASH, 4, 8, n, name="bench")
    upd, look = m.update, m.lookup

    def fill() -> None:
        for k, v in zip(keys, vals, strict=True):
            upd(k, v)

    def lookup_all() -> None:
        for k in keys:
            look(k)

    def offsets() -> None:
        vo = m.value_offset
        for k in keys:
            vo(k)

    timed("update (insert, BPF_ANY)", n, fill)
    rss1 = rss_bytes()
    timed("lookup", n, lookup_all)
    timed("value_offset (VM lookup)", n, offsets)
    timed("update (replace)", n, fill)
    if m.lookup(keys[n // 2]) != vals[n // 2]:
        raise SystemExit("lookup returned a wrong value")
    grown = rss1 - rss0
    print(f"entries                      {len(m):,}")
    print(
        f"storage (mmap) size          {m.storage_size / MIB:7.2f} MiB  {m.storage_size / n:5.1f} bytes/elem"
    )
    print(f"RSS growth after insert      {grown / MIB:7.2f} MiB  {grown / n:5.1f} bytes/elem")
    budget = 64 * MIB
    ok = m.storage_size <= budget and grown <= budget
    print(f"budget 64 MiB                {'OK' if ok else 'EXCEEDED'}")
    t0 = time.perf_counter()
    for k in keys[: n // 10]:
        m.delete(k)
    dt = time.perf_counter() - t0
    print(f"{'delete (10%)':<28} {dt:7.2f} s  {dt / (n // 10) * 1e6:6.2f} us/op")
    m.close()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
