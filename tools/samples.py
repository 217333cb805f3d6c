"""Valid sample files for tests and the benchmark."""

from __future__ import annotations

import random
import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def make_png(size: int = 2048, seed: int = 0) -> bytes:
    """A valid greyscale PNG of about ``size`` bytes whose pixels depend on ``seed``."""
    width = 256
    rows = max(1, size // (width + 1))
    rng = random.Random(seed)
    raw = b"".join(b"\x00" + rng.randbytes(width) for _ in range(rows))
    header = struct.pack(">IIBBBBB", width, rows, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(raw, 0)) + _chunk(b"IEND", b""))
