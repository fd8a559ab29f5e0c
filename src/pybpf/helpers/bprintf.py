"""The kernel's BPF printf dialect (``bpf_bprintf_prepare``), as a pure formatter.

bpf_trace_printk, bpf_trace_vprintk, bpf_snprintf and bpf_seq_printf accept a
subset of printk formats and refuse anything else with -EINVAL *before* printing:

* ``%d %i %u %x %X`` with an optional ``l`` or ``ll`` (``%ld %lld %llu %llx`` ...);
  without ``l`` the argument is cut to 32 bits.
* ``%c``, ``%s`` (a string read from memory; an unreadable one prints empty),
  ``%p %pK %px %ps %pS`` (the pointer value), ``%pks %pus`` (strings),
  ``%pI4 %pi4 %pI6 %pi6`` (an IP address read from memory; unreadable -> zeros).
* flags ``0 + - space`` and a width; no precision, no ``%h``, no ``%pM``.
* at most ``max_args`` conversions (3 for trace_printk, 12 for the others);
  only printable ASCII and white space in the format.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Sequence

from ..errors import BPFError

MAX_TRACE_PRINTK_ARGS = 3
MAX_BPRINTF_VARARGS = 12
MAX_BPRINTF_BUF = 512

#: Reads ``n`` bytes at an address, or None when the memory is not readable.
ReadBytes = Callable[[int, int], bytes | None]
#: Reads a NUL-terminated string of at most ``n`` bytes, or None when unreadable.
ReadString = Callable[[int, int], bytes | None]


class BprintfError(BPFError):
    """A format the kernel would refuse; ``errno`` is what the helper returns negated."""

    def __init__(self, message: str, err: int = errno.EINVAL) -> None:
        super().__init__(message)
        self.errno = err


def _ipv4(raw: bytes, leading_zeros: bool) -> str:
    return ".".join(f"{b:03d}" if leading_zeros else str(b) for b in raw)


def _ipv6(raw: bytes, colons: bool) -> str:
    if not colons:
        return raw.hex()
    return ":".join(raw[i : i + 2].hex() for i in range(0, 16, 2))


def _pad(text: str, flags: str, width: int) -> str:
    if width <= len(text):
        return text
    if "-" in flags:
        return text.ljust(width)
    return text.rjust(width)


def _integer(value: int, conv: str, long: bool, flags: str, width: int) -> str:
    bits = 64 if long else 32
    value &= (1 << bits) - 1
    if conv in "di" and value >> (bits - 1):
        value -= 1 << bits
    if conv == "x":
        digits = f"{value:x}"
    elif conv == "X":
        digits = f"{value:X}"
    else:
        digits = str(abs(value))
    sign = (
        "-"
        if value < 0
        else ("+" if "+" in flags and conv in "di" else (" " if " " in flags and conv in "di" else ""))
    )
    if "0" in flags and "-" not in flags and width > len(sign) + len(digits):
        digits = digits.rjust(width - len(sign), "0")
    return _pad(sign + digits, flags, width)


def bprintf(
    fmt: bytes,
    args: Sequence[int],
    *,
    read_bytes: ReadBytes,
    read_string: ReadString,
    max_args: int = MAX_BPRINTF_VARARGS,
) -> str:
    """Format ``fmt`` (up to its NUL) with the raw u64 ``args`` the program passed.

    Raises :class:`BprintfError` for a format the kernel refuses, or when the
    program passed fewer arguments than the format uses.
    """
    nul = fmt.find(b"\0")
    if nul < 0:
        raise BprintfError("format string is not NUL-terminated")
    text = fmt[:nul]
    for byte in text:
        if byte > 0x7F or not (0x20 <= byte < 0x7F or byte in b"\t\n\v\f\r"):
            raise BprintfError(f"format has a non-printable character {byte:#04x}")
    s = text.decode("ascii")
    out: list[str] = []
    nargs = 0
    string_budget = MAX_BPRINTF_BUF
    i = 0
    n = len(s)
    while i < n:
        ch = s[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        if i + 1 < n and s[i + 1] == "%":
            out.append("%")
            i += 2
            continue
        if nargs >= max_args:
            raise BprintfError(f"format uses more than {max_args} arguments")
        if nargs >= len(args):
            raise BprintfError(f"format uses argument {nargs + 1} but only {len(args)} were passed")
        arg = args[nargs] & 0xFFFFFFFFFFFFFFFF
        nargs += 1
        i += 1
        start = i
        while i < n and s[i] in "0+- ":
            i += 1
        flags = s[start:i]
        wstart = i
        if i < n and "1" <= s[i] <= "9":
            while i < n and s[i].isdigit():
                i += 1
        width = int(s[wstart:i]) if i > wstart else 0
        conv = s[i] if i < n else ""
        nxt = s[i + 1] if i + 1 < n else ""
        if conv == "p":
            if nxt == "" or not nxt.isalnum():
                out.append(_pad(f"{arg:016x}", flags, width))
                i += 1
                continue
            if nxt in "ku" and i + 2 < n and s[i + 2] == "s":
                raw = read_string(arg, string_budget)
                val = (raw or b"").decode("latin-1")
                string_budget = max(0, string_budget - len(val) - 1)
                out.append(_pad(val, flags, width))
                i += 3
                continue
            if nxt in "KxsS":
                out.append(_pad(f"{arg:016x}" if nxt in "Kx" else f"{arg:#x}", flags, width))
                i += 2
                continue
            third = s[i + 2] if i + 2 < n else ""
            if nxt not in "iI" or third not in "46":
                raise BprintfError(f"unsupported pointer format %p{nxt}{third} (only %pI4 %pi4 %pI6 %pi6)")
            size = 4 if third == "4" else 16
            raw = read_bytes(arg, size) or bytes(size)
            if size == 4:
                val = _ipv4(raw, leading_zeros=nxt == "i")
            else:
                val = _ipv6(raw, colons=nxt == "I")
            out.append(_pad(val, flags, width))
            i += 3
            continue
        if conv == "c":
            out.append(_pad(chr(arg & 0xFF), flags, width))
            i += 1
            continue
        if conv == "s":
            raw = read_string(arg, string_budget)
            val = (raw or b"").decode("latin-1")
            string_budget = max(0, string_budget - len(val) - 1)
            out.append(_pad(val, flags, width))
            i += 1
            continue
        long = False
        if conv == "l":
            long = True
            i += 1
            if i < n and s[i] == "l":
                i += 1
            conv = s[i] if i < n else ""
        if conv == "" or conv not in "iduxX":
            raise BprintfError(f"unsupported conversion %{flags}{width or ''}{'l' if long else ''}{conv}")
        out.append(_integer(arg, conv, long, flags, width))
        i += 1
    return "".join(out)
