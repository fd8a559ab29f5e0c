"""The helper registry: every helper a program may call, by id.

A helper is data plus a function: its id and name (the kernel's, from
:data:`pybpf.uapi.HELPER_NAMES`), a prototype the verifier reads (argument and
return types, in the kernel's vocabulary), and an implementation the VM calls.

Implementations receive the VM call context first (``ctx.memory`` is the
:class:`~pybpf.vm.memory.AddressSpace`, ``ctx.state`` a dict for per-VM runtime
state such as the ring buffers or the trace pipe) and the raw register values
r1..r5 (unsigned 64-bit ints); they return r0 (any int: the VM masks it to 64
bits, so ``-errno`` is fine).  A helper that wants the program to stop raises
:class:`pybpf.vm.context.ProgramExit`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from ..errors import BPFError, UnknownHelperError
from ..uapi import HELPER_IDS, HELPER_NAMES

if TYPE_CHECKING:
    from ..vm.context import CallContext


class ArgType(Enum):
    """What a helper argument must be (the kernel's ``enum bpf_arg_type``)."""

    DONTCARE = "dontcare"  # argument not used
    ANYTHING = "anything"  # any initialised value
    CONST_MAP_PTR = "const_map_ptr"
    PTR_TO_MAP_KEY = "ptr_to_map_key"
    PTR_TO_MAP_VALUE = "ptr_to_map_value"
    PTR_TO_MEM = "ptr_to_mem"  # readable memory of the size in the next argument
    PTR_TO_MEM_OR_NULL = "ptr_to_mem_or_null"
    PTR_TO_UNINIT_MEM = "ptr_to_uninit_mem"  # memory the helper fills
    CONST_SIZE = "const_size"
    CONST_SIZE_OR_ZERO = "const_size_or_zero"
    PTR_TO_CTX = "ptr_to_ctx"
    PTR_TO_CTX_OR_NULL = "ptr_to_ctx_or_null"
    PTR_TO_STACK = "ptr_to_stack"
    PTR_TO_CONST_STR = "ptr_to_const_str"
    PTR_TO_FUNC = "ptr_to_func"
    PTR_TO_LONG = "ptr_to_long"
    PTR_TO_INT = "ptr_to_int"
    PTR_TO_SOCKET = "ptr_to_socket"
    PTR_TO_BTF_ID = "ptr_to_btf_id"
    PTR_TO_ALLOC_MEM = "ptr_to_alloc_mem"
    PTR_TO_DYNPTR = "ptr_to_dynptr"
    PTR_TO_TIMER = "ptr_to_timer"
    PTR_TO_SPIN_LOCK = "ptr_to_spin_lock"


class RetType(Enum):
    """What a helper returns in r0 (the kernel's ``enum bpf_return_type``)."""

    INTEGER = "integer"
    VOID = "void"
    PTR_TO_MAP_VALUE = "ptr_to_map_value"
    PTR_TO_MAP_VALUE_OR_NULL = "ptr_to_map_value_or_null"
    PTR_TO_SOCKET_OR_NULL = "ptr_to_socket_or_null"
    PTR_TO_MEM_OR_NULL = "ptr_to_mem_or_null"  # e.g. bpf_ringbuf_reserve
    PTR_TO_ALLOC_MEM_OR_NULL = "ptr_to_alloc_mem_or_null"
    PTR_TO_BTF_ID = "ptr_to_btf_id"
    PTR_TO_BTF_ID_OR_NULL = "ptr_to_btf_id_or_null"


#: The implementation of a helper: (ctx, r1, r2, r3, r4, r5) -> r0.
HelperImpl = Callable[["CallContext", int, int, int, int, int], int]


@dataclass(frozen=True, slots=True)
class HelperProto:
    """A helper's signature: up to five argument types and the return type."""

    ret: RetType = RetType.INTEGER
    args: tuple[ArgType, ...] = ()

    def __post_init__(self) -> None:
        if len(self.args) > 5:
            raise BPFError(f"a helper takes at most 5 arguments, prototype has {len(self.args)}")


@dataclass(frozen=True, slots=True)
class HelperSpec:
    """One helper: id, kernel name, prototype and implementation."""

    id: int
    name: str
    proto: HelperProto
    impl: HelperImpl


class HelperRegistry:
    """Helpers by id; the VM resolves ``call N`` through one of these.

    Registries are cheap to copy (:meth:`copy`), so a program type can start
    from the default set and add or override its own helpers.
    """

    def __init__(self, specs: tuple[HelperSpec, ...] | list[HelperSpec] = ()) -> None:
        self._by_id: dict[int, HelperSpec] = {}
        for spec in specs:
            self.register(spec)

    def register(self, spec: HelperSpec, *, replace: bool = False) -> HelperSpec:
        """Add ``spec``; registering an id twice is an error unless ``replace``."""
        if not isinstance(spec, HelperSpec):
            raise BPFError(f"expected a HelperSpec, got {type(spec).__name__}")
        if not isinstance(spec.id, int) or spec.id < 0:
            raise BPFError(f"helper id must be a non-negative integer, got {spec.id!r}")
        if spec.id in self._by_id and not replace:
            raise BPFError(f"helper id {spec.id} ({self._by_id[spec.id].name}) is already registered")
        self._by_id[spec.id] = spec
        return spec

    def add(
        self,
        helper: int | str,
        impl: HelperImpl,
        proto: HelperProto | None = None,
        *,
        name: str | None = None,
        replace: bool = False,
    ) -> HelperSpec:
        """Register ``impl`` under a kernel helper name or id (the name comes from the UAPI table)."""
        if isinstance(helper, str):
            if helper not in HELPER_IDS:
                raise UnknownHelperError(f"unknown helper name {helper!r}")
            helper_id = HELPER_IDS[helper]
        else:
            helper_id = helper
        if name is None:
            name = helper_name(helper_id)
        return self.register(HelperSpec(helper_id, name, proto or HelperProto(), impl), replace=replace)

    def get(self, helper_id: int) -> HelperSpec:
        """The helper with that id; UnknownHelperError when none is registered."""
        spec = self._by_id.get(helper_id)
        if spec is None:
            raise UnknownHelperError(f"unknown helper {helper_name(helper_id)} (id {helper_id})")
        return spec

    def lookup(self, helper_id: int) -> HelperSpec | None:
        """The helper with that id, or None."""
        return self._by_id.get(helper_id)

    def by_name(self, name: str) -> HelperSpec:
        for spec in self._by_id.values():
            if spec.name == name:
                return spec
        raise UnknownHelperError(f"unknown helper name {name!r}")

    def copy(self) -> HelperRegistry:
        new = HelperRegistry()
        new._by_id = dict(self._by_id)
        return new

    def __contains__(self, helper_id: object) -> bool:
        return helper_id in self._by_id

    def __iter__(self) -> Iterator[HelperSpec]:
        return iter(sorted(self._by_id.values(), key=lambda s: s.id))

    def __len__(self) -> int:
        return len(self._by_id)

    def __repr__(self) -> str:
        return f"HelperRegistry({', '.join(f'{s.id}:{s.name}' for s in self)})"


def helper_name(helper_id: int) -> str:
    """The kernel's name for a helper id (``helper#N`` when out of the table)."""
    if isinstance(helper_id, int) and 0 < helper_id < len(HELPER_NAMES):
        return HELPER_NAMES[helper_id]
    return f"helper#{helper_id}"


def default_registry() -> HelperRegistry:
    """A fresh registry with the helpers pybpf implements generically (none yet: layers add theirs)."""
    return HelperRegistry()
