"""Start-up time of the ``pybpf`` command (wall clock, median of several runs).

Measures ``pybpf --help`` and ``pybpf map lookup pinned PATH key ...`` on a map
created in a temporary VM bpffs; the target is <= 250 ms each on the dev box.
Run: ``python bench/bench_cli_startup.py [runs]``.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TARGET_MS = 250.0


def _command() -> list[str]:
    exe = shutil.which("pybpf")
    return [exe] if exe else [sys.executable, "-m", "pybpf"]


def measure(args: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([*_command(), *args], env=env, check=True, capture_output=True)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 11
    with tempfile.TemporaryDirectory() as fs:
        env = {**os.environ, "PYBPF_FS": fs}
        path = os.path.join(fs, "m")
        subprocess.run(
            [
                *_command(),
                "map",
                "create",
                path,
                "type",
                "hash",
                "key",
                "4",
                "value",
                "4",
                "entries",
                "8",
                "name",
                "m",
            ],
            env=env,
            check=True,
        )
        subprocess.run(
            [
                *_command(),
                "map",
                "update",
                "pinned",
                path,
                "key",
                "1",
                "0",
                "0",
                "0",
                "value",
                "2",
                "0",
                "0",
                "0",
            ],
            env=env,
            check=True,
        )
        baseline = statistics.median(_timed([sys.executable, "-c", "pass"], env) for _ in range(runs))
        results = {
            "pybpf --help": measure(["--help"], env, runs),
            "pybpf map lookup pinned PATH key 1 0 0 0": measure(
                ["map", "lookup", "pinned", path, "key", "1", "0", "0", "0"], env, runs
            ),
        }
    print(f"python -c pass (interpreter floor): {baseline:7.1f} ms")
    worst = 0.0
    for name, ms in results.items():
        worst = max(worst, ms)
        print(f"{name:45s} {ms:7.1f} ms  (target <= {TARGET_MS:.0f} ms)")
    return 0 if worst <= TARGET_MS else 1


def _timed(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    return (time.perf_counter() - t0) * 1000


if __name__ == "__main__":
    sys.exit(main())
