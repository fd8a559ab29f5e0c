"""The kernel backend: a whole clang-built object loaded into the running kernel.

What libbpf does between ``bpf_object__open`` and ``bpf_object__load``, in pure
Python over :mod:`pybpf.kernel`: the object's BTF is fixed up and loaded; maps
are created with their BTF key/value types (retrying without BTF for map types
that refuse it), inner maps from their template, pins reused or created under
bpffs for ``LIBBPF_PIN_BY_NAME``; global data maps get their initial bytes and
``.rodata``/``.kconfig`` are frozen; programs are loaded with map fds, Kconfig
values, ksym addresses and kfunc BTF ids patched into their instructions, with
func_info/line_info, and prog arrays / maps of maps are filled afterwards.
"""

from __future__ import annotations

import errno as _errno
import os
import re
import struct
from dataclasses import replace
from typing import Any

from ..elf.sections import AttachKind
from ..errors import KernelError, MapError, NotSupportedError, ObjectParseError, StructOpsError
from ..isa.instruction import Instruction
from ..isa.opcodes import CallSrc, PseudoSrc
from ..kernel import links as klinks
from ..kernel.btf_ids import KIND_FUNC, KIND_TYPEDEF, find_type_id
from ..kernel.btf_load import KernelBTF, load_btf
from ..kernel.cpus import possible_cpus
from ..kernel.maps import KernelMap, create_map
from ..kernel.objload import (
    KCONFIG_SEC,
    KconfigLayout,
    Ksym,
    build_kconfig,
    frozen_after_init,
    kconfig_map_spec,
    kernel_version_code,
    line_info_records,
    prepare_btf,
    resolve_ksyms,
    string_offsets,
)
from ..kernel.pin import BPFFS, ensure_bpffs, get_pinned, pin_fd
from ..kernel.progs import KernelProgram, ProgFlags, load_program
from ..kernel.struct_ops import StructOpsPlan, plan_struct_ops, program_targets, register
from ..maps.typed import TypedMap
from ..object.spec import MapKind, MapSpec, ObjectSpec, PinType, ProgramSpec
from ..runtime.mapview import MapView
from ..uapi import AttachType, MapType, ProgType
from .testrun import TestRun

_KEY0 = bytes(4)
_NAME_BAD = re.compile(r"[^A-Za-z0-9_.]")
_OBJ_NAME_MAX = 15

_FD_VALUE_MAPS = frozenset({MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS, MapType.PROG_ARRAY})

# Map types the kernel refuses BTF key/value types for (libbpf drops them too).
_NO_BTF_MAPS = frozenset(
    {
        MapType.PERF_EVENT_ARRAY,
        MapType.CGROUP_ARRAY,
        MapType.ARRAY_OF_MAPS,
        MapType.HASH_OF_MAPS,
        MapType.PROG_ARRAY,
        MapType.RINGBUF,
        MapType.USER_RINGBUF,
        MapType.QUEUE,
        MapType.STACK,
        MapType.BLOOM_FILTER,
        MapType.DEVMAP,
        MapType.DEVMAP_HASH,
        MapType.CPUMAP,
        MapType.XSKMAP,
        MapType.SOCKMAP,
        MapType.SOCKHASH,
        MapType.STACK_TRACE,
    }
)


class KernelMapView(MapView):
    """What ``obj.maps["name"]`` is in the kernel backend: the VM's view over a KernelMap.

    The raw API is the KernelMap's; ``view[key]`` converts through the object's
    BTF key/value types exactly as in the VM, and program arrays / maps of maps
    take loaded programs and maps as values (stored as their fds).
    """

    __slots__ = ("_btf", "_key_type", "_value_type")

    def __init__(self, raw: KernelMap, btf: Any, key_type: int | None, value_type: int | None) -> None:
        super().__init__(raw)
        self._btf = btf
        self._key_type = key_type
        self._value_type = value_type

    @property
    def typed(self) -> TypedMap:
        if self._typed is None:
            btf = self._btf if (self._key_type or self._value_type) else None
            self._typed = TypedMap(self.raw, self._key_type, self._value_type, btf=btf)
        return self._typed

    def __setitem__(self, key: Any, value: Any) -> None:
        if self.raw.map_type in _FD_VALUE_MAPS:
            target = getattr(value, "handle", None) or getattr(value, "raw", None) or value
            fd = target if isinstance(target, int) else target.fd
            self.raw.update(self.typed.key_codec.encode(key), struct.pack("<I", fd))
            return
        self.typed[key] = value


