"""BTF parse speed on the running kernel's vmlinux BTF.

Run: ``python bench/bench_btf.py [PATH] [--repeat N]``.  Prints the best and
median wall time of ``BTF.parse`` over N runs (every type fully decoded into
frozen dataclasses and validated), the type count, and for comparison the
time of ``dump_raw``, ``dump_c`` and of ``bpftool btf dump file`` on the same file.
Target: parse <= 1.0 s on the 2-core development box.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from pybpf.btf import BTF, dump_c, dump_raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default="/sys/kernel/btf/vmlinux")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    data = Path(args.path).read_bytes()

    times = []
    btf = None
    for _ in range(args.repeat):
        start = time.perf_counter()
        btf = BTF.parse(data)
        times.append(time.perf_counter() - start)
        del btf
    btf = BTF.parse(data)
    members = sum(len(getattr(t, "members", ())) + len(getattr(t, "params", ())) for t in btf.types)
    print(f"file: {args.path} ({len(data) / 1e6:.1f} MB)")
    print(f"types: {len(btf) - 1}  (members+params: {members})")
    print(
        f"BTF.parse: best {min(times):.3f} s, median {statistics.median(times):.3f} s over {len(times)} runs"
    )

    start = time.perf_counter()
    text = dump_raw(btf)
    print(f"dump_raw: {time.perf_counter() - start:.3f} s ({len(text.splitlines())} lines)")
    start = time.perf_counter()
    header = dump_c(btf)
    print(f"dump_c: {time.perf_counter() - start:.3f} s ({len(header.splitlines())} lines)")
    if shutil.which("bpftool"):
        start = time.perf_counter()
        subprocess.run(["bpftool", "btf", "dump", "file", args.path], check=True, capture_output=True)
        print(f"bpftool btf dump (C, for reference): {time.perf_counter() - start:.3f} s")


if __name__ == "__main__":
    main()
