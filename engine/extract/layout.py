"""Small text-geometry helpers shared by the PDF, image and OCR paths."""

from __future__ import annotations

import unicodedata
from typing import Iterable

from engine.types import Box, Word


def nfkc(text: str) -> str:
    """NFKC (full-width letters/digits and ideographic spaces -> ASCII), line ends kept."""
    return unicodedata.normalize("NFKC", text)


def split_word(text: str, box: Box, conf: float = 1.0) -> list[Word]:
    """NFKC-normalise a word; if that exposes spaces (U+3000 inside a PDF word), cut it into
    several words, sharing the box horizontally in proportion to their character counts."""
    text = nfkc(text).strip()
    parts = text.split()
    if not parts:
        return []
    if len(parts) == 1:
        return [Word(parts[0], box, conf)]
    total = len(text)
    words, start = [], 0
    for part in parts:
        start = text.index(part, start)
        x0 = box.x0 + (box.x1 - box.x0) * start / total
        x1 = box.x0 + (box.x1 - box.x0) * (start + len(part)) / total
        words.append(Word(part, Box(x0, box.y0, x1, box.y1), conf))
        start += len(part)
    return words


def words_to_text(words: Iterable[Word]) -> str:
    """Join words (already in reading order) into lines: a word starts a new line when it is
    left of the previous word or does not overlap it vertically by half a line height."""
    lines: list[str] = []
    prev: Word | None = None
    for w in words:
        if prev is None:
            lines.append(w.text)
        else:
            overlap = min(prev.box.y1, w.box.y1) - max(prev.box.y0, w.box.y0)
            height = min(prev.box.y1 - prev.box.y0, w.box.y1 - w.box.y0)
            if w.box.x0 < prev.box.x0 or overlap < 0.5 * height:
                lines.append(w.text)
            else:
                lines[-1] += " " + w.text
        prev = w
    return "\n".join(lines)