class PinMismatchError(MapError):
    """A map pinned at the path a map asks for has a different shape."""


def kernel_object_name(name: str) -> str:
    """A name the kernel accepts: at most 15 bytes of [A-Za-z0-9_.] (libbpf truncates too)."""
    return _NAME_BAD.sub("_", name)[:_OBJ_NAME_MAX]


def _btf_attach_id(spec: ProgramSpec) -> int:
    """attach_btf_id in vmlinux for tp_btf / fentry / fexit / fmod_ret / lsm / iter programs."""
    target = spec.attach
    name = target.name if target is not None else None
    if not name:
        raise ObjectParseError(f"program {spec.name}: section {spec.section} names no BTF attach target")
    eat = spec.expected_attach_type
    if eat == AttachType.TRACE_RAW_TP:
        return find_type_id(f"btf_trace_{name}", KIND_TYPEDEF)
    if eat in (AttachType.LSM_MAC, AttachType.LSM_CGROUP):
        return find_type_id(f"bpf_lsm_{name}", KIND_FUNC)
    if eat == AttachType.TRACE_ITER:
        return find_type_id(f"bpf_iter_{name}", KIND_FUNC)
    return find_type_id(name, KIND_FUNC)


class KernelBackend:
    """One object's maps, programs and BTF in the kernel; ``close`` releases every fd."""

    name = "kernel"

    def __init__(self, *, pin_root: str = BPFFS, log_level: int = 0, log_size: int | None = None) -> None:
        self.pin_root = pin_root
        self.log_level = log_level
        self.log_size = log_size
        self.btf: KernelBTF | None = None
        self._spec: ObjectSpec | None = None
        self._kconfig: KconfigLayout | None = None
        self._kconfig_map: str | None = None
        self._ksyms: dict[str, Ksym] = {}
        self._strings: dict[str, int] = {}
        self._maps: list[KernelMap] = []
        self._programs: list[KernelProgram] = []
        self._links: list[klinks.Link] = []
        self.reused_pins: set[str] = set()
        self._struct_ops: dict[str, StructOpsPlan] = {}
        self._struct_ops_targets: dict[str, tuple[int, int]] = {}
        self._struct_ops_maps: dict[str, KernelMap] = {}
        self._loaded: dict[str, KernelProgram] = {}

    # -- whole-object steps ------------------------------------------------------
    def prepare(self, spec: ObjectSpec) -> ObjectSpec:
        """Resolve externs, load the object's BTF; returns the spec with a ``.kconfig`` map added."""
        self._spec = spec
        self._kconfig = build_kconfig(spec)
        self._ksyms = resolve_ksyms(spec)
        if spec.btf is not None:
            raw = prepare_btf(spec, self._kconfig)
            self.btf = load_btf(raw, log_level=0)
            self._strings = string_offsets(spec.btf)
        if spec.struct_ops:
            spec = self._prepare_struct_ops(spec)
        if self._kconfig is None:
            return spec
        kmap = kconfig_map_spec(spec, self._kconfig)
        if spec.btf is not None:
            sec = spec.btf.find_all(KCONFIG_SEC)
            if sec:
                kmap = replace(kmap, value_type_id=sec[0].id)
        self._kconfig_map = kmap.name
        maps = dict(spec.maps)
        maps[kmap.name] = kmap
        return replace(spec, maps=maps)

    def _prepare_struct_ops(self, spec: ObjectSpec) -> ObjectSpec:
        """Match each struct_ops variable against the kernel's struct; add its map to the spec."""
        if spec.btf is None:
            raise ObjectParseError("struct_ops variables need the object's BTF, which is missing")
        maps = dict(spec.maps)
        for name, so in spec.struct_ops.items():
            if name in maps:
                raise StructOpsError(
                    f"struct_ops {name}: a map of the same name already exists", struct_ops=name
                )
            plan = plan_struct_ops(so, spec.btf)
            self._struct_ops[name] = plan
            maps[name] = MapSpec(
                name, MapType.STRUCT_OPS, 4, plan.value_size, 1,
                flags=plan.map_flags, kind=MapKind.STRUCT_OPS, section=so.section,
            )  # fmt: skip
        self._struct_ops_targets = program_targets(self._struct_ops)
        return replace(spec, maps=maps)

    def finalize(self, maps: dict[str, Any], programs: dict[str, Any]) -> None:
        """Fill maps of maps and prog arrays from their initial values, once every fd exists."""
        if self._spec is None:
            return
        for name, mspec in self._spec.maps.items():
            if mspec.type not in _FD_VALUE_MAPS or name in self.reused_pins:
                continue
            source = programs if mspec.type == MapType.PROG_ARRAY else maps
            for index, ref in mspec.initial_values:
                target = source.get(ref)
                if target is None:
                    if mspec.type == MapType.PROG_ARRAY:
                        continue  # program not loaded (filtered out)
                    raise ObjectParseError(f"map {name}: initial value refers to unknown map {ref!r}")
                maps[name].update(struct.pack("<I", index), struct.pack("<I", target.fd))

    # -- maps -------------------------------------------------------------------------
    def _create(self, spec: MapSpec, inner_fd: int | None) -> KernelMap:
        max_entries = spec.max_entries
        if spec.type == MapType.PERF_EVENT_ARRAY and max_entries == 0:
            max_entries = possible_cpus()
        use_btf = (
            self.btf is not None
            and spec.type not in _NO_BTF_MAPS
            and (spec.key_type_id is not None or spec.value_type_id is not None)
        )
        kwargs: dict[str, Any] = {
            "flags": spec.flags,
            "name": kernel_object_name(spec.name),
            "map_extra": spec.map_extra,
            "inner_map_fd": inner_fd,
        }
        if spec.numa_node:
            kwargs["numa_node"] = spec.numa_node
        if use_btf and self.btf is not None:
            try:
                return create_map(
                    spec.type, spec.key_size, spec.value_size, max_entries,
                    btf_fd=self.btf.fd, btf_key_type_id=spec.key_type_id or 0,
                    btf_value_type_id=spec.value_type_id or 0, **kwargs,
                )  # fmt: skip
            except MapError as exc:
                if exc.errno not in (_errno.EINVAL, _errno.ENOTSUP, 524):
                    raise
        return create_map(spec.type, spec.key_size, spec.value_size, max_entries, **kwargs)

    def _pin_path(self, spec: MapSpec) -> str:
        return os.path.join(self.pin_root, spec.name)

    def _reuse_pin(self, spec: MapSpec, path: str) -> KernelMap:
        bpf_map = KernelMap.from_fd(get_pinned(path).release())
        expected_entries = spec.max_entries or (
            possible_cpus() if spec.type == MapType.PERF_EVENT_ARRAY else 0
        )
        mismatch = [
            label
            for label, have, want in (
                ("type", int(bpf_map.map_type), int(spec.type)),
                ("key_size", bpf_map.key_size, spec.key_size),
                ("value_size", bpf_map.value_size, spec.value_size),
                ("max_entries", bpf_map.max_entries, expected_entries),
                ("flags", bpf_map.flags, spec.flags),
            )
            if have != want
        ]
        if mismatch:
            bpf_map.close()
            raise PinMismatchError(
                f"map {spec.name}: pinned map at {path} differs in {', '.join(mismatch)}", map_name=spec.name
            )
        return bpf_map

    def create_map(self, spec: MapSpec) -> KernelMapView:
        """The map as ``obj.maps[name]``: a typed view over the raw KernelMap."""
        btf = self._spec.btf if self._spec is not None else None
        return KernelMapView(self._create_raw(spec), btf, spec.key_type_id, spec.value_type_id)

    def _create_raw(self, spec: MapSpec) -> KernelMap:
        plan = self._struct_ops.get(spec.name) if spec.kind is MapKind.STRUCT_OPS else None
        if plan is not None and self.btf is not None:
            # the kernel wants the object's BTF even though the value type is vmlinux's
            so_map = create_map(
                MapType.STRUCT_OPS, 4, plan.value_size, 1, flags=plan.map_flags,
                name=kernel_object_name(spec.name), btf_fd=self.btf.fd,
                btf_vmlinux_value_type_id=plan.value_type_id,
            )  # fmt: skip
            self._maps.append(so_map)
            self._struct_ops_maps[spec.name] = so_map
            return so_map
        if spec.pinning == PinType.BY_NAME:
            if self.pin_root == BPFFS:
                ensure_bpffs(self.pin_root)
            path = self._pin_path(spec)
            if os.path.exists(path):
                bpf_map = self._reuse_pin(spec, path)
                self._maps.append(bpf_map)
                self.reused_pins.add(spec.name)
                return bpf_map
        inner_fd: int | None = None
        template: KernelMap | None = None
        if spec.inner is not None:
            template = self._create(spec.inner, None)
            inner_fd = template.fd
        try:
            bpf_map = self._create(spec, inner_fd)
        finally:
            if template is not None:
                template.close()
        self._maps.append(bpf_map)
        if spec.data is not None:
            bpf_map.update(_KEY0, spec.data.ljust(spec.value_size, b"\0"))
        if spec.data is not None and frozen_after_init(spec):
            bpf_map.freeze()
        if spec.pinning == PinType.BY_NAME:
            pin_fd(bpf_map.fd, self._pin_path(spec))
        return bpf_map

    # -- programs ---------------------------------------------------------------------
    def _relocate(self, prog: ProgramSpec, insn: Instruction, maps: dict[str, Any]) -> Instruction:
        meta = insn.meta
        ref = meta.reference if meta is not None else None
        if insn.is_call and insn.src == CallSrc.KFUNC:
            ksym = self._ksyms.get(ref or "")
            if ksym is None:
                raise ObjectParseError(f"program {prog.name}: kfunc call to unknown extern {ref!r}")
            return replace(insn, imm=ksym.btf_id, off=0)
        if not insn.is_lddw or ref is None:
            return insn
        if insn.src in (PseudoSrc.MAP_FD, PseudoSrc.MAP_VALUE):
            bpf_map = maps.get(ref)
            if bpf_map is None:
                raise ObjectParseError(f"program {prog.name}: lddw refers to unknown map {ref!r}")
            if insn.src == PseudoSrc.MAP_FD:
                return replace(insn, imm=bpf_map.fd)
            return replace(insn, imm=bpf_map.fd | (insn.imm_hi << 32))
        if insn.src not in (PseudoSrc.IMM64, PseudoSrc.BTF_ID):
            return insn
        if self._kconfig is not None and ref in self._kconfig.offsets and self._kconfig_map is not None:
            kmap = maps[self._kconfig_map]
            offset = self._kconfig.offsets[ref] + insn.imm_lo
            return replace(insn, src=PseudoSrc.MAP_VALUE, imm=kmap.fd | (offset << 32))
        ksym = self._ksyms.get(ref)
        if ksym is not None:
            if ksym.typed:
                if not ksym.btf_id:
                    return replace(insn, imm=0)
                return replace(insn, src=PseudoSrc.BTF_ID, imm=ksym.btf_id)
            return replace(insn, imm=ksym.address)
        return insn

    def load_program(self, spec: ProgramSpec, maps: dict[str, Any]) -> KernelProgram:
        expected_attach_type: AttachType | int | None = spec.expected_attach_type
        attach_btf_id = 0
        if spec.prog_type == ProgType.STRUCT_OPS:
            target = self._struct_ops_targets.get(spec.name)
            if target is None:
                raise StructOpsError(
                    f"program {spec.name}: a struct_ops program that fills no member of any "
                    ".struct_ops variable (the kernel needs the struct and member it implements)",
                    struct_ops=None,
                    hint="load only the programs you use (programs=[...]), as libbpf skips unused ones",
                )
            attach_btf_id, expected_attach_type = target
        if spec.prog_type == ProgType.EXT:
            raise NotSupportedError(f"program {spec.name}: freplace needs a target program fd (not yet)")
        insns = [self._relocate(spec, insn, maps) for insn in spec.instructions]
        flags = 0
        if spec.sleepable:
            flags |= ProgFlags.SLEEPABLE
        if spec.frags:
            flags |= ProgFlags.XDP_HAS_FRAGS
        if spec.prog_type in (ProgType.TRACING, ProgType.LSM):
            attach_btf_id = _btf_attach_id(spec)
        func_info = b""
        line_info = b""
        if self.btf is not None:
            func_info = b"".join(struct.pack("<II", fi.insn_off, fi.type_id) for fi in spec.func_info)
            line_info = line_info_records(self._strings, spec.line_info)
        kern_version = spec.kern_version or (
            kernel_version_code() if spec.prog_type == ProgType.KPROBE else 0
        )
        program = load_program(
            insns,
            spec.prog_type,
            name=kernel_object_name(spec.name),
            license=spec.license or "GPL",
            expected_attach_type=expected_attach_type,
            kern_version=kern_version,
            prog_flags=flags,
            attach_btf_id=attach_btf_id,
            prog_btf_fd=self.btf.fd if self.btf is not None and func_info else None,
            func_info=func_info,
            line_info=line_info if func_info else b"",
            log_level=self.log_level,
            log_size=self.log_size,
        )
        self._programs.append(program)
        self._loaded[spec.name] = program
        return program

    def test_run(
        self,
        program: Any,
        *,
        data_in: bytes = b"",
        ctx_in: bytes | None = None,
        repeat: int = 1,
        data_size_out: int | None = None,
        flags: int = 0,
    ) -> TestRun:
        if program.prog_type == ProgType.RAW_TRACEPOINT:
            # bpf_prog_test_run_raw_tp() refuses repeat and ctx_out: one run, retval only.
            if repeat > 1:
                raise KernelError(
                    "BPF_PROG_TEST_RUN", _errno.EINVAL, detail="raw_tracepoint test runs run once (repeat 0)"
                )
            result: TestRun = program.test_run(data_in, ctx_in, 0, data_size_out, ctx_size_out=0, flags=flags)
            return result
        # room for the whole context struct in ctx_out, so a short ctx_in (zero-extended
        # by the kernel) is not an ENOSPC, as in the VM
        ctx_out = max(len(ctx_in), _CTX_OUT_SIZE.get(program.prog_type, 0)) if ctx_in else None
        result = program.test_run(data_in, ctx_in, repeat, data_size_out, ctx_size_out=ctx_out, flags=flags)
        return result

    # -- attach / pin -------------------------------------------------------------------
    def attach(self, program: Any, spec: ProgramSpec, target: Any = None, **options: Any) -> klinks.Link:
        """Attach as libbpf's auto-attach does from the section; XDP/tc/cgroup need ``target``."""
        link = attach_program(program, spec, target, **options)
        self._links.append(link)
        return link

    def attach_struct_ops(self, name: str) -> klinks.Link:
        """Register the struct_ops variable ``name`` with the kernel; closing the Link unregisters."""
        plan = self._struct_ops.get(name)
        bpf_map = self._struct_ops_maps.get(name)
        if plan is None or bpf_map is None:
            raise StructOpsError(f"no struct_ops variable named {name!r} in this object", struct_ops=name)
        link = register(bpf_map, plan, {n: p.fd for n, p in self._loaded.items()})
        self._links.append(link)
        return link

    def struct_ops_ready(self, name: str) -> bool:
        """True when every program the struct_ops variable ``name`` needs is loaded."""
        plan = self._struct_ops.get(name)
        return plan is not None and all(slot.program in self._loaded for slot in plan.slots)

    def pin(self, handle: Any, path: str) -> None:
        pin_fd(handle.fd, path)

    def close(self) -> None:
        for link in self._links:
            link.close()
        for program in self._programs:
            program.close()
        for bpf_map in self._maps:
            bpf_map.close()
        if self.btf is not None:
            self.btf.close()
            self.btf = None
        self._links.clear()
        self._programs.clear()
        self._maps.clear()
        self._loaded.clear()
        self._struct_ops_maps.clear()


