"""``pybpf prog run`` and ``pybpf prog tracelog``: run a program of an object file in the VM.

Two modes, bpftool-style keywords::

    prog run FILE.o [name PROG] pcap_in IN.pcap [pcap_out OUT.pcap]
    prog run FILE.o [name PROG] data_in F [data_out F] [ctx_in F] [ctx_out F] [repeat N]

``pcap_in`` runs an XDP, tc or socket-filter program over every packet of a pcap or
pcapng file, writes the packets that pass (as the program left them) to
``pcap_out``, and prints the count per verdict and the maps' contents.  The
``data_in`` form mirrors ``bpftool prog run`` (``Return value: N, duration
(average): Mns``).  ``-`` reads stdin / writes stdout.  Tracepoint, kprobe,
perf_event and fentry programs, which the kernel cannot test_run, run in the VM
on ``ctx_in`` as their event would (:meth:`pybpf.loaded.Program.trigger`).

Trace log: the VM's ``bpf_printk`` lines are printed after a run (to stderr in
JSON mode, as ``trace`` in the JSON otherwise) and appended to the per-user file
:func:`trace_file` (``$XDG_RUNTIME_DIR/pybpf/trace_pipe``, else
``/tmp/pybpf-<uid>/trace_pipe``).  ``prog tracelog`` prints and empties that
file, as reading ``trace_pipe`` consumes the kernel's buffer; with
``--backend kernel`` it reads the kernel's own trace_pipe instead.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import click

from ..errors import BPFError, NotSupportedError
from ..uapi import MapType, ProgType
from .keywords import Keyword, parse_keywords, text_arg
from .options import emit_json, options

RUN_KEYWORDS = (
    Keyword("name", "PROG"),
    Keyword("pcap_in", "FILE"),
    Keyword("pcap_out", "FILE"),
    Keyword("data_in", "FILE"),
    Keyword("data_out", "FILE"),
    Keyword("ctx_in", "FILE"),
    Keyword("ctx_out", "FILE"),
    Keyword("repeat", "N"),
)
XDP_VERDICTS = {0: "XDP_ABORTED", 1: "XDP_DROP", 2: "XDP_PASS", 3: "XDP_TX", 4: "XDP_REDIRECT"}
TC_VERDICTS = {
    0xFFFFFFFF: "TC_ACT_UNSPEC", 0: "TC_ACT_OK", 1: "TC_ACT_RECLASSIFY", 2: "TC_ACT_SHOT",
    3: "TC_ACT_PIPE", 4: "TC_ACT_STOLEN", 5: "TC_ACT_QUEUED", 6: "TC_ACT_REPEAT", 7: "TC_ACT_REDIRECT",
    8: "TC_ACT_TRAP",
}  # fmt: skip
TC_PASSING = {"TC_ACT_OK", "TC_ACT_UNSPEC", "TC_ACT_PIPE"}
PCAP_TYPES = (ProgType.XDP, ProgType.SCHED_CLS, ProgType.SCHED_ACT, ProgType.SOCKET_FILTER)
#: Types the kernel cannot test_run; in the VM, ``ctx_in`` becomes the event's context (trigger).
EVENT_TYPES = (ProgType.TRACEPOINT, ProgType.KPROBE, ProgType.PERF_EVENT, ProgType.TRACING)
ETH_HLEN = 14
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
PROGRESS_MIN_BYTES = 1 << 20  # a progress bar only for files of a megabyte or more
_MAX_MAP_ENTRIES_SHOWN = 64


def trace_file() -> Path:
    """Where VM runs of the CLI append their trace lines (read by ``prog tracelog``)."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    root = Path(base) / "pybpf" if base else Path(f"/tmp/pybpf-{os.getuid()}")
    return root / "trace_pipe"


def _append_trace(lines: list[str]) -> None:
    if not lines:
        return
    path = trace_file()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with path.open("a") as f:
            f.write("".join(line + "\n" for line in lines))
    except OSError as exc:
        click.echo(f"warning: cannot append to {path}: {exc}", err=True)


# -- loading -----------------------------------------------------------------------


