"""Owned file descriptors that cannot leak.

Every fd the kernel hands back (map, program, link, BTF, perf event) is wrapped in
an :class:`OwnedFD` at once.  It closes exactly once: on :meth:`close`, on leaving a
``with`` block, or when the object is garbage collected (``weakref.finalize``), so
a forgotten object never keeps kernel memory pinned for the process lifetime.
"""

from __future__ import annotations

import contextlib
import os
import weakref
from types import TracebackType
from typing import Self

from ..errors import BPFError


class ClosedFDError(BPFError):
    """An operation on a map, program or link whose fd was already closed."""


def _close_quietly(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


class OwnedFD:
    """A kernel object fd owned by one Python object.

    ``kind`` ("map", "prog", "link", "btf", "perf_event") only labels errors.
    """

    __slots__ = ("__weakref__", "_fd", "_finalizer", "kind")

    def __init__(self, fd: int, kind: str) -> None:
        self._fd = fd
        self.kind = kind
        self._finalizer = weakref.finalize(self, _close_quietly, fd)

    @property
    def fd(self) -> int:
        """The raw descriptor (raises :class:`ClosedFDError` after close)."""
        if not self._finalizer.alive:
            raise ClosedFDError(f"{self.kind} fd already closed")
        return self._fd

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def fileno(self) -> int:
        return self.fd

    def close(self) -> None:
        """Close the fd (idempotent)."""
        self._finalizer()

    def release(self) -> int:
        """Give up ownership: return the fd, which the caller must now close."""
        fd = self.fd
        self._finalizer.detach()
        return fd

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"fd={self._fd}"
        return f"<{type(self).__name__} {self.kind} {state}>"


class FDObject:
    """Base for kernel objects (maps, programs, links, BTF) that own one fd.

    Subclasses get ``fd``, ``close()``, ``closed`` and context-manager support.
    """

    __slots__ = ("_owned",)

    def __init__(self, owned: OwnedFD) -> None:
        self._owned = owned

    @property
    def fd(self) -> int:
        return self._owned.fd

    @property
    def closed(self) -> bool:
        return self._owned.closed

    def fileno(self) -> int:
        return self._owned.fd

    def close(self) -> None:
        self._owned.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
