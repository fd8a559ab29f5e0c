"""Bad objects get ObjectParseError / BTFError / NotSupportedError, with section and offset."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from pybpf.errors import BTFError, NotSupportedError, ObjectParseError
from pybpf.object import ObjectSpec

FIX = Path(__file__).parent / "bpf"
XDP = (FIX / "openat_ringbuf.v3.o").read_bytes()
needs_clang = pytest.mark.skipif(shutil.which("clang-19") is None, reason="needs clang-19")


def _sections(data: bytes) -> dict[str, tuple[int, int, int, int]]:
    """name -> (header offset, type, file offset, size)."""
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shnum, shstrndx = struct.unpack_from("<HH", data, 0x3C)
    str_off = struct.unpack_from("<Q", data, shoff + 64 * shstrndx + 0x18)[0]
    out = {}
    for i in range(shnum):
        base = shoff + 64 * i
        name_off, sh_type = struct.unpack_from("<II", data, base)
        off, size = struct.unpack_from("<QQ", data, base + 0x18)
        end = data.index(b"\0", str_off + name_off)
        out[data[str_off + name_off : end].decode()] = (base, sh_type, off, size)
    return out


def _compile(tmp_path: Path, source: str, *extra: str) -> bytes:
    src = tmp_path / "t.c"
    src.write_text(source)
    obj = tmp_path / "t.o"
    subprocess.run(
        ["clang-19", "-O2", "-g", "-c", *extra, str(src), "-o", str(obj), "-I/usr/include/x86_64-linux-gnu"],
        check=True,
        capture_output=True,
    )
    return obj.read_bytes()


@pytest.mark.parametrize("cut", [0, 3, 16, 63, 64, 200, len(XDP) // 2, len(XDP) - 1])
def test_truncated(cut: int) -> None:
    with pytest.raises(ObjectParseError):
        ObjectSpec.from_bytes(XDP[:cut])


def test_not_elf() -> None:
    with pytest.raises(ObjectParseError, match="not an ELF"):
        ObjectSpec.from_bytes(b"\x7fELX" + XDP[4:])


def test_wrong_machine() -> None:
    bad = bytearray(XDP)
    struct.pack_into("<H", bad, 18, 62)  # EM_X86_64
    with pytest.raises(ObjectParseError, match="EM_BPF") as info:
        ObjectSpec.from_bytes(bytes(bad))
    assert info.value.offset == 18


@needs_clang
def test_x86_object_rejected(tmp_path: Path) -> None:
    data = _compile(tmp_path, "int f(void) { return 1; }\n")
    with pytest.raises(ObjectParseError, match="e_machine 62"):
        ObjectSpec.from_bytes(data)


@needs_clang
def test_big_endian_rejected(tmp_path: Path) -> None:
    data = _compile(
        tmp_path, '__attribute__((section("xdp"))) int f(void *c) { return 2; }\n', "-target", "bpfeb"
    )
    with pytest.raises(NotSupportedError, match="big-endian"):
        ObjectSpec.from_bytes(data)


def test_missing_symtab() -> None:
    bad = bytearray(XDP)
    base, _, _, _ = _sections(XDP)[".symtab"]
    struct.pack_into("<I", bad, base + 4, 1)  # SHT_SYMTAB -> SHT_PROGBITS
    with pytest.raises(ObjectParseError, match="symbol table"):
        ObjectSpec.from_bytes(bytes(bad))


def test_relocation_outside_section() -> None:
    bad = bytearray(XDP)
    _, _, off, _ = _sections(XDP)[".reltracepoint/syscalls/sys_enter_openat"]
    struct.pack_into("<Q", bad, off, 0x10000)
    with pytest.raises(ObjectParseError, match="outside the code") as info:
        ObjectSpec.from_bytes(bytes(bad))
    assert info.value.section == "tracepoint/syscalls/sys_enter_openat" and info.value.offset == 0x10000


def test_relocation_into_middle_of_lddw() -> None:
    bad = bytearray(XDP)
    _, _, off, _ = _sections(XDP)[".reltracepoint/syscalls/sys_enter_openat"]
    r_offset = struct.unpack_from("<Q", XDP, off)[0]
    struct.pack_into("<Q", bad, off, r_offset + 8)
    with pytest.raises(ObjectParseError, match="middle of an instruction"):
        ObjectSpec.from_bytes(bytes(bad))


def test_bad_btf() -> None:
    bad = bytearray(XDP)
    _, _, off, _ = _sections(XDP)[".BTF"]
    bad[off : off + 2] = b"\x00\x00"
    with pytest.raises(BTFError, match=r"magic .*\(section \.BTF, offset 0x0\)") as info:
        ObjectSpec.from_bytes(bytes(bad))
    assert (info.value.section, info.value.offset) == (".BTF", 0)


def test_bad_btf_ext_names_section_and_offset() -> None:
    bad = bytearray(XDP)
    _, _, off, _ = _sections(XDP)[".BTF.ext"]
    struct.pack_into("<I", bad, off + 8, 0xFFFF)  # func_info_off far past the data
    with pytest.raises(BTFError, match=r"func_info .*\(section \.BTF\.ext, offset 0x") as info:
        ObjectSpec.from_bytes(bytes(bad))
    assert info.value.section == ".BTF.ext" and info.value.offset is not None


def test_section_past_end_of_file() -> None:
    bad = bytearray(XDP)
    base, _, _, _ = _sections(XDP)["license"]
    struct.pack_into("<Q", bad, base + 0x20, 1 << 40)
    with pytest.raises(ObjectParseError, match="past end of file") as info:
        ObjectSpec.from_bytes(bytes(bad))
    assert info.value.section == "license"


@needs_clang
def test_unknown_section_name(tmp_path: Path) -> None:
    data = _compile(
        tmp_path, '__attribute__((section("kprob/x"), used)) int f(void *c) { return 0; }\n', "-target", "bpf"
    )
    with pytest.raises(ObjectParseError, match="unknown program section") as info:
        ObjectSpec.from_bytes(data)
    assert info.value.section == "kprob/x" and "kprobe" in (info.value.hint or "")


@needs_clang
def test_static_call_within_program_section(tmp_path: Path) -> None:
    """Subprograms may live in the program's own section (no relocation: pc-relative)."""
    src = """
    __attribute__((noinline, section("xdp"))) static int helper(int x) { return x * 3; }
    __attribute__((section("xdp"), used)) int prog(void *c) { return helper((long)c & 7); }
    char LICENSE[] __attribute__((section("license"), used)) = "GPL";
    """
    spec = ObjectSpec.from_bytes(_compile(tmp_path, src, "-target", "bpf"))
    prog = spec.programs["prog"]
    assert list(spec.programs) == ["prog"] and prog.subprograms == ("helper",)
    calls = [i for i in prog.instructions if i.is_pseudo_call]
    assert calls and calls[0].meta is not None and calls[0].meta.reference == "helper"


