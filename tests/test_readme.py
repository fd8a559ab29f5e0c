"""The commands the README tells a new user to type work as it says."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def test_first_example_prints_sum() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pybpf.cli.main", "run", str(REPO / "examples" / "first.s")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "0x37"
    assert "pybpf run examples/first.s" in (REPO / "README.md").read_text()


def test_python_examples_run() -> None:
    import os
    import re

    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    assert blocks
    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        for block in blocks:
            exec(compile(block, "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
