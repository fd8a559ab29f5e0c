"""``pybpf gen skeleton``: the command a user runs, and what mypy --strict thinks of its output."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pybpf.object.spec import ObjectSpec
from pybpf.skeleton import SkeletonError, generate_skeleton, skeleton_for_file
from pybpf.skeleton.generate import camel, py_ident, section_attr
from test_skeleton_support import FIXTURES, REPO, SKEL_C, compile_bpf, import_path

FIXTURE_CLASSES = {
    "globals": "GlobalsSkel",
    "xdp_srcip": "XdpSrcipSkel",
    "maps_btf": "MapsBtfSkel",
    "openat_ringbuf": "OpenatRingbufSkel",
}


def pybpf(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("pybpf")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "pybpf.cli.main"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("stem", sorted(FIXTURE_CLASSES))
def test_cli_writes_importable_skeleton(stem: str, tmp_path: Path) -> None:
    proc = pybpf("gen", "skeleton", str(FIXTURES / f"{stem}.v3.o"))
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / f"{stem}_skel.py"
    out.write_text(proc.stdout)
    module = import_path(out)
    cls = getattr(module, FIXTURE_CLASSES[stem])
    assert cls.object_bytes() == (FIXTURES / f"{stem}.v3.o").read_bytes()
    skel = cls.open()
    assert set(cls.PROGRAM_NAMES) == set(skel.spec.programs)
    assert [h.name for h in skel.maps] == list(skel.spec.maps)
    skel.destroy()


def test_cli_name_keyword_and_prefixes(tmp_path: Path) -> None:
    proc = pybpf("gen", "sk", str(FIXTURES / "globals.v3.o"), "n", "myobj")
    assert proc.returncode == 0, proc.stderr
    assert "class MyobjSkel(Skeleton):" in proc.stdout
    assert "SectionRef(MyobjBss, 'myobj.bss')" in proc.stdout
    out = tmp_path / "myobj_skel.py"
    out.write_text(proc.stdout)
    skel = import_path(out).MyobjSkel.open()
    assert skel.spec.name == "myobj" and skel.bss.drops == 0
    skel.destroy()


def test_cli_errors(tmp_path: Path) -> None:
    missing = pybpf("gen", "skeleton", str(tmp_path / "none.o"))
    assert missing.returncode == 1 and "Error: cannot read" in missing.stderr
    junk = tmp_path / "junk.o"
    junk.write_bytes(b"not an elf")
    bad = pybpf("gen", "skeleton", str(junk))
    assert bad.returncode == 1 and "Error:" in bad.stderr and "Traceback" not in bad.stderr
    badname = pybpf("gen", "skeleton", str(FIXTURES / "xdp_pass.v3.o"), "name", "a-b")
    assert badname.returncode == 1 and "C identifier" in badname.stderr
    usage = pybpf("gen", "skeleton")
    assert usage.returncode == 2
    unknown = pybpf("gen", "bogus", "x")
    assert unknown.returncode == 2


def test_generator_is_deterministic_and_rejects_bad_class_name() -> None:
    path = FIXTURES / "globals.v3.o"
    assert skeleton_for_file(str(path)) == skeleton_for_file(str(path))
    data = path.read_bytes()
    spec = ObjectSpec.from_bytes(data, name="globals")
    with pytest.raises(SkeletonError):
        generate_skeleton(spec, data, class_name="not valid")


def test_name_helpers() -> None:
    assert camel("xdp_srcip") == "XdpSrcip" and camel(".data.foo") == "DataFoo"
    assert py_ident("lambda") == "lambda_" and py_ident("_sk_root") == "_sk_root_"
    assert section_attr(".rodata.str1.1") == "rodata_str1_1" and section_attr(".bss") == "bss"


USER_PROGRAM = """
from __future__ import annotations

from sk_skel import SkConfig, SkSkel

from pybpf.backends.testrun import TestRun
from pybpf.skeleton import MapHandle, ProgramHandle


def run() -> int:
    with SkSkel.open() as skel:
        skel.rodata.max_len = 100
        skel.rodata.cfg.lim.hi = 50
        skel.rodata.cfg.weights = [1, 2, 3]
        skel.rodata.cfg.weights[0] = 4
        skel.data.name = b"abc"
        cfg: SkConfig = skel.rodata.cfg
        flag: bool = skel.data.flag
        skel.load(backend="vm")
        skel.attach()  # the XDP program needs an interface: skipped, as libbpf skips it
        prog: ProgramHandle = skel.progs.xdp_skel
        result: TestRun = prog.test_run(data_in=bytes(60))
        counter: int = skel.bss.counter
        hi: int = skel.bss.seen[1].hi
        lens: list[int] = list(skel.bss.lens)
        bss_map: MapHandle = skel.maps.bss
        raw: bytes = bss_map.lookup(bytes(4))
        name: bytes = skel.data.name
        total = result.retval + counter + hi + len(lens) + len(raw) + len(name) + int(flag) + cfg.verdict
        skel.close()  # libbpf's __destroy; leaving the with block again is a no-op
    return total
"""

USER_MISTAKES = """
from sk_skel import SkSkel

skel = SkSkel.open()
text: str = skel.bss.counter
skel.bss.counter = "many"
skel.progs.no_such_program
"""


@pytest.mark.skipif(shutil.which("clang-19") is None, reason="clang-19 builds the test object")
def test_mypy_strict_accepts_generated_skeleton(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    obj = compile_bpf(SKEL_C, tmp_path / "sk.bpf.o")
    gen = pybpf("gen", "skeleton", str(obj), "name", "sk")  # as a user would: pybpf gen ... > sk_skel.py
    assert gen.returncode == 0, gen.stderr
    (tmp_path / "sk_skel.py").write_text(gen.stdout)
    (tmp_path / "user.py").write_text(USER_PROGRAM)
    (tmp_path / "mistakes.py").write_text(USER_MISTAKES)
    env = dict(os.environ, MYPYPATH=str(REPO / "src"))
    base = [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--no-incremental"]
    # every fixture object's skeleton too: BTF of all shapes (maps of maps, ring buffers, kconfig, ...)
    fixtures = []
    for obj_file in sorted(FIXTURES.glob("*.v3.o")):
        name = f"{obj_file.name.split('.')[0]}_fx_skel.py"
        (tmp_path / name).write_text(skeleton_for_file(str(obj_file)))
        fixtures.append(name)
    assert len(fixtures) >= 20
    ok = subprocess.run(
        [*base, "user.py", "sk_skel.py", *fixtures],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # and mypy really sees the types: each mistake is reported
    bad = subprocess.run(
        [*base, "mistakes.py", "sk_skel.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 1
    assert 'expression has type "int", variable has type "str"' in bad.stdout
    assert 'expression has type "str", variable has type "int"' in bad.stdout
    assert '"SkProgs" has no attribute "no_such_program"' in bad.stdout
    # the user program also runs
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        module = import_path(tmp_path / "user.py")
        assert module.run() > 0
    finally:
        sys.modules.pop("sk_skel", None)