#: sizeof(struct xdp_md) / sizeof(struct __sk_buff): what test_run writes back as ctx_out.
_CTX_OUT_SIZE = {
    ProgType.XDP: 24,
    ProgType.SCHED_CLS: 192,
    ProgType.SCHED_ACT: 192,
    ProgType.SOCKET_FILTER: 192,
    ProgType.CGROUP_SKB: 192,
}


def can_auto_attach(spec: ProgramSpec) -> bool:
    """True when the section alone says where to attach (no interface/cgroup needed)."""
    if spec.attach is not None and spec.attach.problem is not None:
        return False  # malformed extras: attach by hand, as libbpf allows
    kind = spec.attach.kind if spec.attach is not None else AttachKind.NONE
    if kind in (AttachKind.TRACEPOINT, AttachKind.RAW_TRACEPOINT, AttachKind.KPROBE, AttachKind.SYSCALL):
        return True
    if kind == AttachKind.UPROBE:
        return spec.attach is not None and bool(spec.attach.path)
    return (
        kind == AttachKind.BTF
        and spec.prog_type in (ProgType.TRACING, ProgType.LSM)
        and (spec.expected_attach_type != AttachType.TRACE_ITER)
    )


def _syscall_prefix() -> str:
    import platform

    return {"x86_64": "__x64_sys_", "aarch64": "__arm64_sys_"}.get(platform.machine(), "sys_")