_STRUCT_OPS_SRC = """
struct ops { int (*run)(void *ctx); int (*other)(void *ctx); char name[8]; };
__attribute__((section("struct_ops/run"), used)) int run_impl(void *ctx) { return 1; }
__attribute__((section("xdp"), used)) int xdp_impl(void *ctx) { return 2; }
__attribute__((section("%s"), used)) struct ops my_ops = { .run = (void *)%s, .name = "mine" };
"""


@needs_clang
def test_struct_ops_link_variable(tmp_path: Path) -> None:
    data = _compile(tmp_path, _STRUCT_OPS_SRC % (".struct_ops.link", "run_impl"), "-target", "bpf")
    spec = ObjectSpec.from_bytes(data)
    so = spec.struct_ops["my_ops"]
    assert (so.section, so.link, so.type_name, so.size) == (".struct_ops.link", True, "ops", 24)
    assert so.programs == (("run", "run_impl"),)
    assert so.data[16:21] == b"mine\0"


@needs_clang
def test_struct_ops_member_must_point_at_a_struct_ops_program(tmp_path: Path) -> None:
    data = _compile(tmp_path, _STRUCT_OPS_SRC % (".struct_ops", "xdp_impl"), "-target", "bpf")
    with pytest.raises(ObjectParseError, match="'xdp_impl', which is not a struct_ops program") as info:
        ObjectSpec.from_bytes(data)
    assert info.value.section == ".struct_ops" and info.value.offset == 0


@needs_clang
def test_version_section_is_kern_version(tmp_path: Path) -> None:
    src = """
    __attribute__((section("version"), used)) unsigned int _version = 0x050a00;
    __attribute__((section("license"), used)) char _license[] = "GPL";
    __attribute__((section("kprobe/do_unlinkat"), used)) int f(void *c) { return 0; }
    """
    spec = ObjectSpec.from_bytes(_compile(tmp_path, src, "-target", "bpf"))
    assert (spec.kern_version, spec.license) == (0x050A00, "GPL")
    assert spec.programs["f"].kern_version == 0x050A00
    short = src.replace("unsigned int _version = 0x050a00", "unsigned short _version = 5")
    with pytest.raises(ObjectParseError, match="4 bytes, has 2") as info:
        ObjectSpec.from_bytes(_compile(tmp_path, short, "-target", "bpf"))
    assert info.value.section == "version"


@needs_clang
def test_malformed_attach_extras_open_like_libbpf(tmp_path: Path) -> None:
    """SEC("uprobe/readline") has no binary: libbpf opens it and only auto-attach fails."""
    from pybpf.backends.kernel import can_auto_attach

    src = """
    __attribute__((section("uprobe/readline"), used)) int u(void *c) { return 0; }
    __attribute__((section("tp/sched_switch"), used)) int t(void *c) { return 0; }
    __attribute__((section("kprobe/do_unlinkat"), used)) int k(void *c) { return 0; }
    """
    spec = ObjectSpec.from_bytes(_compile(tmp_path, src, "-target", "bpf"))
    u, t, k = spec.programs["u"], spec.programs["t"], spec.programs["k"]
    assert u.attach is not None and u.attach.problem is not None and "uprobe/<path>" in u.attach.problem
    assert t.attach is not None and t.attach.problem is not None and t.attach.raw == "sched_switch"
    assert k.attach is not None and k.attach.problem is None and k.attach.symbol == "do_unlinkat"
    assert (can_auto_attach(u), can_auto_attach(t), can_auto_attach(k)) == (False, False, True)
