"""``pybpf --backend kernel``: the same verbs on the running kernel, compared with ``bpftool -j``.

Objects are loaded with bpftool (the reference) and inspected by both tools in
separate processes; comparisons are by content (ids, names, types, sizes,
tags, map ids, entries).  Other tests may load programs concurrently, so only
our own objects are compared.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli_util import FIX, Pybpf

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(shutil.which("bpftool") is None, reason="needs bpftool as the reference"),
]
BPFFS = "/sys/fs/bpf"


def bpftool(*args: str) -> Any:
    proc = subprocess.run(["bpftool", "-j", *args], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout) if proc.stdout.strip() else None


@pytest.fixture
def loaded(tmp_path: Path) -> Iterator[tuple[Pybpf, str, dict[str, Any]]]:
    pin = f"{BPFFS}/pybpf_cli_{os.getpid()}"
    subprocess.run(["bpftool", "prog", "load", str(FIX / "xdp_parse_count.v3.o"), pin], check=True)
    extra: list[str] = []
    try:
        yield Pybpf(tmp_path), pin, bpftool("prog", "show", "pinned", pin)
    finally:
        for p in (pin, f"{pin}_p2", f"{pin}_m2", *extra):
            if os.path.lexists(p):
                os.unlink(p)


def _same(ours: dict[str, Any], ref: dict[str, Any], skip: tuple[str, ...] = ()) -> None:
    for key, value in ref.items():
        if key in skip:
            continue
        assert key in ours, f"missing {key} (bpftool has {value!r})"
        assert ours[key] == value, f"{key}: pybpf {ours[key]!r}, bpftool {value!r}"


def test_prog_map_btf_against_bpftool(loaded: tuple[Pybpf, str, dict[str, Any]]) -> None:
    pb, pin, ref = loaded
    k = ("--backend", "kernel", "-j")
    prog_id = str(ref["id"])
    ours = pb(*k, "prog", "show", "id", prog_id).json()
    _same(ours, ref, skip=("loaded_at",))
    assert abs(ours["loaded_at"] - ref["loaded_at"]) <= 1
    assert pb(*k, "prog", "show", "pinned", pin).json()["id"] == ref["id"]
    listed = {p["id"]: p for p in pb(*k, "prog", "list").json()}
    _same(listed[ref["id"]], ref, skip=("loaded_at",))

    for map_id in ref["map_ids"]:
        _same(pb(*k, "map", "show", "id", str(map_id)).json(), bpftool("map", "show", "id", str(map_id)))
    map_id = str(ref["map_ids"][0])
    pb(
        "--backend",
        "kernel",
        "map",
        "update",
        "id",
        map_id,
        "key",
        "6",
        "0",
        "0",
        "0",
        "value",
        "hex",
        *["01"] * 8,
    )
    ours_dump = pb(*k, "map", "dump", "id", map_id).json()
    assert ours_dump == bpftool("map", "dump", "id", map_id)
    assert any(e["formatted"] == {"key": 6, "value": 0x0101010101010101} for e in ours_dump)
    assert pb(*k, "map", "lookup", "id", map_id, "key", "6", "0", "0", "0").json()["value"] == ["0x01"] * 8

    xl = pb(*k, "prog", "dump", "xlated", "id", prog_id).json()
    ref_xl = bpftool("prog", "dump", "xlated", "id", prog_id)
    assert len(xl) == len(ref_xl)
    assert [r["disasm"][:4] for r in xl] == [r["disasm"][:4] for r in ref_xl]  # same opcodes, in order
    maps_in_code = {r["disasm"] for r in xl if "map[id:" in r["disasm"]}
    assert maps_in_code == {r["disasm"] for r in ref_xl if "map[id:" in r["disasm"]}

    btf_id = ref["btf_id"]
    ours_btf = {b["id"]: b for b in pb(*k, "btf", "show").json()}[btf_id]
    ref_btf = {b["id"]: b for b in bpftool("btf", "show")}[btf_id]
    assert sorted(ours_btf.pop("map_ids")) == sorted(ref_btf.pop("map_ids"))
    _same(ours_btf, ref_btf)

    # pins made by pybpf are seen by bpftool
    pb("--backend", "kernel", "prog", "pin", "id", prog_id, f"{pin}_p2")
    assert bpftool("prog", "show", "pinned", f"{pin}_p2")["id"] == ref["id"]
    pb("--backend", "kernel", "map", "pin", "id", map_id, f"{pin}_m2")
    assert bpftool("map", "show", "pinned", f"{pin}_m2")["id"] == int(map_id)
    err = pb.fails("--backend", "kernel", "prog", "show", "pinned", f"{pin}_missing").err
    assert "Error:" in err


def test_link_and_net_against_bpftool(loaded: tuple[Pybpf, str, dict[str, Any]]) -> None:
    from pybpf.kernel import links
    from pybpf.kernel import pin as kpin
    from pybpf.kernel.progs import KernelProgram

    pb, pin, ref = loaded
    dev = f"pbt{os.getpid() % 100000}"
    made = subprocess.run(
        ["ip", "link", "add", dev, "type", "veth", "peer", "name", f"{dev}p"], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot create a veth pair: {made.stderr.decode().strip()}")
    try:
        k = ("--backend", "kernel", "-j")
        subprocess.run(["bpftool", "net", "attach", "xdpgeneric", "pinned", pin, "dev", dev], check=True)
        assert pb(*k, "net", "show", "dev", dev).json() == bpftool("net", "show", "dev", dev)
        assert pb(*k, "net", "show", "dev", dev).json()[0]["xdp"][0]["id"] == ref["id"]
        subprocess.run(["bpftool", "net", "detach", "xdpgeneric", "dev", dev], check=True)

        prog = KernelProgram.from_fd(kpin.get_pinned(pin).release())
        link = links.attach_xdp(prog, socket.if_nametoindex(dev))
        try:
            ours = pb(*k, "link", "show", "id", str(link.id)).json()
            _same(ours, bpftool("link", "show", "id", str(link.id)))
            assert ours["devname"] == dev
            assert link.id in [entry["id"] for entry in pb(*k, "link", "show").json()]
            link_pin = f"{pin}_link"
            pb("--backend", "kernel", "link", "pin", "id", str(link.id), link_pin)
            try:
                assert bpftool("link", "show", "pinned", link_pin)["id"] == link.id
                assert pb(*k, "link", "show", "pinned", link_pin).json()["id"] == link.id
            finally:
                os.unlink(link_pin)
            net = pb(*k, "net", "show", "dev", dev).json()
            assert net == bpftool("net", "show", "dev", dev)
        finally:
            link.close()
            prog.close()
    finally:
        subprocess.run(["ip", "link", "del", dev], capture_output=True)


def test_feature_probe_kernel(tmp_path: Path) -> None:
    """Program types, map types and per-type helpers: bpftool's answers on this kernel."""
    from pybpf.uapi import HELPER_NAMES

    doc = Pybpf(tmp_path)("--backend", "kernel", "-j", "feature", "probe").json()
    ref = bpftool("feature", "probe", "kernel")
    for section in ("program_types", "map_types"):
        for key, value in ref[section].items():  # types this bpftool does not know yet may be extra
            assert doc[section][key] == value, (section, key)
    assert doc["program_types"]["have_xdp_prog_type"] is True
    assert doc["map_types"]["have_hash_map_type"] is True
    helper_id = {f"bpf_{name}": i for i, name in enumerate(HELPER_NAMES) if name}
    newest_known = max(helper_id[h] for names in ref["helpers"].values() for h in names)
    for key, names in ref["helpers"].items():
        extra = set(doc["helpers"][key]) - set(names)
        assert set(names) <= set(doc["helpers"][key]), key
        assert all(helper_id[h] > newest_known for h in extra), (
            key,
            extra,
        )  # only helpers newer than bpftool
    assert "bpf_trace_printk" not in doc["helpers"]["xdp_available_helpers"]  # noisy ones need 'full'
    full = Pybpf(tmp_path)("-j", "feature", "probe", "kernel", "full").json()
    assert "bpf_trace_printk" in full["helpers"]["xdp_available_helpers"]


