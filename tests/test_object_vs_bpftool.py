"""The object model against the kernel, through bpftool: the same fixture loaded by
bpftool's libbpf must get the program types, maps and instructions pybpf reads.

bpftool cannot dump a file, so each fixture it can load (all but maps_btf, which
pins by name, and those needing libbpf > 1.1) is loaded with ``bpftool prog loadall``
(pins under /sys/fs/bpf/i3_obj_*, removed after) and the kernel's view is compared
with the ObjectSpec:

* every program's type as the kernel reports it (``bpftool prog show``) equals the
  SEC table's program type, spelled the same lowercase way;
* every map the programs use has the name, type, key/value size, max_entries and
  flags the spec computed (global data maps included: libbpf's naming);
* ``prog dump xlated ... linum`` of the loaded program equals pybpf's dump of the
  file, line for line, once the ids the kernel assigns are masked (map ids, the
  helper call immediates it rewrites to addresses). Programs whose context
  accesses the verifier rewrites (``ctx->len`` becomes a load from ``struct
  sk_buff``) are listed with the reason; for them the source lines (line_info)
  must still be the same. ``bpftool prog dump xlated`` reads kallsyms on every
  call (~0.2 s), so of ``sections`` (68 one-line programs) one program per
  program type is dumped, for -mcpu=v3 only (the encodings of v1/v3/v4 are
  compared on the other objects).

``bpftool -d`` also makes libbpf log what it reads and links: the CO-RE records of
core.bpf.c and the subprograms it appends to each program of subprogs.bpf.c
(which, how long, where) are compared with the spec the same way.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pybpf.cli.cmd_prog import xlated_lines
from pybpf.object import BPF_F_MMAPABLE, BPF_F_RDONLY_PROG, ObjectSpec, ProgramSpec
from pybpf.uapi import MapType

pytestmark = pytest.mark.kernel

FIX = Path(__file__).resolve().parent / "bpf"
CPUS = ("v1", "v3", "v4")
# Every fixture the installed bpftool (libbpf 1.1) loads, for program types and maps.
# maps_btf pins a map by name in /sys/fs/bpf (shared with other tests), so it is left out.
LOADABLE = (
    "alu", "atomics", "btf_types", "core", "globals", "helpers_mix", "kprobe", "loop_hash",
    "openat_ringbuf", "sections", "subprogs", "tc_sockfilter", "xdp_parse_count", "xdp_pass",
    "xdp_srcip",
)  # fmt: skip
# Their xlated dumps are compared where the verifier leaves most instructions alone.
XLATED = ("sections", "openat_ringbuf", "xdp_pass", "globals")
# The verifier rewrites these programs' instructions (so only line_info is compared):
REWRITTEN = {
    "sec_socket": "__sk_buff->len becomes a load from struct sk_buff",
    "sec_sk_skb_parser": "__sk_buff->len becomes a load from struct sk_buff",
    "sec_perf_event": "bpf_perf_event_data->addr becomes two loads",
    "sec_iter_task": "iterator ctx->task load is converted",
    "sec_tp_btf": "BTF pointer loads become probe loads",
    "xdp_globals": "xdp_md loads are converted; .kconfig/.ksyms are resolved by libbpf",
}

_MASKS = (
    (re.compile(r"map\[id:\d+\]"), "map[id:N]"),
    (re.compile(r"(call [A-Za-z_0-9]+)#-?\d+"), r"\1#H"),
)


def _mask(text: str) -> str:
    for pattern, repl in _MASKS:
        text = pattern.sub(repl, text)
    return text


def _bpftool(*args: str) -> str:
    return subprocess.run(["bpftool", *args], check=True, capture_output=True, text=True, timeout=60).stdout


@contextmanager
def _loadall(obj: Path, *debug: str) -> Iterator[tuple[Path, str]]:
    """``bpftool [-d] prog loadall obj PIN`` under a unique pin dir: (pin dir, libbpf's log)."""
    if shutil.which("bpftool") is None:
        pytest.skip("bpftool not installed")
    pin = Path(f"/sys/fs/bpf/i3_obj_{os.getpid()}_{obj.name.replace('.', '_')}")
    shutil.rmtree(pin, ignore_errors=True)
    try:
        proc = subprocess.run(
            ["bpftool", *debug, "prog", "loadall", str(obj), str(pin)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        yield pin, proc.stderr
    finally:
        shutil.rmtree(pin, ignore_errors=True)


def _params(objects: tuple[str, ...]) -> list[str]:
    return [f"{o}.{c}" for o in objects for c in CPUS]


@pytest.fixture(scope="module")
def loaded(request: pytest.FixtureRequest) -> Iterator[tuple[ObjectSpec, Path]]:
    obj = FIX / f"{request.param}.o"
    with _loadall(obj) as (pin, log):
        assert pin.is_dir(), log
        yield ObjectSpec.from_file(obj), pin


@pytest.mark.parametrize("loaded", _params(LOADABLE), indirect=True)
def test_every_program_loaded(loaded: tuple[ObjectSpec, Path]) -> None:
    spec, pin = loaded
    assert sorted(p.name for p in pin.iterdir()) == sorted(spec.programs)


@pytest.mark.parametrize("loaded", _params(LOADABLE), indirect=True)
def test_program_types_match_the_kernel(loaded: tuple[ObjectSpec, Path]) -> None:
    spec, pin = loaded
    for prog in spec.programs.values():
        shown = json.loads(_bpftool("-j", "prog", "show", "pinned", str(pin / prog.name)))
        assert shown["type"] == prog.prog_type.uapi_name, prog.section


@pytest.mark.parametrize("loaded", _params(LOADABLE), indirect=True)
def test_maps_match_the_kernel(loaded: tuple[ObjectSpec, Path]) -> None:
    spec, pin = loaded
    ids: set[int] = set()
    for prog in spec.programs.values():
        ids |= set(
            json.loads(_bpftool("-j", "prog", "show", "pinned", str(pin / prog.name))).get("map_ids", [])
        )
    kernel = {m["name"]: m for m in (json.loads(_bpftool("-j", "map", "show", "id", str(i))) for i in ids)}
    kernel.pop("globals.kconfig", None)  # pybpf keeps Kconfig externs for the loader to resolve
    referenced = {
        i.meta.reference
        for p in spec.programs.values()
        for i in p.instructions
        if i.meta is not None and i.meta.reference in spec.maps
    }
    assert set(kernel) == referenced
    for name, km in kernel.items():
        m = spec.maps[name]
        got = (m.type.uapi_name, m.key_size, m.value_size, m.max_entries, m.flags)
        want = (km["type"], km["bytes_key"], km["bytes_value"], km["max_entries"], km["flags"])
        if m.is_global_data and not any(v.is_global for v in spec.variables.values() if v.map_name == name):
            # current libbpf makes a global-data map BPF_F_MMAPABLE only when a non-static
            # variable lives in it (map_is_mmapable), as pybpf does; the installed
            # bpftool's libbpf 1.1 always added the flag.
            assert not m.flags & BPF_F_MMAPABLE, name
            want = (*want[:4], want[4] & ~BPF_F_MMAPABLE)
        if m.type in (MapType.DEVMAP, MapType.DEVMAP_HASH):
            # the kernel itself makes devmaps read-only for programs (dev_map_alloc)
            want = (*want[:4], want[4] & ~BPF_F_RDONLY_PROG)
        assert got == want, name


def _dumped(spec: ObjectSpec, pin: Path) -> list[ProgramSpec]:
    if spec.name != "sections":
        return list(spec.programs.values())
    if not pin.name.endswith("_v3"):
        return []
    one_per_type: dict[object, ProgramSpec] = {}
    for prog in spec.programs.values():
        one_per_type.setdefault(prog.prog_type, prog)
    return list(one_per_type.values())


@pytest.mark.parametrize("loaded", _params(XLATED), indirect=True)
def test_xlated_dump_matches_the_kernel(loaded: tuple[ObjectSpec, Path]) -> None:
    spec, pin = loaded
    for prog in _dumped(spec, pin):
        kernel = _mask(
            _bpftool("prog", "dump", "xlated", "pinned", str(pin / prog.name), "linum")
        ).splitlines()
        ours = _mask("\n".join(xlated_lines(spec, prog, linum=True))).splitlines()
        if prog.name in REWRITTEN:
            assert [x for x in ours if x.startswith(";")][:3] == [x for x in kernel if x.startswith(";")][:3]
            assert ours[0] == kernel[0]  # the function's prototype from func_info
            continue
        assert ours == kernel, prog.name


_CORE_SPEC = re.compile(
    r"prog '(\w+)': relo #(\d+): <(\w+)> \[(\d+)\] [^(]*?(?:\((\d+(?::\d+)*) @ offset \d+\))?$"
)
_CORE_PATCH = re.compile(r"prog '(\w+)': relo #(\d+): patched insn #(\d+)")


@pytest.mark.parametrize("cpu", CPUS)
def test_core_records_are_the_ones_libbpf_reads(cpu: str) -> None:
    """The .BTF.ext CO-RE records of core.bpf.c, against libbpf's debug log of the same file.

    ``bpftool -d`` makes libbpf print each record it reads (kind, local type id,
    access string for field relocations) and the instruction it patches; the
    ProgramSpec's ``core_relos`` must be the same list in the same order.
    """
    obj = FIX / f"core.{cpu}.o"
    with _loadall(obj, "-d") as (_, log):
        pass
    logged: dict[int, list[object]] = {}
    for line in log.splitlines():
        if "candidate" in line:
            continue
        if m := _CORE_SPEC.search(line):
            logged[int(m.group(2))] = [m.group(3), int(m.group(4)), m.group(5)]
        elif m := _CORE_PATCH.search(line):
            logged[int(m.group(2))].append(int(m.group(3)))
    prog = ObjectSpec.from_file(obj).programs["core_relocs"]
    ours = [
        [r.kind.libbpf_name, r.type_id, r.access if r.kind.name.startswith("FIELD") else None, r.insn_idx]
        for r in prog.core_relos
    ]
    assert len(ours) >= 20
    assert [logged[i] for i in sorted(logged)] == ours


_ADDED = re.compile(r"prog '(\w+)': added (\d+) insns from sub-prog '(\w+)'")
_CALL_RELOC = re.compile(
    r"prog '(\w+)': insn #\d+ relocated, imm -?\d+ points to subprog '(\w+)' \(now at (\d+) offset\)"
)


@pytest.mark.parametrize("cpu", CPUS)
def test_subprogram_linking_is_libbpfs(cpu: str) -> None:
    """Which subprograms each program of subprogs.bpf.c gets, in which order, how long and
    where: libbpf logs each one it appends ("added N insns from sub-prog S") and where a
    call now points ("now at K offset"); the linked ProgramSpec must agree."""
    obj = FIX / f"subprogs.{cpu}.o"
    with _loadall(obj, "-d") as (_, log):
        pass
    spec = ObjectSpec.from_file(obj)
    added: dict[str, list[tuple[str, int]]] = {}
    placed: dict[str, dict[str, int]] = {}
    current = ""
    for line in log.splitlines():
        if m := _ADDED.search(line):
            current = m.group(1)
            added.setdefault(current, []).append((m.group(3), int(m.group(2))))
        elif m := _CALL_RELOC.search(line):
            current = m.group(1) if m.group(1) in spec.programs else current
            placed.setdefault(current, {})[m.group(2)] = int(m.group(3))
    assert set(added) == {p.name for p in spec.programs.values() if p.subprograms}
    for prog in spec.programs.values():
        starts: dict[str, int] = {}
        pc = 0
        for insn in prog.instructions:
            if insn.meta is not None and insn.meta.symbol:
                starts[insn.meta.symbol] = pc
            pc += insn.width
        ends = [*(starts[s] for s in prog.subprograms), pc][1:]
        ours = [(s, end - starts[s]) for s, end in zip(prog.subprograms, ends, strict=True)]
        assert ours == added.get(prog.name, []), prog.name
        for sub, at in placed.get(prog.name, {}).items():
            assert starts[sub] == at, (prog.name, sub)
