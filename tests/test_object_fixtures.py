"""ObjectSpec over the committed clang-built fixtures: exact programs, maps, variables, relocations.

Cross-checked against llvm-readelf-19 (symbols and relocations) where a tool
answer exists; other expectations come from the fixture sources.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pybpf.elf.sections import AttachKind
from pybpf.isa.codec import decode
from pybpf.isa.opcodes import CallSrc, PseudoSrc
from pybpf.object import (
    BPF_F_MMAPABLE,
    BPF_F_NO_PREALLOC,
    BPF_F_RDONLY_PROG,
    ExternKind,
    MapKind,
    ObjectSpec,
    PinType,
)
from pybpf.uapi import AttachType, MapType, ProgType

FIX = Path(__file__).parent / "bpf"
CPUS = ("v1", "v3", "v4")
ALL = sorted(FIX.glob("*.o"))


def load(name: str, cpu: str = "v3") -> ObjectSpec:
    return ObjectSpec.from_file(FIX / f"{name}.{cpu}.o")


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_every_fixture_parses_deterministically(path: Path) -> None:
    data = path.read_bytes()
    a = ObjectSpec.from_file(path)
    b = ObjectSpec.from_bytes(data, name=path.name.split(".")[0][:15])
    assert a == b
    assert ObjectSpec.from_bytes(data) == ObjectSpec.from_bytes(data)
    for prog in a.programs.values():
        assert prog.instructions[0].meta is not None and prog.instructions[0].meta.symbol == prog.name


@pytest.mark.parametrize("cpu", CPUS)
def test_xdp_pass_exact(cpu: str) -> None:
    spec = load("xdp_pass", cpu)
    assert spec.license == "Dual MIT/GPL" and spec.kern_version == 0
    assert list(spec.programs) == ["xdp_pass"] and spec.maps == {} and spec.externs == {}
    prog = spec.programs["xdp_pass"]
    assert (prog.section, prog.prog_type, prog.expected_attach_type) == ("xdp", ProgType.XDP, AttachType.XDP)
    assert prog.attach is None and not prog.sleepable and not prog.frags
    mov = "b7" if cpu == "v1" else "b4"  # llvm-objdump-19 -d: r0 = 0x2 (v1), w0 = 0x2 (v3, v4)
    assert prog.instructions == tuple(decode(bytes.fromhex(mov + "000000020000009500000000000000")))
    assert [f.name for f in prog.func_info] == ["xdp_pass"]


@pytest.mark.parametrize("cpu", CPUS)
def test_openat_ringbuf(cpu: str) -> None:
    spec = load("openat_ringbuf", cpu)
    prog = spec.programs["trace_openat"]
    assert prog.prog_type == ProgType.TRACEPOINT and prog.expected_attach_type is None
    assert prog.attach is not None and prog.attach.kind is AttachKind.TRACEPOINT
    assert (prog.attach.category, prog.attach.name) == ("syscalls", "sys_enter_openat")
    events = spec.maps["events"]
    assert (events.type, events.max_entries, events.key_size, events.value_size) == (
        MapType.RINGBUF,
        256 * 1024,
        0,
        0,
    )
    refs = [(i, insn) for i, insn in enumerate(prog.instructions) if insn.meta and insn.meta.reference]
    assert [insn.meta.reference for _, insn in refs] == ["events"]  # type: ignore[union-attr]
    _, lddw = refs[0]
    assert lddw.is_lddw and lddw.src == PseudoSrc.MAP_FD and lddw.imm == 0


def _readelf_relocs(path: Path, section: str) -> list[tuple[int, str]]:
    out = subprocess.run(
        ["llvm-readelf-19", "-r", str(path)], capture_output=True, text=True, check=True
    ).stdout
    relocs: list[tuple[int, str]] = []
    inside = False
    for line in out.splitlines():
        if line.startswith("Relocation section"):
            inside = f"'.rel{section}'" in line
            continue
        m = re.match(r"\s*([0-9a-f]{16})\s+[0-9a-f]+\s+(\S+)\s+[0-9a-f]+\s+(\S+)", line)
        if inside and m:
            relocs.append((int(m.group(1), 16), m.group(3)))
    return relocs


@pytest.mark.skipif(shutil.which("llvm-readelf-19") is None, reason="needs llvm-readelf-19")
@pytest.mark.parametrize("name", ["xdp_srcip", "xdp_parse_count", "maps_legacy", "kprobe", "openat_ringbuf"])
def test_relocations_match_readelf(name: str) -> None:
    """Every relocation llvm-readelf lists lands on an instruction carrying a reference."""
    path = FIX / f"{name}.v3.o"
    spec = ObjectSpec.from_file(path)
    for prog in spec.programs.values():
        if prog.subprograms:
            continue
        slot_refs = {}
        pc = 0
        for insn in prog.instructions:
            if insn.meta and insn.meta.reference:
                slot_refs[pc * 8] = insn.meta.reference
            pc += insn.width
        readelf = _readelf_relocs(path, prog.section)
        assert sorted(slot_refs) == sorted(off for off, _ in readelf)
        for off, sym in readelf:
            target = spec.maps.get(slot_refs[off])
            assert target is not None
            assert (
                sym == target.name
                or (sym.startswith(".") and target.section == sym)
                or target.kind is not MapKind.BTF
            )


def test_xdp_srcip_rodata_value_references() -> None:
    spec = load("xdp_srcip")
    ro = spec.maps["xdp_srci.rodata"]
    assert ro.kind is MapKind.RODATA and ro.section == ".rodata" and ro.readonly
    assert ro.flags == BPF_F_RDONLY_PROG  # only static format strings: not mmapable
    assert b"Received Source IP: %pI4" in (ro.data or b"")
    prog = spec.programs["xdp_srcip"]
    values = [i for i in prog.instructions if i.meta and i.meta.reference == "xdp_srci.rodata"]
    assert len(values) == 2 and all(i.src == PseudoSrc.MAP_VALUE for i in values)
    offsets = sorted(i.imm_hi for i in values)
    assert offsets[0] == 0 and ro.data is not None
    assert ro.data[offsets[1] :].startswith(b"Received Source IPv6: %pI6")


def test_maps_btf_definitions() -> None:
    spec = load("maps_btf")
    m = spec.maps
    assert (m["flows"].type, m["flows"].key_size, m["flows"].value_size, m["flows"].max_entries) == (
        MapType.HASH,
        16,
        16,
        1024,
    )
    assert m["numa_hash"].flags == 0x5 and m["routes"].flags == BPF_F_NO_PREALLOC
    assert m["routes"].type == MapType.LPM_TRIE and (m["routes"].key_size, m["routes"].value_size) == (8, 4)
    assert m["pybpf_fixture_pinned"].pinning is PinType.BY_NAME
    assert m["seen"].type == MapType.BLOOM_FILTER and m["seen"].map_extra == 3 and m["seen"].key_size == 0
    assert (m["rb"].type, m["rb"].max_entries) == (MapType.RINGBUF, 4096)
    assert (m["fifo"].type, m["lifo"].type) == (MapType.QUEUE, MapType.STACK)
    outer = m["outer_array"]
    assert outer.type == MapType.ARRAY_OF_MAPS and outer.value_size == 4 and outer.max_entries == 4
    assert outer.initial_values == ((0, "inner0"), (2, "inner1"))
    assert outer.inner is not None and (outer.inner.type, outer.inner.value_size) == (MapType.ARRAY, 8)
    hom = m["outer_hash"]
    assert hom.type == MapType.HASH_OF_MAPS and hom.inner is not None and hom.inner.type == MapType.HASH
    jmp = m["jmp_table"]
    assert jmp.type == MapType.PROG_ARRAY and jmp.initial_values == ((0, "tail_a"), (2, "tail_b"))
    assert list(spec.programs) == ["tail_a", "tail_b", "xdp_use_maps"]
    key_t = m["flows"].key_type_id
    assert key_t is not None and spec.btf is not None and spec.btf.sizeof(key_t) == 16


def test_maps_legacy() -> None:
    spec = load("maps_legacy")
    c, h = spec.maps["legacy_counts"], spec.maps["legacy_hash"]
    assert (c.type, c.key_size, c.value_size, c.max_entries, c.flags, c.kind) == (
        MapType.ARRAY,
        4,
        8,
        4,
        0,
        MapKind.LEGACY,
    )
    assert (h.type, h.key_size, h.value_size, h.max_entries, h.flags) == (MapType.HASH, 4, 4, 128, 1)
    prog = spec.programs["legacy_socket"]
    assert prog.prog_type == ProgType.SOCKET_FILTER and prog.expected_attach_type is None
    refs = {i.meta.reference for i in prog.instructions if i.meta and i.meta.reference}
    assert refs == {"legacy_counts", "legacy_hash"}


def test_globals_maps_variables_externs() -> None:
    spec = load("globals")
    assert list(spec.maps) == [
        "globals.data",
        "globals.rodata",
        ".data.foo",
        ".rodata.bar",
        "globals.bss",
        ".rodata.cst4",
    ]
    data, ro, bss = spec.maps["globals.data"], spec.maps["globals.rodata"], spec.maps["globals.bss"]
    assert (data.type, data.key_size, data.max_entries, data.value_size) == (MapType.ARRAY, 4, 1, 12)
    assert data.flags == BPF_F_MMAPABLE and data.data == b"\x05\x00\x00\x00hello\x00\x00\x00"
    assert ro.flags == BPF_F_RDONLY_PROG | BPF_F_MMAPABLE and ro.readonly
    assert bss.kind is MapKind.BSS and bss.data == bytes(80)
    assert spec.maps[".rodata.cst4"].flags == BPF_F_RDONLY_PROG  # only a static variable
    v = spec.variables
    assert (v["greeting"].map_name, v["greeting"].offset, v["greeting"].size) == ("globals.data", 4, 8)
    assert (v["ro_magic"].section, v["ro_magic"].offset) == (".rodata", 8)
    assert (v["foo_array"].map_name, v["foo_array"].offset, v["foo_array"].size) == (".data.foo", 8, 32)
    assert v["weights"].is_global is False
    assert spec.btf is not None and spec.btf.type_str(v["foo_array"].type_id) == "__u64[4]"  # type: ignore[arg-type]
    e = spec.externs
    assert {n: (x.kind, x.weak, x.is_func) for n, x in e.items()} == {
        "_stext": (ExternKind.KSYM, True, False),
        "LINUX_KERNEL_VERSION": (ExternKind.KCONFIG, False, False),
        "CONFIG_HZ": (ExternKind.KCONFIG, False, False),
        "CONFIG_BPF_LSM": (ExternKind.KCONFIG, True, False),
        "CONFIG_PYBPF_DOES_NOT_EXIST": (ExternKind.KCONFIG, True, False),
        "bpf_task_acquire": (ExternKind.KSYM, False, True),
        "bpf_task_release": (ExternKind.KSYM, False, True),
    }
    tp = spec.programs["count_new_tasks"]
    assert (tp.prog_type, tp.expected_attach_type) == (ProgType.TRACING, AttachType.TRACE_RAW_TP)
    assert tp.attach is not None and tp.attach.name == "task_newtask"
    kfunc_calls = [i for i in tp.instructions if i.is_call and i.src == CallSrc.KFUNC]
    assert [i.meta.reference for i in kfunc_calls] == ["bpf_task_acquire", "bpf_task_release"]  # type: ignore[union-attr]
    kconfig = [
        i for i in spec.programs["xdp_globals"].instructions if i.meta and i.meta.reference == "CONFIG_HZ"
    ]
    assert kconfig and all(i.src == 0 and i.imm == 0 for i in kconfig)  # left for the loader


def test_typed_ksym_becomes_btf_id_load() -> None:
    spec = load("ksym_typed")
    prog = spec.programs["read_prog_active"]
    ld = [i for i in prog.instructions if i.meta and i.meta.reference == "bpf_prog_active"]
    assert ld and all(i.src == PseudoSrc.BTF_ID for i in ld)


@pytest.mark.parametrize("cpu", CPUS)
def test_subprograms_linked_in_libbpf_order(cpu: str) -> None:
    spec = load("subprogs", cpu)
    assert list(spec.programs) == ["xdp_sub_a", "xdp_sub_b", "tc_sub_a", "tc_sub_b"]
    assert spec.programs["xdp_sub_a"].subprograms == ("sum_to", "add")
    assert spec.programs["xdp_sub_b"].subprograms == ("loop_sum", "loop_body", "pkt_len_of")
    assert spec.programs["tc_sub_a"].subprograms == ("sum_elem",)
    assert spec.programs["tc_sub_b"].subprograms == ("scale", "add")
    for prog in spec.programs.values():
        starts = {}
        pc = 0
        for insn in prog.instructions:
            if insn.meta and insn.meta.symbol:
                starts[insn.meta.symbol] = pc
            pc += insn.width
        assert [f.name for f in prog.func_info] == [prog.name, *prog.subprograms]
        assert [f.insn_off for f in prog.func_info] == [starts[n] for n in (prog.name, *prog.subprograms)]
        pc = 0
        for insn in prog.instructions:
            if insn.is_pseudo_call or (insn.is_lddw and insn.src == PseudoSrc.FUNC):
                rel = insn.imm if insn.is_call else insn.imm_lo - ((insn.imm_lo >> 31) << 32)
                assert insn.meta is not None and starts[insn.meta.reference] == pc + rel + 1  # type: ignore[index]
            pc += insn.width
    callback = [i for i in spec.programs["xdp_sub_b"].instructions if i.is_lddw and i.src == PseudoSrc.FUNC]
    assert [i.meta.reference for i in callback] == ["loop_body"]  # type: ignore[union-attr]


def test_line_info_attached() -> None:
    spec = load("xdp_pass")
    prog = spec.programs["xdp_pass"]
    assert prog.line_info and prog.line_info[0][0] == 0
    line = prog.instructions[0].meta.line  # type: ignore[union-attr]
    assert line is not None and line.file.endswith("xdp_pass.bpf.c") and line.line > 0


def test_sections_fixture_types() -> None:
    spec = load("sections")
    p = spec.programs
    assert p["sec_uprobe"].attach is not None and (
        p["sec_uprobe"].attach.path,
        p["sec_uprobe"].attach.symbol,
    ) == (
        "/bin/bash",
        "readline",
    )
    assert p["sec_uprobe_s"].sleepable and p["sec_xdp_frags"].frags
    assert p["sec_xdp_fdevmap"].expected_attach_type == AttachType.XDP_DEVMAP and p["sec_xdp_fdevmap"].frags
    assert p["sec_cg_sock_release"].expected_attach_type == AttachType.CGROUP_INET_SOCK_RELEASE
    assert p["sec_iter_task"].expected_attach_type == AttachType.TRACE_ITER


def test_toplevel_lazy_export() -> None:
    import pybpf

    assert pybpf.ObjectSpec is ObjectSpec


def _readelf_json(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["llvm-readelf-19", "--elf-output-style=JSON", "-S", "-s", "-r", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    doc: dict[str, Any] = json.loads(out)[0]
    return doc


@pytest.mark.skipif(shutil.which("llvm-readelf-19") is None, reason="needs llvm-readelf-19")
@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_programs_maps_and_relocations_are_the_symbol_tables(path: Path) -> None:
    """Every fixture, every -mcpu, against llvm-readelf-19's symbol and relocation tables.

    Programs are the global functions of executable sections other than .text (a
    static one there is a subprogram); BTF and legacy maps are the objects of
    ``.maps`` / ``maps``; each relocation inside a program's own function lands on an
    instruction that references what the relocation's symbol names (the map, the
    data section's map, the extern, the called function), and every map, data or
    extern reference in that function comes from a relocation.
    """
    elf = _readelf_json(path)
    spec = ObjectSpec.from_file(path)
    sections = {s["Section"]["Index"]: s["Section"] for s in elf["Sections"]}
    executable = {i for i, s in sections.items() if s["Flags"]["Value"] & 0x4}
    symbols = [s["Symbol"] for s in elf["Symbols"]]

    def sec_name(sym: dict[str, Any]) -> str:
        return str(sections.get(sym["Section"]["Value"], {}).get("Name", {}).get("Name", ""))

    entries = {
        s["Name"]["Name"]: s
        for s in symbols
        if s["Type"]["Name"] == "Function"
        and s["Binding"]["Name"] == "Global"
        and s["Section"]["Value"] in executable
        and sec_name(s) != ".text"
    }
    assert sorted(spec.programs) == sorted(entries)
    map_objects = {
        s["Name"]["Name"]
        for s in symbols
        if sec_name(s) in (".maps", "maps") and s["Type"]["Name"] == "Object"
    }
    assert map_objects == {m.name for m in spec.maps.values() if m.kind in (MapKind.BTF, MapKind.LEGACY)}

    relocs = {
        sections[r["SectionIndex"]]["Info"]: [x["Relocation"] for x in r["Relocs"]]
        for r in elf["Relocations"]
    }
    for prog in spec.programs.values():
        entry = entries[prog.name]
        start, end = entry["Value"], entry["Value"] + entry["Size"]
        by_slot: dict[int, Any] = {}
        pc = 0
        for insn in prog.instructions:
            if pc * 8 >= end - start:
                break
            by_slot[pc] = insn
            pc += insn.width
        from_relocs: set[int] = set()
        for rel in relocs.get(entry["Section"]["Value"], []):
            if not start <= rel["Offset"] < end:
                continue
            slot = (rel["Offset"] - start) // 8
            from_relocs.add(slot)
            insn = by_slot[slot]
            ref = insn.meta.reference if insn.meta is not None else None
            assert ref is not None, (prog.name, rel)
            sym = symbols[rel["Symbol"]["Value"]]
            name, where = sym["Name"]["Name"], sec_name(sym)
            if where in (".maps", "maps") or sym["Section"]["Value"] == 0:  # a map, an extern
                assert ref == name, (prog.name, rel)
            elif sym["Section"]["Value"] in executable:  # a called or callback function
                assert ref == name or ref in (prog.name, *prog.subprograms), (prog.name, rel)
            else:  # global data: the section's array map
                assert spec.maps[ref].section == where, (prog.name, rel)
        data_refs = {
            slot
            for slot, insn in by_slot.items()
            if insn.meta is not None
            and insn.meta.reference is not None
            and insn.is_lddw
            and insn.src != PseudoSrc.FUNC
        }
        assert data_refs <= from_relocs, prog.name


@pytest.mark.parametrize("cpu", CPUS)
def test_sections_more_exact(cpu: str) -> None:
    spec = load("sections_more", cpu)
    got = {
        name: (
            p.prog_type,
            p.expected_attach_type,
            p.sleepable,
            p.attach.kind if p.attach else None,
            (p.attach.path, p.attach.name) if p.attach else None,
        )
        for name, p in spec.programs.items()
    }
    bash = "/bin/bash"
    assert got == {
        "more_uretprobe_s": (ProgType.KPROBE, None, True, AttachKind.UPROBE, (bash, "readline")),
        "more_uprobe_session": (
            ProgType.KPROBE,
            AttachType.TRACE_UPROBE_SESSION,
            False,
            AttachKind.MULTI_UPROBE,
            (bash, "readline*"),
        ),
        "more_uprobe_multi_s": (
            ProgType.KPROBE,
            AttachType.TRACE_UPROBE_MULTI,
            True,
            AttachKind.MULTI_UPROBE,
            (bash, "readline*"),
        ),
        "more_uretprobe_multi_s": (
            ProgType.KPROBE,
            AttachType.TRACE_UPROBE_MULTI,
            True,
            AttachKind.MULTI_UPROBE,
            (bash, "readline*"),
        ),
        "more_uprobe_session_s": (
            ProgType.KPROBE,
            AttachType.TRACE_UPROBE_SESSION,
            True,
            AttachKind.MULTI_UPROBE,
            (bash, "readline*"),
        ),
        "more_usdt_s": (
            ProgType.KPROBE,
            None,
            True,
            AttachKind.USDT,
            ("/usr/lib/x86_64-linux-gnu/libc.so.6", "setjmp"),
        ),
        "more_fmod_ret_s": (
            ProgType.TRACING,
            AttachType.MODIFY_RETURN,
            True,
            AttachKind.BTF,
            (None, "bpf_modify_return_test"),
        ),
        "more_sk_skb_verdict": (ProgType.SK_SKB, AttachType.SK_SKB_VERDICT, False, None, None),
        "more_struct_ops_s": (ProgType.STRUCT_OPS, None, True, AttachKind.STRUCT_OPS, (None, "pybpf_init")),
    }
    assert spec.programs["more_usdt_s"].attach.provider == "libc"  # type: ignore[union-attr]


def test_every_sec_table_row_has_a_fixture_program() -> None:
    """Each row of the SEC table is exercised by a program of a real clang-built object."""
    from pybpf.elf.sections import SECTION_DEFS, find_sec_def

    used = set()
    for path in FIX.glob("*.v3.o"):
        for prog in ObjectSpec.from_file(path).programs.values():
            sec = find_sec_def(prog.section)
            assert sec is not None
            used.add(sec.pattern)
    assert [d.pattern for d in SECTION_DEFS if d.pattern not in used] == []


@pytest.mark.parametrize("cpu", CPUS)
def test_struct_ops_variable(cpu: str) -> None:
    """SEC(".struct_ops") pybpf_cc: its struct, its bytes and which program fills which member."""
    spec = load("struct_ops", cpu)
    assert list(spec.struct_ops) == ["pybpf_cc"] and list(spec.maps) == ["struct_o.bss"]
    so = spec.struct_ops["pybpf_cc"]
    assert (so.section, so.link, so.type_name, so.size) == (".struct_ops", False, "tcp_congestion_ops", 40)
    assert so.programs == (
        ("ssthresh", "pybpf_ssthresh"),
        ("cong_avoid", "pybpf_cong_avoid"),
        ("undo_cwnd", "pybpf_undo_cwnd"),
    )
    # three function pointers (left 0: relocations) then name[16] = "pybpf_cc"
    assert so.data == bytes(24) + b"pybpf_cc".ljust(16, b"\0")
    assert all(spec.programs[p].prog_type == ProgType.STRUCT_OPS for _, p in so.programs)