def _rm(*paths: str) -> None:
    for p in paths:
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p, ignore_errors=True)
        elif os.path.lexists(p):
            os.unlink(p)


def test_prog_load_loadall_run_dump_against_bpftool(tmp_path: Path) -> None:
    """``--backend kernel prog load|loadall|run|dump xlated`` and ``btf dump`` next to bpftool's own."""
    pb = Pybpf(tmp_path)
    k = ("--backend", "kernel")
    obj = str(FIX / "xdp_srcip.v3.o")
    base = f"{BPFFS}/pybpf_i6_{os.getpid()}"
    ours, ref = f"{base}_p", f"{base}_ref"
    dirs = [f"{base}_{x}" for x in ("la", "lam", "rla", "rlam")]
    try:
        pb(*k, "prog", "load", obj, ours)
        subprocess.run(["bpftool", "prog", "load", obj, ref], check=True)
        mine = pb(*k, "-j", "prog", "show", "pinned", ours).json()
        theirs = bpftool("prog", "show", "pinned", ref)
        _same(mine, theirs, skip=("id", "loaded_at", "map_ids", "btf_id"))
        assert bpftool("prog", "show", "pinned", ours)["id"] == mine["id"]  # bpftool sees our pin
        assert len(mine["map_ids"]) == len(theirs["map_ids"])
        # the VM bpffs shows the tag this kernel gives the same program
        vm = Pybpf(tmp_path / "vmfs")
        vm("prog", "load", obj, "xs")
        assert vm("-j", "prog", "show", "pinned", "xs").json()["tag"] == theirs["tag"]

        # dump xlated of our load: exactly bpftool's JSON (func/line info, map ids, call names)
        for extra in ((), ("linum",), ("opcodes",)):
            assert pb(*k, "-j", "prog", "dump", "xlated", "pinned", ours, *extra).json() == bpftool(
                "prog", "dump", "xlated", "pinned", ours, *extra
            )
        text = subprocess.run(
            ["bpftool", "prog", "dump", "xlated", "pinned", ours, "linum"], capture_output=True, text=True
        ).stdout
        assert pb(*k, "prog", "dump", "xlated", "pinned", ours, "linum").out == text

        # btf dump of the program's BTF object, by id and through the prog and map
        btf_id = str(mine["btf_id"])
        assert pb(*k, "-j", "btf", "dump", "id", btf_id).json() == bpftool("btf", "dump", "id", btf_id)
        assert pb(*k, "-j", "btf", "dump", "prog", "pinned", ours).json() == bpftool(
            "btf", "dump", "prog", "pinned", ours
        )
        map_id = str(mine["map_ids"][0])
        for part in ((), ("key",), ("value",), ("all",)):
            assert pb(*k, "-j", "btf", "dump", "map", "id", map_id, *part).json() == bpftool(
                "btf", "dump", "map", "id", map_id, *part
            )

        # prog run on the loaded program: bpftool's retval
        frame = tmp_path / "frame"
        frame.write_bytes(bytes(64))
        got = pb(*k, "-j", "prog", "run", "pinned", ours, "data_in", str(frame), "repeat", "10").json()
        assert got["retval"] == bpftool("prog", "run", "pinned", ours, "data_in", str(frame))["retval"] == 2
        assert "Return value: 2" in pb(*k, "prog", "run", "pinned", ours, "data_in", str(frame)).out

        # loadall + pinmaps: the same file names bpftool (libbpf) gives, '.' -> '_'
        pb(*k, "prog", "loadall", obj, dirs[0], "pinmaps", dirs[1])
        subprocess.run(["bpftool", "prog", "loadall", obj, dirs[2], "pinmaps", dirs[3]], check=True)
        assert sorted(os.listdir(dirs[0])) == sorted(os.listdir(dirs[2])) == ["xdp_srcip"]
        assert sorted(os.listdir(dirs[1])) == sorted(os.listdir(dirs[3]))
        pinned_map = f"{dirs[1]}/pkt_count"
        _same(
            pb(*k, "-j", "map", "show", "pinned", pinned_map).json(),
            bpftool("map", "show", "pinned", f"{dirs[3]}/pkt_count"),
            skip=("id", "btf_id"),
        )
        # load reusing a pinned map: the program uses that very map
        reuse = f"{base}_reuse"
        dirs.append(reuse)
        pb(*k, "prog", "load", obj, reuse, "map", "name", "pkt_count", "pinned", pinned_map)
        assert (
            bpftool("map", "show", "pinned", pinned_map)["id"]
            in bpftool("prog", "show", "pinned", reuse)["map_ids"]
        )
        err = pb.fails(*k, "prog", "load", obj, f"{base}_x", "map", "name", "nope", "pinned", pinned_map).err
        assert "has no map named 'nope'" in err
        # a verifier rejection: one line with the verifier's reason; -d adds the whole log
        bad = (*k, "prog", "load", obj, f"{base}_bad", "type", "socket_filter")
        err = pb.fails(*bad).err
        assert "invalid mem access" in err and "-d prints it" in err
        debug = pb("-d", *bad, ok=False)
        assert debug.rc != 0 and "xdp_srcip.bpf.c:26" in debug.err and "Traceback" in debug.err
        assert not os.path.exists(f"{base}_bad")
    finally:
        _rm(ours, ref, *dirs)


