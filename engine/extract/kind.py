"""Drawing vs document: a deliberately simple, explainable heuristic.

Why simple: the kind only steers presentation and the "drawings like it" list; a wrong guess costs
little, while an opaque classifier would be hard to explain to a user or to fix per site.

The rule, per page:
- a *drawing page* carries no running text: at most `MAX_LONG_LINES` lines longer than
  `LONG_LINE_CHARS` characters per A4 of page area, and either fewer than `MAX_DRAWING_CHARS`
  characters per A4 or text that is scattered labels (fewer than `LABEL_WORDS_PER_LINE` words per
  line on average: the pin names and net labels of a schematic, the notes of an A0 sheet); and it
  carries shaped line art (at least `MIN_LINE_ART` curves or slanted strokes: outlines, arcs,
  hatching, dimension arrowheads, wires at an angle — axis-aligned lines and rectangles are not
  counted, because table grids in specs and inspection reports are made of them) or is mainly a
  picture (a scan or photo covering half the page);
- anything else is a *document page* (specs, process sheets, reports, letters, parts lists).
Limits scale with the page area: an A0 sheet may hold sixteen A4 pages' worth of notes.
A page without text layer whose text OCR read from at least `OUTLINED_MIN_LINE_ART` shaped
strokes is a drawing (CAD exports draw their text as outlines; OCR joins its labels into long lines).
A PDF is a drawing when at least half of its pages are drawing pages. Image files are always
drawings; text, CSV, XLSX and DOCX files are always documents.

Measured on the development sets of ../shared/data and the sample library (bench/bench_dev.py
prints it): 303 of 305 PDFs right; the two misses are pin-assignment charts, which are tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from engine.types import DocKind

LONG_LINE_CHARS = 40
MAX_LONG_LINES = 6  # per A4 of page area
MAX_DRAWING_CHARS = 1500  # per A4 of page area, unless the text is scattered labels
LABEL_WORDS_PER_LINE = 3.0
MIN_LINE_ART = 20
OUTLINED_MIN_LINE_ART = 1000  # shaped strokes of a page without text layer: outlined CAD text
MIN_PICTURE_COVER = 0.5
A4_AREA_PT2 = 595.0 * 842.0


@dataclass(frozen=True)
class PageStats:
    """What the heuristic looks at on one page."""

    chars: int = 0  # non-space characters of the page text (text layer or OCR)
    long_lines: int = 0  # text lines with more than LONG_LINE_CHARS characters
    line_art: int = 0  # shaped vector strokes (curves, slanted lines)
    picture_cover: float = 0.0  # share of the page area covered by raster images, 0..1
    words_per_line: float = 0.0  # mean words on a non-empty text line
    a4_pages: float = 1.0  # page area in A4 pages (at least 1)
    text_layer: bool = True  # the text came from the PDF's text layer (not from OCR)


def page_stats(text: str, line_art: int = 0, picture_cover: float = 0.0,
               area_pt2: float = A4_AREA_PT2, text_layer: bool = True) -> PageStats:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    words = sum(len(ln.split()) for ln in lines)
    return PageStats(chars=sum(len(ln.replace(" ", "")) for ln in lines),
                     long_lines=sum(len(ln) > LONG_LINE_CHARS for ln in lines),
                     line_art=line_art, picture_cover=picture_cover,
                     words_per_line=words / len(lines) if lines else 0.0,
                     a4_pages=max(1.0, area_pt2 / A4_AREA_PT2), text_layer=text_layer)


def is_drawing_page(s: PageStats) -> bool:
    if not s.text_layer and s.line_art >= OUTLINED_MIN_LINE_ART:
        # text drawn as outlines (a CAD export), read back by OCR, whose line grouping joins
        # neighbouring labels into long lines: the strokes decide
        return True
    labels = s.chars < MAX_DRAWING_CHARS * s.a4_pages or s.words_per_line < LABEL_WORDS_PER_LINE
    little_text = s.long_lines <= MAX_LONG_LINES * s.a4_pages and labels
    graphic = s.line_art >= MIN_LINE_ART or s.picture_cover >= MIN_PICTURE_COVER
    return little_text and graphic


def classify_kind(pages: Sequence[PageStats]) -> DocKind:
    """"drawing" when at least half of the pages are drawing pages, else "document"."""
    if not pages:
        return "document"
    drawing_pages = sum(is_drawing_page(p) for p in pages)
    return "drawing" if 2 * drawing_pages >= len(pages) else "document"
