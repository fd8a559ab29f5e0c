"""The committed BPF fixtures in tests/bpf are complete and fresh.

Every layer's tests read the clang-built objects in tests/bpf, so they must be
exactly what the committed sources produce. What is checked:

* completeness (always): every ``X.bpf.c`` has ``X.v1.o``, ``X.v3.o`` and
  ``X.v4.o`` beside it, and no object is left without a source;
* path independence (always): no committed object names the directory it was
  built in;
* freshness (``clang`` marker, needs clang-19 and make): the sources, headers
  and Makefile are copied to a temporary directory -- a different checkout
  path -- and rebuilt there with the Makefile itself, so the flags are exactly
  the Makefile's ``BPF_CFLAGS``; each rebuilt object must be byte-identical to
  the committed one.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "bpf"

CPUS = ("v1", "v3", "v4")
SOURCES = sorted(FIXTURES.glob("*.bpf.c"))
OBJECTS = sorted(FIXTURES.glob("*.o"))


def _stem(source: Path) -> str:
    return source.name.removesuffix(".bpf.c")


def test_fixture_sources_exist() -> None:
    assert SOURCES, f"no *.bpf.c fixtures in {FIXTURES}"


@pytest.mark.parametrize("source", SOURCES, ids=_stem)
def test_every_source_has_three_objects(source: Path) -> None:
    missing = [
        f"{_stem(source)}.{cpu}.o" for cpu in CPUS if not (FIXTURES / f"{_stem(source)}.{cpu}.o").is_file()
    ]
    assert not missing, f"run `make fixtures`: missing {missing}"


def test_no_object_without_source() -> None:
    expected = {f"{_stem(s)}.{cpu}.o" for s in SOURCES for cpu in CPUS}
    stray = sorted(o.name for o in OBJECTS if o.name not in expected)
    assert not stray, f"objects without a .bpf.c source: {stray}"


@pytest.mark.parametrize("obj", OBJECTS, ids=lambda p: p.name)
def test_object_does_not_name_its_build_directory(obj: Path) -> None:
    data = obj.read_bytes()
    assert str(FIXTURES).encode() not in data
    assert str(FIXTURES.parent.parent).encode() + b"/" not in data


def _tool_or_skip(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed: cannot check fixture freshness")
    return path


def _skip_unless_same_compiler(clang: str) -> None:
    """Skip when the installed clang-19 is not the build that made the objects.

    The compiler's version string is embedded in the debug info (DW_AT_producer),
    so another clang-19 point release can never reproduce the bytes; that is a
    toolchain mismatch to report, not a stale fixture.
    """
    proc = subprocess.run([clang, "--version"], capture_output=True, text=True, check=False)
    version = proc.stdout.splitlines()[0].strip() if proc.stdout else ""
    reference = FIXTURES / "xdp_pass.v1.o"
    if version and reference.is_file() and version.encode() not in reference.read_bytes():
        pytest.skip(f"installed {version!r} did not build the committed fixtures: cannot compare bytes")


@pytest.fixture(scope="module")
def rebuilt_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Rebuild all fixtures with the committed Makefile in a different directory."""
    clang = _tool_or_skip("clang-19")
    make = _tool_or_skip("make")
    _skip_unless_same_compiler(clang)
    build = tmp_path_factory.mktemp("elsewhere") / "checkout" / "bpf"
    build.mkdir(parents=True)
    for item in FIXTURES.iterdir():
        if item.name == "Makefile" or item.name.endswith((".bpf.c", ".h")):
            shutil.copy2(item, build / item.name)
    proc = subprocess.run(
        [make, "-s", "-j2", "CLANG=clang-19", "all"],
        cwd=build,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, f"fixture rebuild failed:\n{proc.stdout}\n{proc.stderr}"
    return build


@pytest.mark.clang
@pytest.mark.parametrize("obj", OBJECTS, ids=lambda p: p.name)
def test_committed_object_is_fresh(obj: Path, rebuilt_dir: Path) -> None:
    rebuilt = rebuilt_dir / obj.name
    assert rebuilt.is_file(), f"Makefile did not build {obj.name}"
    assert rebuilt.read_bytes() == obj.read_bytes(), (
        f"{obj.name} is stale or not reproducible: run `make fixtures` and commit the result"
    )


@pytest.mark.clang
def test_rebuild_produces_exactly_the_committed_objects(rebuilt_dir: Path) -> None:
    assert sorted(p.name for p in rebuilt_dir.glob("*.o")) == sorted(o.name for o in OBJECTS)
