"""PDF pages -> text + word boxes (text layer, or OCR of a render), and page renders (PyMuPDF).

Boxes are normalised to the page *as displayed*: MuPDF reports words in unrotated page space,
so each box goes through `page.rotation_matrix` before it is divided by the displayed size.
"""

from __future__ import annotations

from pathlib import Path

import pymupdf
from PIL import Image

from engine.config import EngineSettings
from engine.errors import ExtractionError
from engine.analyze import extract_identifiers
from engine.types import Box, ExtractedDocument, PageContent, Word

from .kind import PageStats, classify_kind, is_drawing_page, page_stats
from .layout import nfkc, split_word, words_to_text
from .ocr import OcrEngine, read_upright

MAX_OCR_SIDE_PX = 5000  # renders for OCR above this (A0 at 150 dpi) are made at a lower dpi


def open_pdf(path: Path) -> pymupdf.Document:
    """Open and unlock a PDF, or raise ExtractionError saying why it cannot be read."""
    try:
        doc = pymupdf.open(str(path), filetype="pdf")
    except pymupdf.EmptyFileError:
        raise ExtractionError(path, "the file is empty (0 bytes)") from None
    except Exception as exc:  # MuPDF's FileDataError & co.: its message is technical
        raise ExtractionError(path, _why_unreadable(path) + f" ({_short(exc)})") from None
    if doc.needs_pass and not doc.authenticate(""):
        doc.close()
        raise ExtractionError(path, "the PDF is password-protected (encrypted); "
                                    "save an unprotected copy to index it")
    if doc.page_count == 0:
        doc.close()
        raise ExtractionError(path, "the PDF has no pages (damaged or truncated file)")
    return doc


def extract_pdf(path: Path, settings: EngineSettings, ocr: OcrEngine | None, *,
                first_page: int = 1, max_pages: int | None = None) -> ExtractedDocument:
    """Pages `first_page` .. `first_page + max_pages - 1` (all by default) of a PDF; the result's
    `page_total` says how many the file has, so a long one can be read in batches."""
    pymupdf.TOOLS.mupdf_warnings(reset=True)
    doc = open_pdf(path)
    warnings: list[str] = []
    pages: list[PageContent] = []
    stats: list[PageStats] = []
    failed = 0
    total = doc.page_count
    end = total if max_pages is None else min(total, first_page - 1 + max_pages)
    try:
        for index in range(first_page - 1, end):
            try:
                page = doc.load_page(index)
                content, st = _extract_page(page, index + 1, settings, ocr, warnings)
            except ExtractionError:
                raise
            except Exception as exc:  # one bad page: keep the others
                failed += 1
                warnings.append(f"page {index + 1} could not be read ({_short(exc)})")
                content, st = PageContent(page_no=index + 1, text="", source="none"), PageStats()
            pages.append(content)
            stats.append(st)
        title = _useful_title((doc.metadata or {}).get("title") or "")
    finally:
        doc.close()
    if failed == len(pages) and first_page == 1:
        raise ExtractionError(path, "no page of the PDF could be read (damaged or truncated file)")
    if "repair" in (pymupdf.TOOLS.mupdf_warnings(reset=True) or "").lower():
        if not any(st.chars or st.line_art or st.picture_cover for st in stats):
            raise ExtractionError(path, _why_unreadable(path) + "; no page has readable content")
        warnings.append("the PDF is damaged or incomplete and was repaired while reading; "
                        "some content may be missing")
    kind = classify_kind(stats)
    if kind == "drawing":  # every drawing page is worth a visual embedding
        pages = [_with_visual(p) for p in pages]
    return ExtractedDocument(path=path, format="pdf", kind=kind, title=title or path.stem,
                             pages=tuple(pages), warnings=tuple(warnings), page_total=total)