def test_map_verbs_against_bpftool(tmp_path: Path) -> None:
    """``--backend kernel map create|update|lookup|getnext|delete|push|peek|pop|freeze`` by content."""
    pb = Pybpf(tmp_path)
    k = ("--backend", "kernel")
    h, q = f"{BPFFS}/pybpf_i6h_{os.getpid()}", f"{BPFFS}/pybpf_i6q_{os.getpid()}"
    pc = f"{BPFFS}/pybpf_i6pc_{os.getpid()}"
    key1 = ("key", "1", "0", "0", "0")
    try:
        pb(*k, "map", "create", h, "type", "hash", "key", "4", "value", "8", "entries", "8", "name", "i6h")
        _same(pb(*k, "-j", "map", "show", "pinned", h).json(), bpftool("map", "show", "pinned", h))
        pb(*k, "map", "update", "pinned", h, *key1, "value", "hex", "2a", *["00"] * 7)
        key2 = ("key", "2", "0", "0", "0")
        subprocess.run(["bpftool", "map", "update", "pinned", h, *key2, "value", *["7"] * 8], check=True)
        first = [str(int(b, 16)) for b in bpftool("map", "getnext", "pinned", h)["next_key"]]
        for args in (
            ("map", "lookup", "pinned", h, *key1),
            ("map", "lookup", "pinned", h, "key", "2", "0", "0", "0"),
            ("map", "getnext", "pinned", h),
            ("map", "getnext", "pinned", h, "key", *first),
            ("map", "dump", "pinned", h),
        ):
            assert pb(*k, "-j", *args).json() == bpftool(*args), args
        pb(*k, "map", "delete", "pinned", h, *key1)
        assert [e["key"] for e in bpftool("map", "dump", "pinned", h)] == [["0x02", "0x00", "0x00", "0x00"]]
        assert "not found" in pb.fails(*k, "map", "lookup", "pinned", h, *key1).err
        assert "key expected 4 bytes" in pb.fails(*k, "map", "lookup", "pinned", h, "key", "1").err
        pb(*k, "map", "freeze", "pinned", h)
        assert bpftool("map", "show", "pinned", h)["frozen"] == 1
        assert pb.fails(*k, "map", "update", "pinned", h, *key1, "value", *["0"] * 8).rc == 1

        pb(*k, "map", "create", q, "type", "queue", "key", "0", "value", "4", "entries", "4", "name", "i6q")
        pb(*k, "map", "push", "pinned", q, "value", "1", "0", "0", "0")
        pb(*k, "map", "enqueue", "pinned", q, "value", "2", "0", "0", "0")
        assert pb(*k, "-j", "map", "peek", "pinned", q).json() == bpftool("map", "peek", "pinned", q)
        assert pb(*k, "-j", "map", "pop", "pinned", q).json()["value"][0] == "0x01"
        assert bpftool("map", "dequeue", "pinned", q)["value"][0] == "0x02"
        assert "empty" in pb.fails(*k, "map", "dequeue", "pinned", q).err

        # per-CPU: an update sets every possible CPU's value; bpftool's "values" shape
        pb(
            *k,
            "map",
            "create",
            pc,
            "type",
            "percpu_hash",
            "key",
            "4",
            "value",
            "4",
            "entries",
            "4",
            "name",
            "i6pc",
        )
        pb(*k, "map", "update", "pinned", pc, *key1, "value", "5", "0", "0", "0")
        for args in (("map", "dump", "pinned", pc), ("map", "lookup", "pinned", pc, *key1)):
            assert pb(*k, "-j", *args).json() == bpftool(*args), args
    finally:
        _rm(h, q, pc)


