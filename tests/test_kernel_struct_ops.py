"""struct_ops in the real kernel: a TCP congestion control written in BPF, loaded and registered.

The fixtures (tests/bpf/struct_ops*.bpf.c) implement ``tcp_congestion_ops``.  These
tests load them through pybpf's kernel backend, register them (plain
``.struct_ops``: map update / delete; ``.struct_ops.link``: a struct_ops link),
check what the kernel then reports (the list of available congestion controls,
``bpftool struct_ops show``, the map value with program ids in it), use the
algorithm from a TCP connection inside a network namespace the test creates,
and check that closing unregisters it.

The algorithm names are global to the kernel, and xdist runs tests in parallel:
every test that creates these maps takes one file lock (conftest's
``struct_ops_registry``), and checks nothing of ours is left afterwards.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import needs_tools, struct_ops_maps, tcp_available_congestion_control
from pybpf.btf import BTF
from pybpf.errors import NotSupportedError, StructOpsError, VerifierError
from pybpf.kernel.btf_ids import KIND_STRUCT, find_type_id
from pybpf.kernel.struct_ops import plan_struct_ops
from pybpf.loaded import load
from pybpf.object.spec import ObjectSpec
from pybpf.uapi import MapFlag, MapType, ProgType

FIXTURES = Path(__file__).resolve().parent / "bpf"
VERSIONS = ("v1", "v3", "v4")

kernel = pytest.mark.kernel
available = tcp_available_congestion_control


def bpftool(*args: str) -> Any:
    out = subprocess.run(["bpftool", "-j", *args], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def pybpf_cli_run(*args: str, backend: str = "kernel") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
    cmd = [sys.executable, "-m", "pybpf", "--backend", backend, *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)


def pybpf_cli(*args: str) -> Any:
    done = pybpf_cli_run("-j", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# A connection inside a fresh network namespace (loopback only) that selects the
# algorithm by name, moves 4 MiB and reads the algorithm back from the socket.
SOCKET_SCRIPT = r"""
import socket, sys, threading
TCP_CONGESTION = 13
name = sys.argv[1].encode()
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
received = []
def serve():
    conn, _ = srv.accept()
    total = 0
    while chunk := conn.recv(65536):
        total += len(chunk)
    received.append(total)
    conn.close()
thread = threading.Thread(target=serve)
thread.start()
s = socket.socket()
s.setsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, name)
s.connect(srv.getsockname())
s.sendall(b"x" * (4 << 20))
print(s.getsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, 16).split(b"\0")[0].decode())
s.close()
thread.join()
print(received[0])
"""


def tcp_in_new_netns(algorithm: str) -> tuple[str, int]:
    """(algorithm the socket reports, bytes received) for one transfer in a new netns."""
    proc = subprocess.run(
        ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$0" -c "$1" "$2"',
         sys.executable, SOCKET_SCRIPT, algorithm],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    name, count = proc.stdout.split()
    return name, int(count)


@kernel
@needs_tools("bpftool")
@pytest.mark.parametrize("version", VERSIONS)
def test_struct_ops_object_loads(version: str, struct_ops_registry: None) -> None:
    """Programs of type struct_ops on the kernel's tcp_congestion_ops; a struct_ops map of its wrapper."""
    kernel_struct = find_type_id("tcp_congestion_ops", KIND_STRUCT)
    wrapper = find_type_id("bpf_struct_ops_tcp_congestion_ops", KIND_STRUCT)
    kernel_members = [m.name for m in BTF.from_file("/sys/kernel/btf/vmlinux").members(kernel_struct)]
    with load(FIXTURES / f"struct_ops.{version}.o", backend="kernel") as obj:
        info = obj.maps["pybpf_cc"].raw.info()
        assert (info.type, info.key_size, info.max_entries, info.flags) == (MapType.STRUCT_OPS, 4, 1, 0)
        assert info.btf_vmlinux_value_type_id == wrapper and info.btf_id > 0
        for member, prog_name in obj.spec.struct_ops["pybpf_cc"].programs:
            handle = obj.programs[prog_name].handle
            pinfo = handle.info()
            assert pinfo.type == ProgType.STRUCT_OPS and pinfo.attach_btf_id == kernel_struct
            assert int(handle.expected_attach_type) == kernel_members.index(member)