def _load(path: str, name: str | None) -> tuple[Any, Any]:
    from ..runtime.loader import load

    if options().backend not in ("vm", ""):
        obj = load(path, backend=options().backend)
    else:
        obj = load(path)
    if name is None:
        if len(obj.programs) != 1:
            obj.close()
            raise click.UsageError(f"{path} has {len(obj.programs)} programs; pick one with name PROG")
        name = next(iter(obj.programs))
    prog = obj.programs.get(name)
    if prog is None:
        have = ", ".join(obj.programs)
        obj.close()
        raise click.UsageError(f"no program named {name!r} in {path} (have: {have})")
    return obj, prog


def _read_input(spec: str) -> bytes:
    if spec == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(spec).read_bytes()
    except OSError as exc:
        raise click.UsageError(f"cannot read {spec}: {exc.strerror}") from None


def _write_output(spec: str, data: bytes) -> None:
    if spec == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        Path(spec).write_bytes(data)
    except OSError as exc:
        raise click.UsageError(f"cannot write {spec}: {exc.strerror}") from None


# -- maps ---------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def map_contents(obj: Any) -> dict[str, list[dict[str, Any]]]:
    """Every keyed map's entries (typed through BTF when the object has it), up to a limit each."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, view in obj.maps.items():
        raw = getattr(view, "raw", view)
        if getattr(raw, "key_size", 0) == 0 or raw.map_type in (MapType.PERF_EVENT_ARRAY, MapType.PROG_ARRAY):
            continue
        entries: list[dict[str, Any]] = []
        try:
            items: Iterator[tuple[Any, Any]] = iter(view.items()) if hasattr(view, "items") else iter(())
            for key, value in items:
                if _is_zero(value) and raw.map_type in (MapType.ARRAY, MapType.PERCPU_ARRAY):
                    continue  # arrays: only the slots the program touched
                entries.append({"key": _jsonable(key), "value": _jsonable(value)})
                if len(entries) >= _MAX_MAP_ENTRIES_SHOWN:
                    break
        except (BPFError, KeyError):
            continue
        out[name] = entries
    return out


def _is_zero(value: Any) -> bool:
    if isinstance(value, int):
        return value == 0
    if isinstance(value, bytes | bytearray):
        return not any(value)
    if isinstance(value, dict):
        return all(_is_zero(v) for v in value.values())
    if isinstance(value, list):
        return all(_is_zero(v) for v in value)
    return False


def _print_maps(contents: dict[str, list[dict[str, Any]]]) -> None:
    for name, entries in contents.items():
        click.echo(f"map {name}: {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}")
        for e in entries:
            click.echo(f"  {e['key']}: {e['value']}")


# -- pcap ---------------------------------------------------------------------------


@dataclass
class PcapRun:
    """Counts of one pass over a capture."""

    packets: int = 0
    written: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)


def _reader(f: BinaryIO) -> Any:
    import dpkt

    magic = f.read(4)
    f.seek(0)
    try:
        if magic == PCAPNG_MAGIC:
            return dpkt.pcapng.Reader(f)
        return dpkt.pcap.Reader(f)
    except (ValueError, dpkt.dpkt.Error) as exc:
        raise click.UsageError(f"not a pcap or pcapng file: {exc}") from None


def verdict_of(prog_type: ProgType, retval: int, length: int) -> tuple[str, int | None]:
    """(verdict name, bytes to keep or None to drop) for one packet's return value."""
    if prog_type is ProgType.XDP:
        name = XDP_VERDICTS.get(retval, f"XDP_UNKNOWN({retval})")
        return name, (None if name != "XDP_PASS" else -1)
    if prog_type is ProgType.SOCKET_FILTER:
        # the filter sees skb->len after eth_type_trans (the frame minus its MAC header)
        # and returns how many of those bytes to keep
        if retval == 0:
            return "dropped", None
        if retval >= length - ETH_HLEN:
            return "passed", -1
        return "truncated", ETH_HLEN + retval
    name = TC_VERDICTS.get(retval, f"TC_ACT_UNKNOWN({retval})")
    return name, (-1 if name in TC_PASSING else None)