def attach_program(
    program: KernelProgram, spec: ProgramSpec, target: Any = None, **options: Any
) -> klinks.Link:
    """One attachment for ``program`` following its section (see :func:`can_auto_attach`).

    ``options``: ``cookie``; XDP ``generic``/``flags``; tc ``direction``; uprobes
    ``pid``; and for any kprobe-type program ``binary`` (+ ``symbol``, ``offset``,
    ``retprobe``) to attach it as a uprobe there instead of where the section says.
    """
    ptype = spec.prog_type
    at = spec.attach
    cookie = int(options.get("cookie", 0))
    retprobe = spec.section.startswith(("kretprobe", "uretprobe", "kretsyscall"))
    if ptype == ProgType.XDP:
        if target is None:
            raise NotSupportedError(
                f"program {spec.name}: XDP needs an interface (index or name) to attach to"
            )
        mode = int(options.get("flags", klinks.XDPFlags.SKB_MODE if options.get("generic", True) else 0))
        return klinks.attach_xdp(program, target, mode)
    if ptype == ProgType.SCHED_CLS:
        if target is None:
            raise NotSupportedError(
                f"program {spec.name}: tc needs an interface (index or name) to attach to"
            )
        eat = spec.expected_attach_type
        direction = options.get("direction") or (
            eat if eat in (AttachType.TCX_INGRESS, AttachType.TCX_EGRESS) else AttachType.TCX_INGRESS
        )
        return klinks.attach_tcx(program, target, direction)
    if ptype.uapi_name.startswith("cgroup") or ptype == ProgType.SOCK_OPS:
        if target is None:
            raise NotSupportedError(f"program {spec.name}: cgroup programs need a cgroup path to attach to")
        return klinks.attach_cgroup(program, target, spec.expected_attach_type)
    if ptype == ProgType.STRUCT_OPS:
        raise NotSupportedError(
            f"program {spec.name}: struct_ops programs run when their struct_ops variable is "
            "registered: attach the object (attach_all / attach_struct_ops(name))"
        )
    if ptype == ProgType.KPROBE and options.get("binary"):
        # libbpf's bpf_program__attach_uprobe: any kprobe-type program, on a binary + symbol.
        binary = str(options["binary"])
        offset = int(options.get("offset", 0))
        if options.get("symbol"):
            offset += elf_symbol_offset(binary, str(options["symbol"]))
        return klinks.attach_uprobe(
            program, binary, offset, retprobe=bool(options.get("retprobe", retprobe)),
            pid=int(options.get("pid", -1)), cookie=cookie,
        )  # fmt: skip
    if at is None:
        raise NotSupportedError(f"program {spec.name}: section {spec.section!r} does not say where to attach")
    if at.problem is not None:
        raise NotSupportedError(
            f"program {spec.name}: section {spec.section!r} does not say where to attach: {at.problem}"
        )
    if at.kind == AttachKind.TRACEPOINT and at.category and at.name:
        return klinks.attach_tracepoint(program, at.category, at.name, cookie=cookie)
    if at.kind == AttachKind.RAW_TRACEPOINT and at.name:
        return klinks.attach_raw_tracepoint(program, at.name, cookie=cookie)
    if at.kind == AttachKind.KPROBE and at.symbol:
        return klinks.attach_kprobe(
            program, at.symbol, offset=at.offset or 0, retprobe=retprobe, cookie=cookie
        )
    if at.kind == AttachKind.SYSCALL and at.name:
        return klinks.attach_kprobe(program, _syscall_prefix() + at.name, retprobe=retprobe, cookie=cookie)
    if at.kind == AttachKind.UPROBE and at.path:
        offset = at.offset or 0
        if at.symbol:
            offset += elf_symbol_offset(at.path, at.symbol)
        pid = int(options.get("pid", -1))
        return klinks.attach_uprobe(program, at.path, offset, retprobe=retprobe, pid=pid, cookie=cookie)
    if at.kind == AttachKind.BTF and ptype in (ProgType.TRACING, ProgType.LSM):
        return klinks.attach_tracing(program, cookie=cookie)
    raise NotSupportedError(f"program {spec.name}: attaching section {spec.section!r} is not supported")


def elf_symbol_offset(path: str, symbol: str) -> int:
    """File offset of ``symbol`` in the ELF at ``path`` (what a uprobe needs)."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            for section_name in (".symtab", ".dynsym"):
                table = elf.get_section_by_name(section_name)
                if table is None:
                    continue
                for sym in table.iter_symbols():  # type: ignore[attr-defined]
                    if sym.name == symbol and sym["st_value"]:
                        vaddr = int(sym["st_value"])
                        for seg in elf.iter_segments():
                            if (
                                seg["p_type"] == "PT_LOAD"
                                and seg["p_vaddr"] <= vaddr < seg["p_vaddr"] + seg["p_memsz"]
                            ):
                                return vaddr - int(seg["p_vaddr"]) + int(seg["p_offset"])
                        return vaddr
    except (OSError, ELFError) as exc:
        raise KernelError(
            "uprobe symbol lookup", getattr(exc, "errno", 0) or 0, detail=f"{path}: {exc}"
        ) from None
    raise NotSupportedError(f"symbol {symbol!r} not found in {path}")


__all__ = ["KernelBackend", "PinMismatchError", "attach_program", "can_auto_attach", "kernel_object_name"]
