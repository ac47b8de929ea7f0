"""Seeded damage to media files, shared by ``bench/fuzz.py`` and ``tests/test_fuzz.py``.

Each kind takes the file's bytes and a ``numpy.random.Generator`` and returns damaged bytes; the same seed gives
the same copy on every machine and in every process (no ``hash()``, no ``os.urandom``). Nothing here imports
videolens: the damage must not depend on the code under test.
"""

from __future__ import annotations

import numpy as np

KINDS = ("truncate", "flip", "zero", "header", "splice", "duplicate")


def _span(n: int, rng: np.random.Generator, lo: float = 0.001, hi: float = 0.1) -> tuple[int, int]:
    """A random ``[a, b)`` inside ``n`` bytes whose length is between ``lo`` and ``hi`` of the file (>= 16 bytes)."""
    length = max(16, int(n * rng.uniform(lo, hi)))
    a = int(rng.integers(0, max(1, n - length)))
    return a, min(n, a + length)


def truncate(data: bytes, rng: np.random.Generator) -> bytes:
    """The file cut at a random point (an interrupted download or copy)."""
    return data[: int(len(data) * rng.uniform(0.01, 0.99))]


def flip(data: bytes, rng: np.random.Generator) -> bytes:
    """1 to 300 random bytes anywhere XOR-ed with random non-zero values (bit rot, a bad transfer)."""
    b = bytearray(data)
    n = int(rng.integers(1, 301))
    for pos, v in zip(rng.integers(0, len(b), n), rng.integers(1, 256, n)):
        b[int(pos)] ^= int(v)
    return bytes(b)


def zero(data: bytes, rng: np.random.Generator) -> bytes:
    """A block of 0.1-10 % of the file set to zeros (an unwritten sector, a sparse file's hole)."""
    b = bytearray(data)
    a, z = _span(len(b), rng)
    b[a:z] = bytes(z - a)
    return bytes(b)


def header_span(data: bytes) -> tuple[int, int]:
    """Where the container's description of its streams lies: the MP4 ``moov`` box (at the front or the end), else
    the first 8 KiB (Matroska's EBML header, segment info and tracks; AVI's ``hdrl`` list; MPEG-PS pack and
    system headers)."""
    moov = data.find(b"moov")
    if moov >= 4:
        size = int.from_bytes(data[moov - 4: moov], "big")
        if 8 <= size <= len(data) - moov + 4:
            return moov - 4, moov - 4 + size
    return 0, min(len(data), 8192)


def header(data: bytes, rng: np.random.Generator) -> bytes:
    """1-40 bytes of the stream description flipped, or a run of 4-64 bytes in it overwritten with random bytes."""
    b = bytearray(data)
    a, z = header_span(data)
    if rng.random() < 0.5:
        n = int(rng.integers(1, 41))
        for pos, v in zip(rng.integers(a, z, n), rng.integers(1, 256, n)):
            b[int(pos)] ^= int(v)
    else:
        length = int(rng.integers(4, 65))
        pos = int(rng.integers(a, max(a + 1, z - length)))
        b[pos: pos + length] = rng.integers(0, 256, length, dtype=np.uint8).tobytes()
    return bytes(b)


def splice(data: bytes, rng: np.random.Generator) -> bytes:
    """A chunk cut out and pasted elsewhere (a bad edit, a reordered transfer): the file keeps its length."""
    a, z = _span(len(data), rng)
    chunk, rest = data[a:z], data[:a] + data[z:]
    at = int(rng.integers(0, len(rest) + 1))
    return rest[:at] + chunk + rest[at:]


def duplicate(data: bytes, rng: np.random.Generator) -> bytes:
    """A chunk repeated 1-3 times in place (a retried write appended twice): the file grows."""
    a, z = _span(len(data), rng)
    return data[:z] + data[a:z] * int(rng.integers(1, 4)) + data[z:]


DAMAGE = {"truncate": truncate, "flip": flip, "zero": zero, "header": header, "splice": splice,
          "duplicate": duplicate}


def damage(data: bytes, kind: str, seed: int) -> bytes:
    """``data`` damaged by ``kind`` with ``numpy.random.default_rng(seed)``; the result always differs from
    ``data`` (a draw that changed nothing is redrawn from the same generator)."""
    rng = np.random.default_rng(seed)
    for _ in range(8):
        out = DAMAGE[kind](data, rng)
        if out != data:
            return out
    raise ValueError(f"{kind} left the data unchanged eight times (seed {seed})")


def plan(sources: list[str], count: int, seed: int) -> list[tuple[str, str, int]]:
    """``count`` cases ``(source, kind, case_seed)`` over sources x kinds in a seeded order: each cell gets at most
    ``count // cells + 1`` of them (about ``count / cells``)."""
    rng = np.random.default_rng(seed)
    cells = [(s, k) for s in sources for k in KINDS]
    order = rng.permutation(len(cells) * (count // len(cells) + 1))[: count]
    seeds = rng.integers(0, 2**31, count)
    return [(*cells[int(i) % len(cells)], int(s)) for i, s in zip(order, seeds)]
