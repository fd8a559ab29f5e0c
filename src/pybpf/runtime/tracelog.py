"""The trace log: where bpf_trace_printk output goes in the VM.

The kernel writes printk output to the trace ring buffer and ``trace_pipe``
shows it one line per message::

             <comm>-<pid>   [000] d..31 12345.678901: bpf_trace_printk: <message>

The VM keeps :class:`TraceEntry` records (so tests can assert on the messages),
renders them in that format on demand, and can forward each line to callbacks
(e.g. the CLI printing them live).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .task import Task

DEFAULT_CAPACITY = 65536


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One message: who printed it, when (ns on the monotonic clock), and the text."""

    comm: str
    pid: int
    cpu: int
    timestamp_ns: int
    message: str
    event: str = "bpf_trace_printk"

    def line(self) -> str:
        """The entry as trace_pipe prints it (without the message's trailing newline)."""
        secs, nsecs = divmod(self.timestamp_ns, 1_000_000_000)
        msg = self.message[:-1] if self.message.endswith("\n") else self.message
        # the kernel's "%16s-%-7d [%03d] <flags> %5lu.%06lu: " (trace_output.c)
        return (
            f"{self.comm:>16}-{self.pid:<7} [{self.cpu:03d}] d..31 {secs:5d}.{nsecs // 1000:06d}: "
            f"{self.event}: {msg}"
        )


class TraceLog:
    """A bounded list of trace entries plus subscribers."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._entries: list[TraceEntry] = []
        self._subscribers: list[Callable[[TraceEntry], None]] = []
        self.dropped = 0

    def write(
        self, task: Task, timestamp_ns: int, message: str, event: str = "bpf_trace_printk"
    ) -> TraceEntry:
        entry = TraceEntry(task.comm, task.pid, task.cpu, timestamp_ns, message, event)
        if len(self._entries) >= self.capacity:
            del self._entries[0]
            self.dropped += 1
        self._entries.append(entry)
        for callback in self._subscribers:
            callback(entry)
        return entry

    def subscribe(self, callback: Callable[[TraceEntry], None]) -> Callable[[], None]:
        """Call ``callback`` for every new entry; returns a function that unsubscribes."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    @property
    def entries(self) -> tuple[TraceEntry, ...]:
        return tuple(self._entries)

    @property
    def messages(self) -> list[str]:
        """The message texts, trailing newline removed."""
        return [e.message[:-1] if e.message.endswith("\n") else e.message for e in self._entries]

    def lines(self) -> list[str]:
        return [e.line() for e in self._entries]

    def drain(self) -> list[TraceEntry]:
        """Return and forget all entries (what reading trace_pipe does)."""
        out, self._entries = self._entries, []
        return out

    def clear(self) -> None:
        self._entries.clear()

    def __iter__(self) -> Iterator[TraceEntry]:
        return iter(tuple(self._entries))

    def __len__(self) -> int:
        return len(self._entries)