def _extract_page(page: pymupdf.Page, page_no: int, settings: EngineSettings,
                  ocr: OcrEngine | None, warnings: list[str]) -> tuple[PageContent, PageStats]:
    rect = page.rect  # displayed (rotated) size in points
    words = text_layer_words(page)
    text = _pdf_text(words)
    source = "text-layer" if words else "none"
    rotation = 0
    width, height = rect.width, rect.height
    cover = _picture_cover(page)
    art = _line_art(page)
    n_chars = sum(len(w.text) for w, _ in words)
    plain_words = [w for w, _ in words]
    if n_chars < settings.min_text_layer_chars and ocr is not None and settings.ocr_enabled:
        dpi = min(settings.render_dpi, int(72 * MAX_OCR_SIDE_PX / max(width, height, 1)))
        try:
            ocr_words, rotation = read_upright(ocr, render_pdf_page(page, dpi))
        except Exception as exc:  # keep the text layer (if any) and say what happened
            warnings.append(f"page {page_no}: OCR failed ({_short(exc)})")
            ocr_words, rotation = [], 0
        if sum(len(w.text) for w in ocr_words) > n_chars:
            plain_words, text, source = ocr_words, words_to_text(ocr_words), "ocr"
            if rotation in (90, 270):
                width, height = height, width
        else:
            rotation = 0
    elif (ocr is not None and settings.ocr_enabled and not extract_identifiers(text)
          and is_drawing_page(page_stats(text, art, cover, abs(rect)))):
        # A drawing whose text layer names no part, material or standard: CAD exports often
        # turn the title block into outlines. Read the picture too and add what OCR finds there.
        extra = _ocr_missing_words(page, plain_words, settings, ocr, warnings, page_no)
        if extra:
            plain_words = plain_words + extra
            text = text + "\n" + words_to_text(extra)
            source = "text-layer+ocr"
    st = page_stats(text, art, cover, abs(rect), text_layer=source != "ocr")
    visual = cover >= 0.5 or source in ("ocr", "none") or is_drawing_page(st)
    return PageContent(page_no=page_no, text=text, words=tuple(plain_words), width=width,
                       height=height, source=source, rotation=rotation, visual=visual), st


def _ocr_missing_words(page: pymupdf.Page, have: list[Word], settings: EngineSettings,
                       ocr: OcrEngine, warnings: list[str], page_no: int) -> list[Word]:
    """OCR words of an upright page that no text-layer word already covers, if OCR finds an
    identifier the text layer lacks (otherwise nothing: the page cost one OCR pass, no more)."""
    rect = page.rect
    dpi = min(settings.render_dpi, int(72 * MAX_OCR_SIDE_PX / max(rect.width, rect.height, 1)))
    try:
        words, rotation = read_upright(ocr, render_pdf_page(page, dpi))
    except Exception as exc:
        warnings.append(f"page {page_no}: OCR failed ({_short(exc)})")
        return []
    if rotation or not extract_identifiers(words_to_text(words)):
        return []

    def covered(w: Word) -> bool:
        cx, cy = (w.box.x0 + w.box.x1) / 2, (w.box.y0 + w.box.y1) / 2
        return any(h.box.x0 <= cx <= h.box.x1 and h.box.y0 <= cy <= h.box.y1 for h in have)

    return [w for w in words if not covered(w)]


def text_layer_words(page: pymupdf.Page) -> list[tuple[Word, tuple[int, int]]]:
    """Words of the text layer in reading order, with (block, line) ids to rebuild lines.
    Boxes are turned into displayed-page space and normalised to 0..1."""
    rect = page.rect
    mat = page.rotation_matrix
    out: list[tuple[Word, tuple[int, int]]] = []
    for x0, y0, x1, y1, text, block, line, _n in page.get_text("words", sort=True):
        r = pymupdf.Rect(x0, y0, x1, y1) * mat
        box = Box(_clip(r.x0 / rect.width), _clip(r.y0 / rect.height),
                  _clip(r.x1 / rect.width), _clip(r.y1 / rect.height))
        for w in split_word(text, box):
            out.append((w, (block, line)))
    return out


def _pdf_text(words: list[tuple[Word, tuple[int, int]]]) -> str:
    """Words of one MuPDF line joined by spaces; lines by newlines; blocks by a blank line."""
    parts: list[str] = []
    prev = None
    for w, (block, line) in words:
        if prev is None:
            pass
        elif (block, line) == prev:
            parts.append(" ")
        else:
            parts.append("\n\n" if block != prev[0] else "\n")
        parts.append(w.text)
        prev = (block, line)
    return "".join(parts)