TYPED_MAPS_C = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct flow { __u32 saddr; __u16 port; __u8 proto; __u8 flags[1]; };
struct stats { __u64 packets; __s32 delta; char tag[4]; };
enum verdict { PASS = 1, DROP = 2 };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 8);
         __type(key, struct flow); __type(value, struct stats); } flows SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 2);
         __type(key, __u32); __type(value, enum verdict); } verdicts SEC(".maps");

SEC("xdp") int typed(struct xdp_md *ctx)
{
    struct flow f = {};
    struct stats *s = bpf_map_lookup_elem(&flows, &f);
    __u32 k = 0;
    enum verdict *v = bpf_map_lookup_elem(&verdicts, &k);
    return (s ? 1 : 0) + (v ? 1 : 0);
}
char LICENSE[] SEC("license") = "GPL";
"""


def test_vm_map_dump_formatted_equals_bpftool_on_the_kernel(tmp_path: Path) -> None:
    """The same object in the VM bpffs and in the kernel, the same bytes written: same ``map dump -j``."""
    from btf_util import compile_bpf

    obj = str(compile_bpf(TYPED_MAPS_C, tmp_path, "typed"))
    pb = Pybpf(tmp_path / "fs")
    pin = f"{BPFFS}/pybpf_i6typed_{os.getpid()}"
    key = ("key", "hex", "0a", "00", "00", "01", "50", "00", "06", "ff")
    value = ("value", "hex", "03", *["00"] * 7, "fe", "ff", "ff", "ff", "61", "62", "00", "00")
    try:
        pb("prog", "load", obj, "/sys/fs/bpf/typed")
        subprocess.run(["bpftool", "prog", "load", obj, pin], check=True)
        ids = {m["name"]: m["id"] for m in (bpftool("map", "show", "id", str(i)) for i in _map_ids(pin))}
        pb("map", "update", "name", "flows", *key, *value)
        subprocess.run(["bpftool", "map", "update", "id", str(ids["flows"]), *key, *value], check=True)
        for one in ("0", "1"):
            k = ("key", one, "0", "0", "0")
            pb("map", "update", "name", "verdicts", *k, "value", "2", "0", "0", "0")
            subprocess.run(
                ["bpftool", "map", "update", "id", str(ids["verdicts"]), *k, "value", "2", "0", "0", "0"]
            )
        for name in ("flows", "verdicts"):
            vm = pb("-j", "map", "dump", "name", name).json()
            ref = bpftool("map", "dump", "id", str(ids[name]))
            assert vm == ref, name
            assert pb("--backend", "kernel", "-j", "map", "dump", "id", str(ids[name])).json() == ref, name
        assert vm[0]["formatted"]["values"][0]["value"] == "DROP"
    finally:
        _rm(pin)


def _map_ids(pin: str) -> list[int]:
    return list(bpftool("prog", "show", "pinned", pin)["map_ids"])
