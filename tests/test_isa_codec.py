"""Encode/decode of the instruction model, including the invalid encodings."""

from __future__ import annotations

import pytest

from pybpf.errors import InvalidInstructionError
from pybpf.isa import Instruction, decode, encode

LDDW_BYTES = bytes.fromhex("180000008877665500000000443322119500000000000000")


def test_lddw_is_one_logical_instruction() -> None:
    prog = decode(LDDW_BYTES)
    assert len(prog) == 2
    assert prog[0].width == 2
    assert prog[0].imm == 0x1122334455667788
    assert encode(prog) == LDDW_BYTES


def test_big_endian_round_trip() -> None:
    prog = [Instruction(0xBF, dst=1, src=2), Instruction(0x95)]
    be = encode(prog, endian="big")
    assert be[1] == 0x12
    assert decode(be, endian="big") == prog


@pytest.mark.parametrize(
    ("data", "index", "why"),
    [
        (bytes.fromhex("ff00000000000000"), 0, "unknown"),
        (bytes.fromhex("9500000000000000b70c000000000000"), 1, "register"),
        (bytes.fromhex("1800000001000000"), 0, "truncated"),
        (bytes.fromhex("950000000000000095000000"), 1, "multiple of 8"),
        (bytes.fromhex("0700010001000000"), 0, "offset"),
    ],
)
def test_invalid_encodings_name_index_and_reason(data: bytes, index: int, why: str) -> None:
    with pytest.raises(InvalidInstructionError) as info:
        decode(data)
    assert info.value.index == index
    assert why in str(info.value)


def test_metadata_does_not_affect_equality() -> None:
    from pybpf.isa import InsnMeta

    a = Instruction(0x95)
    assert a == a.with_meta(InsnMeta(symbol="f"))
