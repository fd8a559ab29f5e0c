"""BTF and BTF.ext loading for the object parser, with one error contract.

The BTF layer promises BTFError for malformed input; this wrapper makes sure
that whatever slips through still surfaces as a BTFError, so that parsing an
object never raises anything outside the BPFError hierarchy.
"""

from __future__ import annotations

import struct

from ..btf import BTF
from ..btf.ext import BTFExt
from ..errors import BPFError, BTFError

_UNEXPECTED = (
    struct.error,
    ValueError,
    IndexError,
    KeyError,
    TypeError,
    UnicodeDecodeError,
    RecursionError,
    OverflowError,
)


def load_btf(data: bytes) -> BTF:
    try:
        return BTF.parse(data)
    except BPFError:
        raise
    except _UNEXPECTED as exc:
        raise BTFError(f"malformed .BTF: {type(exc).__name__}: {exc}") from exc


def load_btf_ext(data: bytes, btf: BTF) -> BTFExt:
    try:
        return BTFExt.parse(data, btf)
    except BPFError:
        raise
    except _UNEXPECTED as exc:
        raise BTFError(f"malformed .BTF.ext: {type(exc).__name__}: {exc}") from exc