def run_pcap(prog: Any, pcap_in: str, pcap_out: str | None) -> PcapRun:
    """Run ``prog`` over every packet of ``pcap_in``; write the survivors to ``pcap_out``."""
    import dpkt

    prog_type = prog.spec.prog_type
    if prog_type not in PCAP_TYPES:
        raise click.UsageError(
            f"pcap_in needs an XDP, tc or socket filter program, not {prog_type.uapi_name}"
        )
    result = PcapRun()
    try:
        fin = open(pcap_in, "rb")  # noqa: SIM115 - closed below, shared with the progress bar
    except OSError as exc:
        raise click.UsageError(f"cannot read {pcap_in}: {exc.strerror}") from None
    fout = None
    try:
        reader = _reader(fin)
        if reader.datalink() != dpkt.pcap.DLT_EN10MB:
            raise click.UsageError(
                f"{pcap_in} holds link type {reader.datalink()}, not Ethernet (1): XDP, tc and socket "
                "filter programs are given Ethernet frames"
            )
        writer = None
        if pcap_out is not None:
            fout = open(pcap_out, "wb")  # noqa: SIM115
            writer = dpkt.pcap.Writer(fout, linktype=dpkt.pcap.DLT_EN10MB)
        size = os.fstat(fin.fileno()).st_size
        progress = _progress(size)
        for ts, buf in reader:
            result.packets += 1
            frame = bytes(buf)
            try:
                res = prog.test_run(data_in=frame)
            except (BPFError, NotSupportedError) as exc:
                result.verdicts[f"error ({type(exc).__name__})"] += 1
                continue
            verdict, keep = verdict_of(prog_type, res.retval, len(frame))
            result.verdicts[verdict] += 1
            if writer is not None and keep is not None:
                # a socket filter cannot change the packet (and its data_out hides the MAC
                # header): keep its first ``keep`` bytes; XDP and tc give back what they left
                if prog_type is ProgType.SOCKET_FILTER:
                    out = frame if keep < 0 else frame[:keep]
                else:
                    out = res.data_out
                writer.writepkt(out, ts=ts)
                result.written += 1
            if progress is not None and result.packets % 256 == 0:
                progress.update(fin.tell())
        if progress is not None:
            progress.finish(size)
    except dpkt.dpkt.Error as exc:
        raise click.UsageError(f"{pcap_in}: truncated or corrupt capture ({exc})") from None
    finally:
        fin.close()
        if fout is not None:
            fout.close()
    return result


class _Progress:
    """A rich progress bar over file bytes, on stderr."""

    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import Progress

        self.bar = Progress(console=Console(stderr=True), transient=True)
        self.task = self.bar.add_task("packets", total=total)
        self.bar.start()

    def update(self, done: int) -> None:
        self.bar.update(self.task, completed=done)

    def finish(self, total: int) -> None:
        self.bar.update(self.task, completed=total)
        self.bar.stop()


def _progress(size: int) -> _Progress | None:
    if size < PROGRESS_MIN_BYTES or not sys.stderr.isatty():
        return None
    return _Progress(size)


# -- verbs --------------------------------------------------------------------------


def run_verb(args: list[str]) -> None:
    """``prog run FILE.o [name PROG] (pcap_in F [pcap_out F] | data_in F ...)``."""
    if not args or args[0].startswith("-"):
        raise click.UsageError("usage: prog run FILE.o [name PROG] pcap_in F | data_in F ...")
    path, kw = args[0], parse_keywords(args[1:], RUN_KEYWORDS)
    pcap_in, data_in = text_arg(kw, "pcap_in"), text_arg(kw, "data_in")
    if (pcap_in is None) == (data_in is None) and not (data_in is None and text_arg(kw, "ctx_in")):
        raise click.UsageError("give exactly one of pcap_in FILE or data_in FILE (or ctx_in alone)")
    repeat_text = text_arg(kw, "repeat") or "1"
    try:
        repeat = int(repeat_text, 0)
    except ValueError:
        raise click.UsageError(f"repeat takes a number, got {repeat_text!r}") from None
    try:
        obj, prog = _load(path, text_arg(kw, "name"))
    except (BPFError, OSError) as exc:
        raise click.ClickException(f"{path}: {exc}") from None
    with obj:
        try:
            if pcap_in is not None:
                _pcap_mode(obj, prog, pcap_in, text_arg(kw, "pcap_out"))
            else:
                _data_mode(obj, prog, kw, data_in, repeat)
        except BPFError as exc:
            raise click.ClickException(str(exc)) from None


