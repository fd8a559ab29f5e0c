"""The task a VM program believes it runs in.

In the kernel ``bpf_get_current_pid_tgid()`` and friends describe whatever task
the CPU was running.  In the VM that is a setting: by default the calling
Python process (which is what the kernel reports for BPF_PROG_TEST_RUN too),
and tests or users set any identity they want to replay an event.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, replace

from ..errors import BPFError

TASK_COMM_LEN = 16


@dataclass(frozen=True, slots=True)
class Task:
    """Identity reported by the get_current_* helpers.

    ``pid`` is the thread id (the kernel's ``task->pid``), ``tgid`` the process id.
    ``comm`` is at most 15 bytes (TASK_COMM_LEN minus the NUL).
    """

    pid: int
    tgid: int
    uid: int
    gid: int
    comm: str
    cpu: int = 0
    numa_node: int = 0
    cgroup_id: int = 1
    task_address: int = 0  # what bpf_get_current_task() returns (opaque)

    def __post_init__(self) -> None:
        for name in ("pid", "tgid", "uid", "gid", "cpu", "numa_node", "cgroup_id"):
            value = getattr(self, name)
            if not isinstance(value, int) or (not 0 <= value <= 0xFFFFFFFF and name != "cgroup_id"):
                raise BPFError(f"task {name} must be a 32-bit unsigned integer, got {value!r}")
        if not isinstance(self.comm, str):
            raise BPFError(f"task comm must be a string, got {type(self.comm).__name__}")
        encoded = self.comm.encode()
        if len(encoded) >= TASK_COMM_LEN:
            object.__setattr__(self, "comm", encoded[: TASK_COMM_LEN - 1].decode(errors="ignore"))

    @property
    def comm_bytes(self) -> bytes:
        """comm as the kernel stores it: NUL-padded to 16 bytes."""
        return self.comm.encode().ljust(TASK_COMM_LEN, b"\0")

    @property
    def pid_tgid(self) -> int:
        """bpf_get_current_pid_tgid(): tgid in the upper 32 bits, pid in the lower."""
        return (self.tgid << 32) | self.pid

    @property
    def uid_gid(self) -> int:
        """bpf_get_current_uid_gid(): gid in the upper 32 bits, uid in the lower."""
        return (self.gid << 32) | self.uid

    def with_(self, **changes: int | str) -> Task:
        """A copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def current(cls) -> Task:
        """The calling Python thread, as the kernel would describe it."""
        try:
            with open(f"/proc/self/task/{threading.get_native_id()}/comm") as f:
                comm = f.read().strip()
        except OSError:
            comm = "python3"
        cpu = os.sched_getaffinity(0)
        return cls(
            pid=threading.get_native_id(),
            tgid=os.getpid(),
            uid=os.getuid(),
            gid=os.getgid(),
            comm=comm,
            cpu=min(cpu) if cpu else 0,
        )
