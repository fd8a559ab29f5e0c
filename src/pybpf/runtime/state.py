"""Runtime state the helpers share: one :class:`Runtime` per VM, one :class:`RunState` per run.

Helper implementations receive the VM's :class:`~pybpf.vm.context.CallContext`;
``ctx.state["runtime"]`` is the :class:`Runtime` (task identity, trace log,
clocks, random numbers, the maps the program can name) and ``runtime.run`` the
state of the run in progress (its context address, its packet, how many tail
calls it made, where it asked to redirect).  Keeping both out of the VM proper
lets the VM stay a plain instruction engine and the runtime compose around it.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import BPFError, HelperArgumentError, MapError
from ..progtypes.base import ProgTypeSpec
from ..vm.memory import SLOT_BITS, AddressSpace, Perm, Region
from .clock import Clock
from .task import Task
from .tracelog import TraceLog

if TYPE_CHECKING:
    from ..vm.context import CallContext
    from .packet import PacketBuffer

MAX_TAIL_CALL_CNT = 33
RUNTIME_KEY = "runtime"


class RuntimeStateError(BPFError):
    """A helper was called without the runtime state it needs (no run in progress, no packet)."""


@dataclass(slots=True)
class RunState:
    """What one program run needs beyond registers and memory."""

    spec: ProgTypeSpec | None = None
    ctx_address: int = 0
    ctx_region: Region | None = None
    packet: PacketBuffer | None = None
    tail_calls: int = 0
    func_ip: int = 0
    attach_cookie: int = 0
    redirect_ifindex: int | None = None
    redirect_flags: int = 0
    hash: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class MapBinding:
    """A map as a program sees it: its handle (the base of its storage region) and region."""

    map: Any
    region: Region

    @property
    def handle(self) -> int:
        return self.region.base


class Runtime:
    """Per-VM runtime: identity, clocks, trace log, maps by handle, the run in progress."""

    def __init__(
        self,
        memory: AddressSpace,
        *,
        task: Task | None = None,
        trace_log: TraceLog | None = None,
        clock: Clock | None = None,
        seed: int | None = None,
    ) -> None:
        self.memory = memory
        self.task = task if task is not None else Task.current()
        self.trace_log = trace_log if trace_log is not None else TraceLog()
        self.clock = clock if clock is not None else Clock()
        self.random = random.Random(seed)
        #: CPUs the VM pretends to have (per-CPU maps, BPF_F_TEST_RUN_ON_CPU); the VM backend sets it.
        self.num_cpus = os.cpu_count() or 1
        self.run = RunState()
        self._maps_by_tag: dict[int, MapBinding] = {}
        self._maps_by_name: dict[str, MapBinding] = {}
        self._maps_by_obj: dict[int, MapBinding] = {}
        #: map_lookup_elem's per-handle fast paths (helpers/impl_maps.py builds them).
        self.lookup_plans: dict[int, Any] = {}
        #: Programs loaded into this runtime by id (prog-array values name them).
        self.programs: dict[int, Any] = {}
        #: Program owning a callback-handle region, by region tag.
        self.programs_by_funcs: dict[int, Any] = {}
        #: Runs the program with the given id on a context (bpf_tail_call): (prog id, ctx) -> r0.
        self.tail_call_runner: Callable[[int, int], int] | None = None
        #: Calls a BPF callback function (bpf_loop, for_each_map_elem) set by the backend.
        self.callback_runner: Callable[[CallContext, int, tuple[int, ...]], int] | None = None

    # -- maps ----------------------------------------------------------
    def bind_map(self, bpf_map: Any, name: str | None = None) -> MapBinding:
        """Map ``bpf_map``'s storage into the address space; the region base is its handle."""
        existing = self._maps_by_obj.get(id(bpf_map))
        if existing is not None and existing.map is bpf_map:
            if name and name not in self._maps_by_name:
                self._maps_by_name[name] = existing
            return existing
        name = name or getattr(bpf_map, "name", "") or "map"
        perm = Perm.NONE
        if getattr(bpf_map, "prog_readable", True):
            perm |= Perm.READ
        if getattr(bpf_map, "prog_writable", True):
            perm |= Perm.WRITE
        storage = bpf_map.storage
        region = self.memory.add(f"map:{name}", storage if storage is not None else 0, perm)
        binding = MapBinding(bpf_map, region)
        self._maps_by_tag[region.tag] = binding
        self._maps_by_obj[id(bpf_map)] = binding
        if name not in self._maps_by_name:
            self._maps_by_name[name] = binding
        return binding

    def handle_of(self, bpf_map: Any) -> int:
        """The handle of ``bpf_map``, binding it first (an inner map a program just looked up)."""
        binding = self._maps_by_obj.get(id(bpf_map))
        if binding is None or binding.map is not bpf_map:
            binding = self.bind_map(bpf_map)
        return binding.handle

    def map_of(self, handle: int) -> Any:
        """The map a handle names; HelperArgumentError for anything else (the verifier's
        "expected CONST_PTR_TO_MAP")."""
        return self.binding_of(handle).map

    def binding_of(self, handle: int) -> MapBinding:
        binding = self._maps_by_tag.get(handle >> SLOT_BITS)
        if binding is None or binding.region.base != handle:
            raise HelperArgumentError(
                f"map argument {handle:#x} is not a map (the verifier wants a map pointer)"
            )
        return binding

    def binding_at(self, address: int) -> MapBinding | None:
        """The map whose storage region holds ``address`` (ring buffer samples), or None."""
        binding = self._maps_by_tag.get(address >> SLOT_BITS)
        if binding is None or not binding.region.contains(address):
            return None
        return binding

    def binding(self, name: str) -> MapBinding:
        try:
            return self._maps_by_name[name]
        except KeyError:
            raise MapError(f"no map named {name!r} is bound", map_name=name) from None

    @property
    def bindings(self) -> dict[str, MapBinding]:
        return dict(self._maps_by_name)

    # -- runs ------------------------------------------------------------
    def start_run(self, run: RunState) -> None:
        self.run = run

    def packet(self) -> PacketBuffer:
        packet = self.run.packet
        if packet is None:
            raise RuntimeStateError("this helper needs a packet, and the run has none")
        return packet


def runtime_of(ctx: CallContext) -> Runtime:
    """The Runtime stored in a helper's call context."""
    runtime = ctx.state.get(RUNTIME_KEY)
    if not isinstance(runtime, Runtime):
        raise RuntimeStateError("the VM was started without a pybpf runtime (ctx.state['runtime'])")
    return runtime
