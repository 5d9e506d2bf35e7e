"""Deterministic fakes for fast engine tests (no ONNX, no OCR)."""

from __future__ import annotations

import hashlib

import numpy as np
from PIL import Image

from engine.analyze import lexical_tokens


class FakeTextEncoder:
    """Bag-of-tokens hashed into `dim` dimensions: texts sharing words get similar vectors."""

    pack_id = "fake"

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.calls = 0

    def encode(self, texts, batch_size: int = 32) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)  # (n, dim)
        for i, text in enumerate(texts):
            for tok in lexical_tokens(text):
                h = int.from_bytes(hashlib.blake2b(tok.encode(), digest_size=4).digest(), "little")
                out[i, h % self.dim] += 1.0
            n = np.linalg.norm(out[i])
            out[i] = out[i] / n if n else out[i]
            if not n:
                out[i, 0] = 1.0
        return out


class FakeImageEncoder:
    """Downscaled pixels as the embedding: identical pictures match exactly."""

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        side = int(dim ** 0.5)
        assert side * side == dim
        self.side = side

    def encode(self, images, batch_size: int = 16) -> np.ndarray:
        rows = []
        for im in images:
            g = np.asarray(im.convert("L").resize((self.side, self.side), Image.BILINEAR),
                           dtype=np.float32).ravel()
            g = 255.0 - g  # ink, not paper
            n = np.linalg.norm(g)
            rows.append(g / n if n else np.eye(1, self.dim, 0, dtype=np.float32)[0])
        return np.stack(rows).astype(np.float32)  # (n, dim)


def png_header(width: int, height: int, mode: str = "1") -> bytes:
    """A PNG that only claims its size ("1", "L" or "RGB"): a decompression bomb's header, which
    must be refused before any pixel is decoded (its image data is empty)."""
    import struct
    import zlib

    depth, colour = {"1": (1, 0), "L": (8, 0), "RGB": (8, 2)}[mode]

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
