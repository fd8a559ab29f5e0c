"""Run the ``pybpf`` command as a user would: a subprocess with its own VM bpffs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIX = Path(__file__).parent / "bpf"


@dataclass(frozen=True)
class Result:
    rc: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Pybpf:
    """``pybpf ARGS`` in a subprocess with PYBPF_FS pointing at ``fs``."""

    def __init__(self, fs: Path) -> None:
        self.fs = fs
        self.env = {**os.environ, "PYBPF_FS": str(fs), "COLUMNS": "200"}

    def __call__(self, *args: str, ok: bool = True, stdin: str | None = None) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "pybpf", *args],
            capture_output=True,
            text=True,
            env=self.env,
            input=stdin,
            timeout=60,
        )
        res = Result(proc.returncode, proc.stdout, proc.stderr)
        if ok and res.rc != 0:
            raise AssertionError(f"pybpf {' '.join(args)} failed ({res.rc}): {res.err}{res.out}")
        return res

    def fails(self, *args: str) -> Result:
        """A failing command: non-zero exit, one ``Error:`` line (or JSON error), no traceback."""
        res = self(*args, ok=False)
        assert res.rc != 0, f"pybpf {' '.join(args)} unexpectedly succeeded: {res.out}"
        assert "Traceback" not in res.err + res.out
        if {"-j", "--json", "-p", "--pretty"} & set(args):
            doc = json.loads(res.out)
            assert list(doc) == ["error"] and doc["error"], doc  # bpftool's shape: one key
        else:
            lines = res.err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("Error: "), res.err
        return res
