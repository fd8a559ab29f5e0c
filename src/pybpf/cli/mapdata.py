"""Keys and values on the command line, the way bpftool reads and prints them.

``key 0x01 0x00 0x00 0x00``: one byte per word, each word in C notation
(``0x2a``, ``42``, ``052``); after ``hex`` every word is hexadecimal
(``key hex 2a 00 00 00``).  A key or value must have exactly the map's size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import click


@dataclass(frozen=True, slots=True)
class ParsedBytes:
    data: bytes
    next_index: int


def parse_byte(word: str, *, hexa: bool, what: str) -> int:
    try:
        value = int(word, 16) if hexa else int(word, 0) if not _octal(word) else int(word, 8)
    except ValueError:
        raise click.UsageError(
            f"{what}: {word!r} is not a byte (expected numbers like 0x2a or 42, or 'hex' then 2a)"
        ) from None
    if not 0 <= value <= 0xFF:
        raise click.UsageError(f"{what}: {word!r} does not fit in a byte (0..255)")
    return value


def _octal(word: str) -> bool:
    return len(word) > 1 and word.startswith("0") and word[1:].isdigit()


def parse_bytes(
    args: Sequence[str], start: int, size: int, *, what: str, stop: Sequence[str] = ()
) -> ParsedBytes:
    """Read ``size`` bytes from ``args[start:]`` (optionally after ``hex``); exact size required.

    Once ``size`` bytes are read, a word that is a prefix of a ``stop`` keyword
    ends the bytes (``key 1 0 0 0 v 2 0 0 0``, as bpftool reads it); before that
    only a whole stop word does, so a short key says how many bytes it had.
    """
    i = start
    hexa = False
    if i < len(args) and args[i] and "hex".startswith(args[i]):
        hexa = True
        i += 1
    out = bytearray()
    while i < len(args) and args[i] not in stop and len(out) < size:
        out.append(parse_byte(args[i], hexa=hexa, what=what))
        i += 1
    extra = i < len(args) and not any(args[i] and s.startswith(args[i]) for s in stop)
    if len(out) != size or extra:
        got = len(out)
        if extra:
            while i < len(args) and args[i] not in stop:
                i += 1
                got += 1
        raise click.UsageError(f"{what} expected {size} bytes, got {got}")
    return ParsedBytes(bytes(out), i)


def hex_list(data: bytes) -> list[str]:
    """bpftool's JSON spelling of bytes: ["0x01", "0x00", ...]."""
    return [f"0x{b:02x}" for b in data]


def hex_text(data: bytes) -> str:
    """bpftool's plain spelling: ``01 00 00 00``."""
    return " ".join(f"{b:02x}" for b in data)
