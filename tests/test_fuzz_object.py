"""Mutation fuzzing of ObjectSpec parsing: only the parse errors may escape.

Seeded and bounded in time: bit flips, byte overwrites, truncation, splicing
of two fixtures, and mutations aimed at the ELF/section headers, the symbol
table, relocations, .BTF and .BTF.ext (where structure lives), over every
committed fixture (v1, v3 and v4). A mutated object either raises
ObjectParseError, BTFError or NotSupportedError, or parses into a spec that the
CLI can show in full (``object show --json``, ``prog dump xlated ... linum
opcodes`` and ``btf dump``): a spec that parses but cannot be shown is a bug too.
"""

from __future__ import annotations

import os
import random
import struct
import time
from pathlib import Path

from pybpf.btf import dump_json, dump_raw
from pybpf.cli.cmd_object import object_json
from pybpf.cli.cmd_prog import xlated_json, xlated_lines
from pybpf.errors import BTFError, NotSupportedError, ObjectParseError
from pybpf.object import ObjectSpec

FIX = Path(__file__).parent / "bpf"
SEED = int(os.environ.get("PYBPF_FUZZ_SEED", "20240607"))
CASES = int(os.environ.get("PYBPF_FUZZ_CASES", "3000"))
BUDGET_S = float(os.environ.get("PYBPF_FUZZ_SECONDS", "50"))


def _hot_ranges(data: bytes) -> list[tuple[int, int]]:
    """ELF header, section headers, and the sections a parser interprets."""
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shnum = struct.unpack_from("<H", data, 0x3C)[0]
    ranges = [(0, 64), (shoff, shoff + 64 * shnum)]
    for i in range(shnum):
        base = shoff + 64 * i
        sh_type = struct.unpack_from("<I", data, base + 4)[0]
        off, size = struct.unpack_from("<QQ", data, base + 0x18)
        if sh_type in (1, 2, 9) and size:  # PROGBITS, SYMTAB, REL
            ranges.append((off, off + size))
    return [(a, b) for a, b in ranges if 0 <= a < b <= len(data)]


OPS = 6
PARSE_ERRORS = (ObjectParseError, BTFError, NotSupportedError)


def _mutate(rng: random.Random, data: bytes, other: bytes, hot: list[tuple[int, int]], op: int) -> bytes:
    buf = bytearray(data)
    if op == 0:  # bit flips anywhere
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(len(buf))
            buf[pos] ^= 1 << rng.randrange(8)
    elif op == 1:  # interesting values in structural places
        for _ in range(rng.randint(1, 4)):
            a, b = rng.choice(hot)
            pos = rng.randrange(a, b)
            width = rng.choice((1, 2, 4, 8))
            value = rng.choice(
                (
                    0,
                    1,
                    0x7F,
                    0x80,
                    0xFF,
                    0xFFFF,
                    0x7FFFFFFF,
                    0xFFFFFFFF,
                    2**63,
                    2**64 - 1,
                    rng.getrandbits(64),
                )
            )
            chunk = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
            buf[pos : pos + width] = chunk[: len(buf) - pos]
    elif op == 2:  # truncation
        del buf[rng.randrange(len(buf)) :]
    elif op == 3:  # splice another fixture in
        a = rng.randrange(len(buf))
        b = rng.randrange(len(other))
        n = rng.randint(1, 256)
        buf[a : a + n] = other[b : b + n]
    elif op == 4:  # random bytes in a hot range
        a, b = rng.choice(hot)
        pos = rng.randrange(a, b)
        n = rng.randint(1, 16)
        buf[pos : pos + n] = rng.randbytes(n)
    else:  # byte flips in hot ranges
        for _ in range(rng.randint(1, 16)):
            a, b = rng.choice(hot)
            buf[rng.randrange(a, b)] = rng.randrange(256)
    return bytes(buf)


def _show_everything(spec: ObjectSpec) -> None:
    """What the CLI prints for a parsed object; it must not fail on a spec that parsed."""
    object_json(spec)
    for prog in spec.programs.values():
        xlated_lines(spec, prog, linum=True, opcodes=True)
        xlated_json(spec, prog, linum=True, opcodes=True)
    if spec.btf is not None:
        dump_raw(spec.btf)
        dump_json(spec.btf)


def test_mutations_raise_only_parse_errors() -> None:
    corpus = [p.read_bytes() for p in sorted(FIX.glob("*.o"))]
    assert len(corpus) >= 3 * 20, "the fuzz corpus is every v1/v3/v4 fixture"
    hots = [_hot_ranges(d) for d in corpus]
    rng = random.Random(SEED)
    deadline = time.monotonic() + BUDGET_S
    done = 0
    outcomes = {op: [0, 0] for op in range(OPS)}  # op -> [parsed, rejected]
    for case in range(CASES):
        if time.monotonic() > deadline:
            break
        i = rng.randrange(len(corpus))
        op = case % OPS
        data = _mutate(rng, corpus[i], rng.choice(corpus), hots[i], op)
        try:
            spec = ObjectSpec.from_bytes(data, name="fuzz")
            _show_everything(spec)
            outcomes[op][0] += 1
        except PARSE_ERRORS:
            outcomes[op][1] += 1
        except Exception as exc:
            raise AssertionError(
                f"case {case} op {op} (seed {SEED}): {type(exc).__name__} escaped: {exc}"
            ) from exc
        done += 1
    assert done >= min(CASES, 2000), f"only {done} cases ran in {BUDGET_S}s"
    # every kind of mutation ran many times and reached the error paths
    assert all(sum(counts) >= done // OPS - 1 for counts in outcomes.values()), outcomes
    assert all(rejected > 0 for _, rejected in outcomes.values()), outcomes
