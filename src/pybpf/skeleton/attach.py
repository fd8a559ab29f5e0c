"""Auto-attach for skeletons: the hook comes from the program's section name.

libbpf's ``<name>__attach()`` attaches every program whose SEC() names a hook
(``tracepoint/syscalls/sys_enter_openat``, ``raw_tp/sys_enter``, ``tp_btf/...``,
``fentry/...``, ``kprobe/do_sys_open``) and skips the rest (XDP and tc need an
interface).  The decision is the kernel backend's ``can_auto_attach``; the
attaching is the loaded program's own ``attach()`` (which raises
NotSupportedError on a backend without hooks, such as the VM).
"""

from __future__ import annotations

from typing import Any


def auto_attach(program: Any) -> Any:
    """A link for ``program`` (a :class:`pybpf.loaded.Program`), or None when it has no auto-attach hook."""
    from ..backends.kernel import can_auto_attach

    if not can_auto_attach(program.spec):
        return None
    return program.attach()