def _trace_lines(obj: Any) -> list[str]:
    log = getattr(obj, "trace_log", None)
    return log.lines() if log is not None else []


def _pcap_mode(obj: Any, prog: Any, pcap_in: str, pcap_out: str | None) -> None:
    result = run_pcap(prog, pcap_in, pcap_out)
    trace = _trace_lines(obj)
    _append_trace(trace)
    contents = map_contents(obj)
    if options().json:
        emit_json({
            "program": prog.name,
            "packets": result.packets,
            "written": result.written if pcap_out is not None else None,
            "verdicts": dict(result.verdicts),
            "maps": contents,
            "trace": trace,
        })  # fmt: skip
        return
    for line in trace:
        click.echo(line, err=True)
    click.echo(f"{result.packets} packets")
    for verdict, count in sorted(result.verdicts.items(), key=lambda kv: -kv[1]):
        click.echo(f"  {verdict:<16} {count}")
    if pcap_out is not None:
        click.echo(f"{result.written} packets written to {pcap_out}")
    _print_maps(contents)


def _data_mode(obj: Any, prog: Any, kw: dict[str, Any], data_in: str | None, repeat: int) -> None:
    data = _read_input(data_in) if data_in is not None else b""
    ctx_path = text_arg(kw, "ctx_in")
    ctx = _read_input(ctx_path) if ctx_path is not None else None
    # Only a VM program can fire its event; a kernel program has no spec here.
    event = options().backend in ("vm", "") and prog.spec.prog_type in EVENT_TYPES
    if data_in is not None and event:
        from ..progtypes import spec_for

        ctx_name = spec_for(prog.spec.prog_type).ctx.name
        raise click.UsageError(
            f"{prog.spec.prog_type.uapi_name} programs take no data_in: give ctx_in FILE alone ({ctx_name}) "
            "and the VM runs the program as its event would"
        )
    if data_in is None and event:
        res = prog.trigger(ctx or b"", repeat=repeat)  # no kernel test_run: fire the event in the VM
    else:
        res = prog.test_run(data_in=data, ctx_in=ctx, repeat=repeat)
    trace = _trace_lines(obj)
    _append_trace(trace)
    data_out, ctx_out = text_arg(kw, "data_out"), text_arg(kw, "ctx_out")
    if data_out is not None:
        _write_output(data_out, res.data_out)
    if ctx_out is not None and res.ctx_out is not None:
        _write_output(ctx_out, res.ctx_out)
    if options().json:
        emit_json({"retval": res.retval, "duration": res.duration_ns, "trace": trace})
        return
    for line in trace:
        click.echo(line, err=True)
    click.echo(
        f"Return value: {res.retval}, duration{' (average)' if repeat > 1 else ''}: {res.duration_ns}ns"
    )


def tracelog_verb(args: list[str]) -> None:
    """``prog tracelog``: print (and consume) the trace lines of earlier ``prog run`` calls."""
    if args:
        raise click.UsageError(f"prog tracelog takes no arguments, got {' '.join(args)}")
    if options().backend == "kernel":
        _kernel_tracelog()
        return
    path = trace_file()
    try:
        with path.open("r+") as f:
            text = f.read()
            f.truncate(0)
    except FileNotFoundError:
        text = ""
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from None
    lines = text.splitlines()
    if options().json:
        emit_json(lines)
        return
    for line in lines:
        click.echo(line)


def _kernel_tracelog() -> None:
    """Print what the kernel's trace_pipe holds now, without blocking."""
    import select

    for candidate in ("/sys/kernel/tracing/trace_pipe", "/sys/kernel/debug/tracing/trace_pipe"):
        try:
            fd = os.open(candidate, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            chunks = []
            while select.select([fd], [], [], 0.05)[0]:
                try:
                    chunk = os.read(fd, 65536)
                except BlockingIOError:
                    break
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(fd)
        lines = b"".join(chunks).decode(errors="replace").splitlines()
        if options().json:
            emit_json(lines)
        else:
            for line in lines:
                click.echo(line)
        return
    raise click.ClickException("no trace_pipe (is tracefs mounted?)")
