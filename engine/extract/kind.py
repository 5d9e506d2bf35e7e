"""Drawing vs document: a deliberately simple, explainable heuristic.

Why simple: the kind only steers presentation and the "drawings like it" list; a wrong guess costs
little, while an opaque classifier would be hard to explain to a user or to fix per site.

The rule, per page:
- a *drawing page* carries little running text (at most `MAX_LONG_LINES` lines longer than
  `LONG_LINE_CHARS` characters, and fewer than `MAX_DRAWING_CHARS` characters in all), and is
  either carries shaped line art (at least `MIN_LINE_ART` curves or slanted strokes: outlines,
  arcs, hatching, dimension arrowheads — axis-aligned lines and rectangles are not counted,
  because table grids in specs and inspection reports are made of them) or is mainly a picture
  (a scan or photo covering half the page);
- anything else is a *document page* (specs, process sheets, reports, letters).
A PDF is a drawing when at least half of its pages are drawing pages. Image files are always
drawings; text, CSV, XLSX and DOCX files are always documents.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from engine.types import DocKind

LONG_LINE_CHARS = 40
MAX_LONG_LINES = 6
MAX_DRAWING_CHARS = 1500
MIN_LINE_ART = 20
MIN_PICTURE_COVER = 0.5


@dataclass(frozen=True)
class PageStats:
    """What the heuristic looks at on one page."""

    chars: int = 0  # non-space characters of the page text (text layer or OCR)
    long_lines: int = 0  # text lines with more than LONG_LINE_CHARS characters
    line_art: int = 0  # shaped vector strokes (curves, slanted lines)
    picture_cover: float = 0.0  # share of the page area covered by raster images, 0..1


def page_stats(text: str, line_art: int = 0, picture_cover: float = 0.0) -> PageStats:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return PageStats(chars=sum(len(ln.replace(" ", "")) for ln in lines),
                     long_lines=sum(len(ln) > LONG_LINE_CHARS for ln in lines),
                     line_art=line_art, picture_cover=picture_cover)


def is_drawing_page(s: PageStats) -> bool:
    little_text = s.long_lines <= MAX_LONG_LINES and s.chars < MAX_DRAWING_CHARS
    graphic = s.line_art >= MIN_LINE_ART or s.picture_cover >= MIN_PICTURE_COVER
    return little_text and graphic


def classify_kind(pages: Sequence[PageStats]) -> DocKind:
    """"drawing" when at least half of the pages are drawing pages, else "document"."""
    if not pages:
        return "document"
    drawing_pages = sum(is_drawing_page(p) for p in pages)
    return "drawing" if 2 * drawing_pages >= len(pages) else "document"
