"""BTF parsing and queries on a clang-built object that uses every BTF kind, and on vmlinux."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from btf_util import KITCHEN_SOURCE, VMLINUX, compile_bpf
from pybpf.btf import (
    BTF,
    Array,
    Const,
    Datasec,
    DeclTag,
    Enum,
    Enum64,
    Float,
    Func,
    FuncLinkage,
    FuncProto,
    Fwd,
    Int,
    Kind,
    Ptr,
    Restrict,
    Struct,
    Typedef,
    TypeNotFoundError,
    TypeTag,
    Union,
    Var,
    VarLinkage,
    Void,
    Volatile,
)
from pybpf.btf.spec import elf_section
from pybpf.errors import BTFError


@pytest.fixture(scope="module")
def kitchen_obj(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_bpf(KITCHEN_SOURCE, tmp_path_factory.mktemp("btf"), "kitchen")


@pytest.fixture(scope="module")
def btf(kitchen_obj: Path) -> BTF:
    return BTF.from_file(kitchen_obj)


def test_kind_numbers_match_uapi() -> None:
    assert Kind.INT == 1 and Kind.STRUCT == 4 and Kind.FUNC_PROTO == 13
    assert Kind.DATASEC == 15 and Kind.DECL_TAG == 17 and Kind.TYPE_TAG == 18 and Kind.ENUM64 == 19


def test_every_kind_is_present(btf: BTF) -> None:
    kinds = {t.kind for t in btf.types}
    assert kinds == set(Kind), set(Kind) - kinds
    fwds = {t.name: t for t in btf.types if isinstance(t, Fwd)}
    assert not fwds["opaque"].is_union and fwds["opaque_u"].is_union
    assert isinstance(btf[0], Void) and btf.types[0].id == 0
    assert all(t.id == i for i, t in enumerate(btf.types))


def test_struct_with_bitfields(btf: BTF) -> None:
    bits = btf.find("bits", Kind.STRUCT)
    assert isinstance(bits, Struct) and bits.kind_flag and bits.size == 8
    by_name = {m.name: m for m in bits.members}
    assert (by_name["a"].bits_offset, by_name["a"].bitfield_size) == (0, 3)
    assert (by_name["b"].bits_offset, by_name["b"].bitfield_size) == (3, 5)
    assert (by_name["c"].bits_offset, by_name["c"].bitfield_size) == (8, 7)
    assert (by_name["d"].bits_offset, by_name["d"].bitfield_size) == (15, 40)
    assert by_name["tail"].bitfield_size == 0 and by_name["tail"].byte_offset == 7
    signed_c = btf.resolve(by_name["c"].type_id)
    assert isinstance(signed_c, Int) and signed_c.signed


def test_node_members_and_sizes(btf: BTF) -> None:
    node = btf.find("node")
    assert isinstance(node, Struct) and not node.kind_flag
    assert btf.sizeof(node.id) == node.size == 176
    member, bits = btf.find_member(node.id, "next")
    assert bits == 0 and isinstance(btf[member.type_id], Ptr)
    assert btf.resolve(btf[member.type_id].type_id) is node  # type: ignore[union-attr]
    # anonymous union member: 'l' found through it
    member, bits = btf.find_member(node.id, "l")
    assert bits == 832 and btf.sizeof(member.type_id) == 8
    assert btf.member_offset(node.id, "anon.y") == 768 + 32
    assert btf.member_offset(node.id, "arr[3][1]") == 512 + 3 * 64 + 32
    assert btf.member_offset(node.id, "b.d") == 192 + 15
    arr = btf.resolve(btf.find_member(node.id, "arr")[0].type_id)
    assert isinstance(arr, Array) and arr.nelems == 4 and btf.sizeof(arr.id) == 32
    with pytest.raises(TypeNotFoundError):
        btf.find_member(node.id, "nope")
    assert btf.alignof(node.id) == 16  # __int128 member


def test_modifiers_resolve_and_type_str(btf: BTF) -> None:
    node = btf.find("node")
    cvp = btf.find_member(node.id, "cvp")[0]
    assert btf.type_str(cvp.type_id) == "const volatile int *"
    ptr = btf[cvp.type_id]
    assert isinstance(ptr, Ptr)
    assert isinstance(btf[ptr.type_id], Const)
    assert isinstance(btf[btf[ptr.type_id].type_id], Volatile)  # type: ignore[union-attr]
    assert isinstance(btf.resolve(ptr.type_id), Int)
    rp = btf.find_member(node.id, "rp")[0]
    assert isinstance(btf[rp.type_id], Restrict) and btf.sizeof(rp.type_id) == 8
    tagged = btf[btf.find_member(node.id, "tagged_ptr")[0].type_id]
    assert isinstance(tagged, Ptr)
    tag = btf[tagged.type_id]
    assert isinstance(tag, TypeTag) and tag.name == "user"
    assert btf.resolve(tag.id).name == "int"
    u32 = btf.find("u32_t")
    assert isinstance(u32, Typedef) and btf.resolve(u32.id).name == "unsigned int"
    assert btf.name_of(u32.id) == "u32_t"


def test_function_pointer_proto(btf: BTF) -> None:
    cb = btf.find_member(btf.find("node").id, "callback")[0]
    proto = btf[btf[cb.type_id].type_id]  # type: ignore[union-attr]
    assert isinstance(proto, FuncProto) and proto.variadic
    assert [btf.type_str(p.type_id) for p in proto.params[:2]] == ["int", "const char *"]
    assert btf.type_str(cb.type_id) == "int (*)(int, const char *, ...) *"


def test_enums(btf: BTF) -> None:
    color = btf.find("color")
    assert isinstance(color, Enum) and color.signed
    assert [(v.name, v.value) for v in color.values] == [("RED", 0), ("GREEN", 5), ("BLUE", -3)]
    big = btf.find("big")
    assert isinstance(big, Enum64) and big.signed and big.size == 8
    assert dict((v.name, v.value) for v in big.values) == {
        "SMALL": 1,
        "HUGE": 0xFFFFFFFFFFFF,
        "NEGBIG": -0x100000000,
    }
    ubig = btf.find("ubig")
    assert isinstance(ubig, Enum64) and not ubig.signed and ubig.values[0].value == 0xFFFFFFFFFFFFFFF0
    ev = btf.find("ev", Kind.ENUM)
    assert isinstance(ev, Enum) and not ev.signed


def test_ints_and_floats(btf: BTF) -> None:
    flag = btf.find("_Bool")
    assert isinstance(flag, Int) and flag.bool and flag.nr_bits == 8
    i128 = btf.find("__int128")
    assert isinstance(i128, Int) and i128.size == 16 and i128.signed
    dbl = btf.find("double")
    assert isinstance(dbl, Float) and dbl.size == 8
    uni = btf.find("u")
    assert isinstance(uni, Union) and uni.size == 8 and len(uni.members) == 4


def test_funcs_vars_datasecs(btf: BTF) -> None:
    prog = btf.find("prog_xdp", Kind.FUNC)
    assert isinstance(prog, Func) and prog.linkage is FuncLinkage.GLOBAL
    helper = btf.find("helper_fn")
    assert isinstance(helper, Func) and helper.linkage is FuncLinkage.STATIC
    proto = btf[helper.type_id]
    assert isinstance(proto, FuncProto) and [p.name for p in proto.params] == ["n", "x"]
    static = btf.find("static_data")
    assert isinstance(static, Var) and static.linkage is VarLinkage.STATIC
    ext = btf.find("some_extern")
    assert isinstance(ext, Var) and ext.linkage is VarLinkage.GLOBAL_EXTERN
    sections = {t.name: t for t in btf.types if isinstance(t, Datasec)}
    assert {".bss", ".data", ".rodata", ".maps", "license"} <= set(sections)
    names = {btf[v.type_id].name for v in sections[".maps"].vars}
    assert names == {"nodes", "counters"}
    ro = sections[".rodata"].vars[0]
    assert btf[ro.type_id].name == "ro_config" and ro.size == 4


def test_btf_defined_map_shape(btf: BTF) -> None:
    """__uint(type, X) is a pointer to an array of X elements; __type(k, T) a pointer to T."""
    nodes = btf.find("nodes")
    assert isinstance(nodes, Var)
    spec = btf.resolve(nodes.type_id)
    assert isinstance(spec, Struct)
    fields = {m.name: m.type_id for m in spec.members}
    type_arr = btf[btf[fields["type"]].type_id]  # type: ignore[union-attr]
    assert isinstance(type_arr, Array) and type_arr.nelems == 1  # BPF_MAP_TYPE_HASH
    entries = btf[btf[fields["max_entries"]].type_id]  # type: ignore[union-attr]
    assert isinstance(entries, Array) and entries.nelems == 16
    value = btf[fields["value"]]
    assert isinstance(value, Ptr) and btf.resolve(value.type_id).name == "node"


def test_decl_tags(btf: BTF) -> None:
    tags = {t.name: t for t in btf.types if isinstance(t, DeclTag)}
    assert tags["tagged_struct"].component_idx == -1
    assert tags["field_tag"].component_idx == 12
    assert btf[tags["field_tag"].type_id].name == "node"
    assert tags["param_tag"].component_idx == 0 and btf[tags["param_tag"].type_id].name == "helper_fn"
    assert tags["global_func"].component_idx == -1


def test_find_and_strings(btf: BTF) -> None:
    assert btf.find_all("nope") == []
    with pytest.raises(TypeNotFoundError, match="nope"):
        btf.find("nope")
    with pytest.raises(KeyError):
        btf.find("node", Kind.UNION)
    with pytest.raises(TypeNotFoundError):
        btf[len(btf)]
    btf.find("node")
    off = btf.strings.find_offset("node")
    assert off is not None and btf.strings[off] == "node"
    assert btf.strings[0] == ""
    with pytest.raises(BTFError):
        btf.sizeof(btf.find("prog_xdp").id)


def test_types_are_frozen(btf: BTF) -> None:
    import dataclasses

    node = btf.find("node")
    with pytest.raises(dataclasses.FrozenInstanceError):
        node.name = "x"  # type: ignore[misc]


def test_big_endian_btf_parses_the_same(kitchen_obj: Path) -> None:
    little = elf_section(kitchen_obj.read_bytes(), ".BTF")
    big = swap_btf(little)
    a, b = BTF.parse(little), BTF.parse(big)
    assert a.types == b.types


def swap_btf(data: bytes) -> bytes:
    """Byte-swap a little-endian BTF blob field by field (what a big-endian clang emits)."""
    out = bytearray(data)
    magic, ver, flags, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from("<HBBIIIII", data)
    struct.pack_into(">HBBIIIII", out, 0, magic, ver, flags, hdr_len, type_off, type_len, str_off, str_len)

    def swap_words(start: int, count: int) -> None:
        for i in range(count):
            (w,) = struct.unpack_from("<I", data, start + 4 * i)
            struct.pack_into(">I", out, start + 4 * i, w)

    off = hdr_len + type_off
    end = off + type_len
    per = {4: 3, 5: 3, 6: 2, 13: 2, 15: 3, 19: 3}
    fixed = {1: 1, 3: 3, 14: 1, 17: 1}
    while off < end:
        (info,) = struct.unpack_from("<I", data, off + 4)
        kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
        words = 3 + fixed.get(kind, 0) + per.get(kind, 0) * vlen
        swap_words(off, words)
        off += 4 * words
    return bytes(out)


@pytest.mark.skipif(not VMLINUX.exists(), reason="no /sys/kernel/btf/vmlinux")
def test_vmlinux_queries() -> None:
    vm = BTF.from_file(VMLINUX)
    assert len(vm) > 10_000
    task = vm.find("task_struct", Kind.STRUCT)
    assert isinstance(task, Struct) and vm.sizeof(task.id) == task.size
    pid, bits = vm.find_member(task.id, "pid")
    assert bits % 8 == 0 and vm.sizeof(pid.type_id) == 4
    assert vm.type_str(vm.find("sk_buff").id) == "struct sk_buff"
    assert any(isinstance(t, Datasec) for t in vm.types)


@pytest.mark.skipif(not VMLINUX.exists(), reason="no /sys/kernel/btf/vmlinux")
def test_split_btf_over_vmlinux() -> None:
    """A hand-built split blob: ids and string offsets continue the base's."""
    base = BTF.from_file(VMLINUX)
    int_id = base.find("int", Kind.INT).id
    strs = b"mod_var\0mod_struct\0field\0"
    base_len = len(base.strings)
    types = struct.pack("<III", base_len + 8, (Kind.STRUCT << 24) | 1, 4)  # struct mod_struct
    types += struct.pack("<III", base_len + 19, int_id, 0)  #   int field
    types += struct.pack("<III", 0, Kind.PTR << 24, len(base))  # ptr -> mod_struct
    types += struct.pack("<III", base_len, Kind.VAR << 24, len(base)) + struct.pack("<I", 1)
    blob = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strs)) + types + strs
    split = BTF.parse(blob, base=base)
    assert split.first_id == len(base)
    assert len(split) == len(base) + 3
    st = split.find("mod_struct")
    assert st.id == len(base) and isinstance(st, Struct)
    assert split.resolve(st.members[0].type_id).name == "int"
    assert split.sizeof(len(base) + 1) == 8
    assert split.sizeof(len(base) + 2) == 4
    assert split[1] == base[1]
    assert [t.name for t in split.own_types] == ["mod_struct", "", "mod_var"]
    assert split.find("task_struct") is base.find("task_struct")
