"""Encode/decode of the instruction model, including the invalid encodings."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf.errors import InvalidInstructionError
from pybpf.isa import Instruction, decode, encode


def slot(opcode: int, *, regs: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", opcode, regs, off, imm)


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
        # reserved fields that must be zero
        (slot(0x95, imm=1), 0, "exit with operands"),
        (slot(0x05, regs=0x10, off=1), 0, "ja with registers"),
        (slot(0xB7, regs=0x21, imm=1), 0, "non-zero source register"),
        (slot(0xBF, regs=0x21, imm=1), 0, "non-zero immediate"),
        (slot(0x87, imm=1), 0, "neg takes no operand"),
        (slot(0x61, regs=0x21, imm=1), 0, "load with non-zero immediate"),
        (slot(0x62, regs=0x21, imm=1), 0, "store-immediate with a source register"),
        (slot(0x63, regs=0x21, imm=1), 0, "store with non-zero immediate"),
        (slot(0x8D, regs=2, imm=1), 0, "callx with operands"),
        (slot(0x85, regs=1, imm=1), 0, "call with a destination register"),
        (slot(0xE5, off=1, imm=1), 0, "may_goto takes only an offset"),
        (slot(0x06, off=1), 0, "ja32 with non-zero offset"),
        (slot(0x18, off=1) + slot(0), 0, "lddw with non-zero offset"),
        (slot(0x18) + slot(0, regs=1), 1, "second slot of lddw"),
        (slot(0x18) + slot(0x18), 1, "second slot of lddw"),
        # unknown values
        (slot(0x95) + slot(0x18, regs=0x71) + slot(0), 1, "unknown lddw source 7"),
        (slot(0x85, regs=0x30, imm=1), 0, "unknown call source 3"),
        (slot(0xDB, regs=0x21, imm=2), 0, "unknown atomic operation"),
        (slot(0xD4, imm=8), 0, "byte swap width 8"),
        (slot(0xBF, regs=0x21, off=4), 0, "non-zero offset 4"),
        (slot(0x86), 0, "unknown opcode 0x86"),
        (slot(0x99, regs=0x21), 0, "unknown opcode 0x99"),
        (slot(0xD3, regs=0x21), 0, "atomic operation on 8- or 16-bit memory"),
        # bad registers
        (slot(0xBF, regs=0xB1), 0, "bad source register r11"),
        (slot(0x95, regs=0x0F), 0, "bad destination register r15"),
        # truncated lddw, also in the middle of a program
        (slot(0x95) + slot(0x18) + slot(0) + slot(0x18), 3, "truncated"),
    ],
)
def test_invalid_encodings_name_index_and_reason(data: bytes, index: int, why: str) -> None:
    with pytest.raises(InvalidInstructionError) as info:
        decode(data)
    assert info.value.index == index
    assert why in str(info.value)
    assert f"index {index}" in str(info.value)


def test_big_endian_decoding_swaps_the_register_nibbles() -> None:
    data = bytes.fromhex("bf12000000000000") + bytes.fromhex("18100000") + (5).to_bytes(4, "big") + bytes(8)
    assert decode(data, endian="big") == [Instruction(0xBF, dst=1, src=2), Instruction(0x18, 1, 0, 0, 5)]
    assert decode(data[:8]) == [Instruction(0xBF, dst=2, src=1)]  # the same byte, little-endian
    with pytest.raises(InvalidInstructionError, match="index 0: bad destination register r11"):
        decode(bytes.fromhex("b7b0000000000000"), endian="big")


@settings(max_examples=400, deadline=None)
@given(
    st.binary(min_size=8, max_size=24).map(lambda b: b[: len(b) // 8 * 8]),
    st.sampled_from(["little", "big"]),
)
def test_arbitrary_bytes_decode_exactly_or_raise_typed_error(data: bytes, endian: str) -> None:
    """Any bytes either decode to instructions that re-encode to the same bytes,
    or raise InvalidInstructionError naming a slot inside the program."""
    try:
        insns = decode(data, endian=endian)  # type: ignore[arg-type]
    except InvalidInstructionError as err:
        assert 0 <= err.index < len(data) // 8
        assert err.reason
    else:
        assert encode(insns, endian=endian) == data  # type: ignore[arg-type]


def test_metadata_does_not_affect_equality() -> None:
    from pybpf.isa import InsnMeta

    a = Instruction(0x95)
    assert a == a.with_meta(InsnMeta(symbol="f"))
