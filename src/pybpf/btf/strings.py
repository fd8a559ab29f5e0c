"""The BTF string section: NUL-terminated names addressed by byte offset.

Names are decoded on first use and cached: vmlinux holds ~100k names and most
callers touch a handful.  For split BTF (module BTF over vmlinux) offsets below
the base's string-section length refer to the base table, as in the kernel.
"""

from __future__ import annotations

from itertools import accumulate

from ..errors import BTFError


def _decode_utf8(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


class StringTable:
    """Read-only view of a string section; ``table[offset]`` is the name there."""

    __slots__ = ("_base", "_base_len", "_cache", "_data", "_section_offset")

    def __init__(self, data: bytes, *, base: StringTable | None = None, section_offset: int = 0) -> None:
        self._data = data
        self._base = base
        self._base_len = len(base) if base is not None else 0
        self._section_offset = section_offset
        if data and data[-1] != 0:
            raise BTFError("string section is not NUL-terminated", offset=section_offset + len(data) - 1)
        if base is None and data and data[0] != 0:
            raise BTFError("string section must start with an empty string", offset=section_offset)
        self._cache: dict[int, str] = self._index_all()

    def _index_all(self) -> dict[int, str]:
        """Map the offset of every string start to its text, in C-speed bulk operations.

        Offsets that point into the middle of a string (legal, rarely used) are
        decoded on demand by :meth:`_decode`.
        """
        data = self._data
        cache: dict[int, str] = dict(self._base._cache) if self._base is not None else {}
        if not data:
            return cache
        parts = data[:-1].split(b"\0")
        starts = accumulate(map((1).__add__, map(len, parts)), initial=self._base_len)
        if data.isascii():
            texts: list[str] | map[str] = data[:-1].decode("ascii").split("\0")
        else:
            texts = map(_decode_utf8, parts)
        cache.update(zip(starts, texts, strict=False))
        return cache

    @property
    def names(self) -> dict[int, str]:
        """offset -> text for every string start (base included); do not mutate."""
        return self._cache

    def __len__(self) -> int:
        """Total length including the base table, i.e. one past the largest valid offset."""
        return self._base_len + len(self._data)

    @property
    def raw(self) -> bytes:
        """This table's own bytes (without the base's)."""
        return self._data

    def __contains__(self, offset: object) -> bool:
        return isinstance(offset, int) and 0 <= offset < len(self)

    def __getitem__(self, offset: int) -> str:
        cached = self._cache.get(offset)
        if cached is not None:
            return cached
        return self._decode(offset, None)

    def get(self, offset: int, where: int | None) -> str:
        """The name at ``offset``, raising BTFError that points at ``where`` (the referrer)."""
        cached = self._cache.get(offset)
        if cached is not None:
            return cached
        return self._decode(offset, where)

    def _decode(self, offset: int, where: int | None) -> str:
        if offset < self._base_len and self._base is not None:
            return self._base.get(offset, where)
        local = offset - self._base_len
        data = self._data
        if local < 0 or local >= len(data):
            raise BTFError(
                f"string offset {offset} out of range (string section has {len(self)} bytes)",
                offset=where,
            )
        end = data.find(b"\0", local)
        # The section is NUL-terminated (checked in __init__), so end >= local.
        text = data[local:end].decode("utf-8", "replace")
        self._cache[offset] = text
        return text

    def find_offset(self, text: str) -> int | None:
        """The offset of ``text`` in this table (own part only), or None."""
        needle = b"\0" + text.encode() + b"\0"
        pos = self._data.find(needle)
        if pos < 0:
            return 0 if text == "" and self._base is None else None
        return self._base_len + pos + 1