@kernel
@needs_tools("bpftool", "unshare", "ip")
@pytest.mark.parametrize("version", VERSIONS)
def test_register_use_from_tcp_and_unregister(version: str, struct_ops_registry: None) -> None:
    with load(FIXTURES / f"struct_ops.{version}.o", backend="kernel") as obj:
        assert "pybpf_cc" not in available()  # loaded, not yet registered
        links = obj.attach_all()
        assert len(links) == 1 and not links[0].is_bpf_link
        assert "pybpf_cc" in available()
        info = obj.maps["pybpf_cc"].raw.info()
        shown = struct_ops_maps()["pybpf_cc"]
        assert (shown["id"], shown["name"], shown["kernel_struct_ops"]) == (
            info.id,
            info.name,
            "tcp_congestion_ops",
        )
        # the kernel's copy of the value: state INUSE (1), then each member's program id
        value = obj.maps["pybpf_cc"].raw.lookup(bytes(4))
        assert struct.unpack_from("<I", value, 4)[0] == 1
        plan = plan_struct_ops(obj.spec.struct_ops["pybpf_cc"], obj.spec.btf)
        for slot in plan.slots:
            prog_id = obj.programs[slot.program].handle.info().id
            assert struct.unpack_from("<Q", value, slot.offset)[0] == prog_id, slot.member
        # a TCP connection in a network namespace of our own runs on it
        assert obj.global_bytes("cong_avoid_calls") == bytes(8)
        assert tcp_in_new_netns("pybpf_cc") == ("pybpf_cc", 4 << 20)
        assert struct.unpack("<Q", obj.global_bytes("cong_avoid_calls"))[0] > 0
    # closing the object unregistered it (the fixture checks bpftool too)
    assert "pybpf_cc" not in available()


@kernel
@needs_tools("bpftool")
def test_detach_unregisters_before_close(struct_ops_registry: None) -> None:
    with load(FIXTURES / "struct_ops.v3.o", backend="kernel") as obj:
        link = obj.attach_struct_ops("pybpf_cc")
        assert "pybpf_cc" in available()
        link.detach()
        assert "pybpf_cc" not in available()
        # the map lives on until the object closes, no longer in use (state != INUSE)
        assert struct.unpack_from("<I", obj.maps["pybpf_cc"].raw.lookup(bytes(4)), 4)[0] != 1
        link.detach()  # idempotent


@kernel
@needs_tools("bpftool", "unshare", "ip")
@pytest.mark.parametrize("version", VERSIONS)
def test_struct_ops_link(version: str, struct_ops_registry: None) -> None:
    """.struct_ops.link: BPF_F_LINK map; the update alone registers nothing, the link does."""
    with load(FIXTURES / f"struct_ops_link.{version}.o", backend="kernel") as obj:
        raw = obj.maps["pybpf_cc_link"].raw
        assert raw.info().flags == MapFlag.LINK
        (link,) = obj.attach_all()
        assert link.is_bpf_link and link.info().type.uapi_name == "struct_ops"
        assert "pybpf_cc_link" in available()
        assert struct_ops_maps()["pybpf_cc_link"]["id"] == raw.info().id
        assert bpftool("link", "show", "id", str(link.id))["type"] == "struct_ops"
        assert tcp_in_new_netns("pybpf_cc_link") == ("pybpf_cc_link", 4 << 20)
        link.detach()  # BPF_LINK_DETACH unregisters
        assert "pybpf_cc_link" not in available()
        assert struct.unpack_from("<I", raw.lookup(bytes(4)), 4)[0] != 1  # not INUSE
    with load(FIXTURES / f"struct_ops_link.{version}.o", backend="kernel") as obj:
        obj.attach_all()
        assert "pybpf_cc_link" in available()
    assert "pybpf_cc_link" not in available()  # the object's close closed the link