def _picture_cover(page: pymupdf.Page) -> float:
    """Share of the page covered by raster images (overlaps may add up; capped at 1)."""
    area = abs(page.rect) or 1.0
    total = 0.0
    for info in page.get_image_info():
        r = pymupdf.Rect(info["bbox"]) & page.rect
        total += abs(r) if not r.is_empty else 0.0
    return min(1.0, total / area)


def _line_art(page: pymupdf.Page) -> int:
    """Number of *shaped* vector strokes: curves and slanted lines (outlines, arcs, hatching,
    arrowheads). Axis-aligned lines and rectangles are left out on purpose: the grid of a table
    in a spec or an inspection report is made of them, and must not make it look like a drawing."""
    try:
        drawings = page.get_cdrawings()
    except Exception:
        return 0
    shaped = 0
    for path in drawings:
        for item in path.get("items", ()):
            kind = item[0]
            if kind == "c":
                shaped += 1
            elif kind == "l":
                (x0, y0), (x1, y1) = item[1], item[2]
                shaped += abs(x1 - x0) > 0.5 and abs(y1 - y0) > 0.5
            elif kind == "qu":
                shaped += 1
    return shaped


MAX_RENDER_SIDE_PX = 8000  # a 307 x 220 inch CAD sheet at 150 dpi would be 817 megapixels


def render_pdf_page(page: pymupdf.Page, dpi: int, *, grayscale: bool = False,
                    max_px: int | None = None) -> Image.Image:
    """Render the displayed page (rotation applied), white background, no alpha. The longer
    side never exceeds `max_px` (default MAX_RENDER_SIDE_PX): huge sheets render at a lower dpi
    instead of failing (MuPDF refuses overly large images) or filling the memory."""
    limit = min(max_px or MAX_RENDER_SIDE_PX, MAX_RENDER_SIDE_PX)
    dpi = max(1, min(dpi, int(72 * limit / max(page.rect.width, page.rect.height, 1))))
    cs = pymupdf.csGRAY if grayscale else pymupdf.csRGB
    pix = page.get_pixmap(dpi=dpi, colorspace=cs, alpha=False)
    mode = "L" if grayscale else "RGB"
    return Image.frombytes(mode, (pix.width, pix.height), pix.samples)


def render_pdf(path: Path, page_no: int, dpi: int, *, grayscale: bool = False,
               max_px: int | None = None) -> Image.Image:
    doc = open_pdf(path)
    try:
        if not 1 <= page_no <= doc.page_count:
            raise ExtractionError(path, f"page {page_no} does not exist (the PDF has {doc.page_count})")
        return render_pdf_page(doc.load_page(page_no - 1), dpi, grayscale=grayscale, max_px=max_px)
    finally:
        doc.close()


def _useful_title(meta: str) -> str:
    """The PDF's own title, unless it is a tool's placeholder ("Microsoft Word - a.docx",
    "untitled", a file name), which would be a worse title than the file name itself."""
    title = nfkc(meta).strip()
    low = title.lower()
    if (not title or low in {"untitled", "no title", "title", "document"}
            or low.startswith("microsoft ") or low.endswith((".doc", ".docx", ".xls", ".xlsx",
                                                             ".dwg", ".dxf", ".pdf", ".tmp"))):
        return ""
    return title


def _why_unreadable(path: Path) -> str:
    """The most specific reason we can give from the raw bytes."""
    with open(path, "rb") as fh:
        head = fh.read(1024)
        fh.seek(max(0, path.stat().st_size - 2048))
        tail = fh.read()
    if b"%PDF" not in head:
        return "not a PDF file (it does not start with %PDF; wrong extension or damaged)"
    if b"%%EOF" not in tail:
        return "the PDF is incomplete (truncated, e.g. an interrupted copy or download)"
    return "not a readable PDF: the file is damaged"


def _with_visual(p: PageContent) -> PageContent:
    from dataclasses import replace

    return p if p.visual else replace(p, visual=True)


def _clip(v: float) -> float:
    return min(1.0, max(0.0, v))


def _short(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return msg[:160]
