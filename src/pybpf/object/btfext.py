"""BTF and BTF.ext loading for the object parser, with one error contract.

The BTF layer promises BTFError for malformed input; this wrapper makes sure
that whatever slips through still surfaces as a BTFError, so that parsing an
object never raises anything outside the BPFError hierarchy, and that every
BTFError names the ELF section it came from (the BTF layer only knows offsets).
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
    except BTFError as exc:
        raise exc.in_section(".BTF") from exc
    except BPFError:
        raise
    except _UNEXPECTED as exc:
        raise BTFError(f"malformed: {type(exc).__name__}: {exc}", section=".BTF") from exc


def load_btf_ext(data: bytes, btf: BTF) -> BTFExt:
    try:
        return BTFExt.parse(data, btf)
    except BTFError as exc:
        raise exc.in_section(".BTF.ext") from exc
    except BPFError:
        raise
    except _UNEXPECTED as exc:
        raise BTFError(f"malformed: {type(exc).__name__}: {exc}", section=".BTF.ext") from exc