@kernel
@needs_tools("bpftool")
def test_cli_shows_struct_ops_objects_as_bpftool(struct_ops_registry: None) -> None:
    with (
        load(FIXTURES / "struct_ops.v3.o", backend="kernel") as obj,
        load(FIXTURES / "struct_ops_link.v3.o", backend="kernel") as lobj,
    ):
        obj.attach_all()
        (link,) = lobj.attach_all()
        for loaded, name in ((obj, "pybpf_cc"), (lobj, "pybpf_cc_link")):
            map_id = str(loaded.maps[name].raw.info().id)
            for args in (("map", "show", "id", map_id), ("map", "dump", "id", map_id)):
                assert pybpf_cli(*args) == bpftool(*args), args
            for program in loaded.programs.values():
                prog_id = str(program.handle.info().id)
                assert pybpf_cli("prog", "show", "id", prog_id) == bpftool("prog", "show", "id", prog_id)
        assert pybpf_cli("link", "show", "id", str(link.id)) == bpftool("link", "show", "id", str(link.id))


# -- bad input ------------------------------------------------------------------

BAD_SOURCE = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
struct sock;
struct tcp_congestion_ops {
	__u32 (*ssthresh)(struct sock *sk);
	%(extra)s
	char name[%(name_len)d];
} __attribute__((preserve_access_index));
SEC("struct_ops/bad_ssthresh")
__u32 BPF_PROG(bad_ssthresh, struct sock *sk) { return 2; }
SEC(".struct_ops")
struct tcp_congestion_ops pybpf_bad = {
	.ssthresh = (void *)bad_ssthresh,
	%(init)s
	.name = "pybpf_bad",
};
char LICENSE[] SEC("license") = "GPL";
"""


def clang_object(tmp_path: Path, name: str, source: str) -> ObjectSpec:
    """The parsed object clang-19 builds from ``source`` (what a user's build would give)."""
    src = tmp_path / f"{name}.bpf.c"
    src.write_text(source)
    obj = tmp_path / f"{name}.o"
    subprocess.run(
        ["clang-19", "-O2", "-g", "-target", "bpf", "-D__TARGET_ARCH_x86", "-I/usr/include/x86_64-linux-gnu",
         "-c", str(src), "-o", str(obj)],
        check=True, capture_output=True,
    )  # fmt: skip
    return ObjectSpec.from_file(obj)


def compile_bad(tmp_path: Path, *, extra: str = "", init: str = "", name_len: int = 16) -> ObjectSpec:
    return clang_object(tmp_path, "bad", BAD_SOURCE % {"extra": extra, "init": init, "name_len": name_len})


@kernel
@needs_tools("clang-19")
def test_member_the_kernel_lacks_is_a_typed_error(tmp_path: Path) -> None:
    spec = compile_bad(
        tmp_path,
        extra="__u32 (*no_such_hook)(struct sock *sk);",
        init=".no_such_hook = (void *)bad_ssthresh,",
    )
    with pytest.raises(StructOpsError, match="has no member 'no_such_hook'") as exc:
        load(spec, backend="kernel")
    assert (exc.value.struct_ops, exc.value.member) == ("pybpf_bad", "no_such_hook")
    # left zero, the same member is skipped (an object built for a newer kernel still loads)
    zero = compile_bad(tmp_path, extra="__u32 (*no_such_hook)(struct sock *sk);")
    plan = plan_struct_ops(zero.struct_ops["pybpf_bad"], zero.btf)
    assert [slot.member for slot in plan.slots] == ["ssthresh"]


@kernel
@needs_tools("clang-19")
def test_member_size_mismatch_is_a_typed_error(tmp_path: Path) -> None:
    spec = compile_bad(tmp_path, name_len=8)
    with pytest.raises(StructOpsError, match="member 'name' is 8 bytes here but 16 in the kernel"):
        load(spec, backend="kernel")


@kernel
@needs_tools("clang-19")
def test_data_member_that_is_a_function_pointer_in_the_kernel(tmp_path: Path) -> None:
    spec = compile_bad(tmp_path, extra="unsigned long undo_cwnd;", init=".undo_cwnd = 1,")
    with pytest.raises(StructOpsError, match="'undo_cwnd' is data here but a function pointer"):
        load(spec, backend="kernel")


@kernel
def test_struct_ops_program_outside_any_variable_is_refused() -> None:
    """sections_more's struct_ops.s/ program fills no .struct_ops member: nothing says what it implements."""
    spec = ObjectSpec.from_file(FIXTURES / "sections_more.v3.o")
    with pytest.raises(StructOpsError, match="fills no member") as exc:
        load(spec, backend="kernel", programs=["more_struct_ops_s"])
    assert exc.value.hint and "programs=" in exc.value.hint


@kernel
@needs_tools("bpftool")
def test_attaching_a_struct_ops_program_directly_points_at_the_map(struct_ops_registry: None) -> None:
    with load(FIXTURES / "struct_ops.v3.o", backend="kernel") as obj:
        with pytest.raises(NotSupportedError, match="attach_struct_ops"):
            obj.programs["pybpf_ssthresh"].attach()
        with pytest.raises(StructOpsError, match="no struct_ops variable named 'nope'"):
            obj.attach_struct_ops("nope")


@pytest.mark.parametrize("version", VERSIONS)
def test_vm_refuses_struct_ops_with_a_typed_error(version: str) -> None:
    """The VM has no TCP stack to call a congestion control from, and the kernel has no
    test_run for struct_ops: loading one in the VM is refused, naming the program type."""
    for fixture in ("struct_ops", "struct_ops_link"):
        with pytest.raises(NotSupportedError, match="struct_ops"):
            load(FIXTURES / f"{fixture}.{version}.o")


SLEEPY_SOURCE = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
struct sock;
struct tcp_congestion_ops {
	__u32 (*ssthresh)(struct sock *sk);
	char name[16];
} __attribute__((preserve_access_index));
SEC("%s/sleepy_ssthresh")
__u32 BPF_PROG(sleepy_ssthresh, struct sock *sk)
{
	char buf[4];

	bpf_copy_from_user(buf, sizeof(buf), (void *)0);  /* a helper that may sleep */
	return 2;
}
SEC(".struct_ops")
struct tcp_congestion_ops pybpf_sleepy = { .ssthresh = (void *)sleepy_ssthresh, .name = "pybpf_sleepy" };
char LICENSE[] SEC("license") = "GPL";
"""


@kernel
@needs_tools("clang-19")
def test_sleepable_struct_ops_program_is_loaded_sleepable(tmp_path: Path) -> None:
    """struct_ops.s/ reaches the kernel with BPF_F_SLEEPABLE: the verifier accepts a helper that
    may sleep there, and refuses the same program from struct_ops/."""
    specs = {sec: clang_object(tmp_path, sec, SLEEPY_SOURCE % sec) for sec in ("struct_ops.s", "struct_ops")}
    assert specs["struct_ops.s"].programs["sleepy_ssthresh"].sleepable
    with load(specs["struct_ops.s"], backend="kernel") as obj:
        assert obj.programs["sleepy_ssthresh"].handle.info().type == ProgType.STRUCT_OPS
    with pytest.raises(VerifierError, match="might sleep in a non-sleepable prog"):
        load(specs["struct_ops"], backend="kernel")


OTHER_STRUCT_SOURCE = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct %(struct)s {
	int (*open)(void *a, void *b);
} __attribute__((preserve_access_index));
SEC("struct_ops/other_open")
int other_open(unsigned long long *ctx) { return 0; }
SEC(".struct_ops")
struct %(struct)s pybpf_other = { .open = (void *)other_open };
char LICENSE[] SEC("license") = "GPL";
"""


@kernel
@needs_tools("clang-19")
@pytest.mark.parametrize(
    ("struct_name", "message"),
    [
        ("pybpf_no_such_ops", "the kernel has no struct pybpf_no_such_ops in its vmlinux BTF"),
        ("file_operations", "does not accept struct file_operations as struct_ops"),
    ],
)
def test_struct_the_kernel_does_not_offer(tmp_path: Path, struct_name: str, message: str) -> None:
    spec = clang_object(tmp_path, "other", OTHER_STRUCT_SOURCE % {"struct": struct_name})
    with pytest.raises(StructOpsError, match=message) as exc:
        load(spec, backend="kernel")
    assert exc.value.struct_ops == "pybpf_other"


@kernel
@needs_tools("bpftool")
def test_cli_register_show_unregister_as_bpftool(struct_ops_registry: None, tmp_path: Path) -> None:
    """``pybpf struct_ops register`` leaves pybpf_cc registered after pybpf exits; ``show`` matches
    ``bpftool -j struct_ops show``; ``unregister`` removes it (and the map with it)."""
    try:
        done = pybpf_cli_run("struct_ops", "register", str(FIXTURES / "struct_ops.v3.o"))
        assert done.returncode == 0, done.stderr
        assert "pybpf_cc" in available()
        shown = struct_ops_maps()["pybpf_cc"]
        assert done.stdout.strip() == f"Registered tcp_congestion_ops pybpf_cc id {shown['id']}"
        for args in ((), ("name", "pybpf_cc"), ("id", str(shown["id"]))):
            assert pybpf_cli("struct_ops", "show", *args) == bpftool("struct_ops", "show", *args), args
        done = pybpf_cli_run("struct_ops", "unregister", "name", "pybpf_cc")
        assert done.returncode == 0 and done.stdout.startswith("Unregistered tcp_congestion_ops pybpf_cc")
        assert "pybpf_cc" not in available()
        again = pybpf_cli_run("struct_ops", "unregister", "name", "pybpf_cc")
        assert again.returncode == 1 and again.stderr.strip() == "Error: no struct_ops found for pybpf_cc"
    finally:
        if "pybpf_cc" in available():
            subprocess.run(["bpftool", "struct_ops", "unregister", "name", "pybpf_cc"], check=False)


@kernel
@needs_tools("bpftool")
def test_cli_register_link_variant_pins_the_link(struct_ops_registry: None) -> None:
    obj = str(FIXTURES / "struct_ops_link.v3.o")
    refused = pybpf_cli_run("struct_ops", "register", obj)
    assert (
        refused.returncode == 1
        and "give LINK_DIR" in refused.stderr
        and len(refused.stderr.splitlines()) == 1
    )
    link_dir = f"/sys/fs/bpf/pybpf5_struct_ops_{os.getpid()}"
    os.makedirs(link_dir)
    try:
        done = pybpf_cli_run("struct_ops", "register", obj, link_dir)
        assert done.returncode == 0, done.stderr
        assert "pybpf_cc_link" in available()  # the pinned link keeps it registered
        assert os.listdir(link_dir) == ["pybpf_cc_link"]
    finally:
        for name in os.listdir(link_dir):
            os.unlink(os.path.join(link_dir, name))
        os.rmdir(link_dir)
    # the last reference to the link went with the pin: unregistered (the kernel frees it after an RCU
    # grace period, so wait for it)
    for _ in range(100):
        if "pybpf_cc_link" not in available() and struct_ops_maps() == {}:
            break
        time.sleep(0.05)
    assert "pybpf_cc_link" not in available()


def test_cli_struct_ops_needs_the_kernel_backend() -> None:
    done = pybpf_cli_run("struct_ops", "show", backend="vm")
    assert done.returncode == 1 and done.stderr.strip().startswith("Error: struct_ops live in the kernel")
