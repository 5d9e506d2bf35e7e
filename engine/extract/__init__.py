"""engine.extract: files -> ExtractedDocument (text, word boxes, page flags) and page renders.

Public contract (docs/ARCHITECTURE.md):
    SUPPORTED_SUFFIXES, EXTRACTORS (suffix -> reader), reader_for(path)
    extract_document(path, settings=EngineSettings(), ocr=None) -> ExtractedDocument
    render_page(path, page_no, dpi=150, *, grayscale=False, max_px=None) -> PIL.Image.Image
    classify_kind(page_stats) -> "drawing" | "document"
OCR lives in engine.extract.ocr (OcrEngine, get_ocr_engine, read_upright).

Every failure to read a file surfaces as ExtractionError (or UnsupportedFileError) with a reason a
person can act on ("the PDF is password-protected", "the file is empty"); indexing records it
and moves on, so one bad file never stops a run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from PIL import Image

from engine.config import EngineSettings
from engine.errors import ExtractionError, UnsupportedFileError
from engine.types import ExtractedDocument

from .image import IMAGE_SUFFIXES, downscale_frame, extract_image, render_image
from .kind import PageStats, classify_kind, is_drawing_page, page_stats
from .ocr import OcrEngine, get_ocr_engine, read_upright
from .pdf import extract_pdf, render_pdf
from .text import (DOCX_SUFFIXES, TABLE_SUFFIXES, TEXT_SUFFIXES, extract_csv, extract_docx,
                   extract_plain, extract_xlsx)

Reader = Callable[[Path, EngineSettings, Optional[OcrEngine]], ExtractedDocument]


def _without_ocr(read: Callable[[Path], ExtractedDocument]) -> Reader:
    """A reader of a text format: it needs neither the settings nor OCR."""
    def reader(path: Path, settings: EngineSettings, ocr: Optional[OcrEngine]) -> ExtractedDocument:
        return read(path)

    reader.__name__ = read.__name__
    return reader


# one reader per suffix; a suffix that is not here is not supported (UnsupportedFileError)
EXTRACTORS: dict[str, Reader] = {
    ".pdf": extract_pdf,
    **{suffix: extract_image for suffix in IMAGE_SUFFIXES},
    **{suffix: _without_ocr(extract_plain) for suffix in TEXT_SUFFIXES},
    ".csv": _without_ocr(extract_csv),
    ".xlsx": _without_ocr(extract_xlsx),
    **{suffix: _without_ocr(extract_docx) for suffix in DOCX_SUFFIXES},
}
assert TABLE_SUFFIXES == {".csv", ".xlsx"}, "a new table format needs its reader in EXTRACTORS"
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(EXTRACTORS)

__all__ = ["SUPPORTED_SUFFIXES", "EXTRACTORS", "reader_for", "extract_document", "render_page", "classify_kind", "PageStats",
           "page_stats", "is_drawing_page", "OcrEngine", "get_ocr_engine", "read_upright",
           "downscale_frame"]

_DEFAULT_SETTINGS = EngineSettings()


def extract_document(path: Path, settings: EngineSettings = _DEFAULT_SETTINGS,
                     ocr: OcrEngine | None = None, *, first_page: int = 1,
                     max_pages: int | None = None) -> ExtractedDocument:
    """Read one file. `ocr` is used for images and for PDF pages without a usable text layer;
    without it such pages come back with source="none" and empty text (still visual=True).
    A PDF can be read in batches of pages (`first_page`, `max_pages`; `page_total` of the
    result); other formats always come whole."""
    path = Path(path)
    read = reader_for(path)
    _check_file(path)
    try:
        if read is extract_pdf:  # read in batches of pages (resumable long files)
            return extract_pdf(path, settings, ocr, first_page=first_page, max_pages=max_pages)
        return read(path, settings, ocr)
    except ExtractionError:
        raise
    except MemoryError:
        raise ExtractionError(path, "not enough memory to read this file") from None
    except Exception as exc:  # a bug or an exotic file: report it, never crash the indexer
        raise ExtractionError(path, f"unexpected error while reading the file "
                                    f"({type(exc).__name__}: {exc})") from exc


def render_page(path: Path, page_no: int, dpi: int = 150, *, grayscale: bool = False,
                max_px: int | None = None, settings: EngineSettings = _DEFAULT_SETTINGS) -> Image.Image:
    """Picture of page `page_no` (1-based) as displayed (PDF rotation / EXIF applied; OCR
    rotation is *not* applied: turn it by PageContent.rotation to match the word boxes).
    Text-like files are typeset onto an A4 page so every hit can show a thumbnail."""
    path = Path(path)
    reader_for(path)
    suffix = _check_file(path)
    try:
        if suffix == ".pdf":
            return render_pdf(path, page_no, dpi, grayscale=grayscale, max_px=max_px)
        if suffix in IMAGE_SUFFIXES:
            return render_image(path, page_no, settings, grayscale=grayscale, max_px=max_px)
        doc = extract_document(path, settings)
        if not 1 <= page_no <= len(doc.pages):
            raise ExtractionError(path, f"page {page_no} does not exist (the file has {len(doc.pages)})")
        return _typeset(doc.pages[page_no - 1].text, dpi, grayscale=grayscale, max_px=max_px)
    except ExtractionError:
        raise
    except Exception as exc:
        raise ExtractionError(path, f"the page could not be drawn ({type(exc).__name__}: {exc})") from exc


def reader_for(path: Path) -> Reader:
    """The reader of a file's type; UnsupportedFileError ("files of type '.doc' are not
    supported") for any other, whatever the file holds."""
    suffix = Path(path).suffix.lower()
    try:
        return EXTRACTORS[suffix]
    except KeyError:
        raise UnsupportedFileError(path, f"files of type '{suffix or '(none)'}' are not supported") from None


def _check_file(path: Path) -> str:
    """The file's suffix, once it is known to exist, be a file and not be empty."""
    suffix = path.suffix.lower()
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ExtractionError(path, "the file does not exist (moved or deleted?)") from None
    except OSError as exc:
        raise ExtractionError(path, f"the file cannot be accessed ({exc.strerror or exc})") from None
    if not path.is_file():
        raise ExtractionError(path, "this is a folder, not a file")
    if size == 0:
        raise ExtractionError(path, "the file is empty (0 bytes)")
    return suffix


def _typeset(text: str, dpi: int, *, grayscale: bool, max_px: int | None) -> Image.Image:
    """Text on white paper with PyMuPDF's built-in Japanese font (no system font needed).

    Long text fills an A4 page; short text (a CSV row, a memo) becomes a card cut to its length
    in larger type, one "Header: value" field a line, so a thumbnail of it is still readable."""
    import pymupdf

    from .pdf import render_pdf_page

    doc = pymupdf.open()
    try:
        if len(text) <= 600:
            from html import escape

            lines = "<br>".join(escape(ln) for ln in text.replace(" | ", "\n").splitlines())
            page = doc.new_page(width=420, height=842)
            spare, _ = page.insert_htmlbox(  # HTML boxes fall back to a CJK font per glyph
                pymupdf.Rect(24, 24, 396, 818),
                f"<div style='font-family: sans-serif; font-size: 16px'>{lines}</div>")
            if spare >= 0:  # fits: cut the card after the last line
                used = 794 - spare
                page.set_cropbox(pymupdf.Rect(0, 0, 420, max(220.0, 48 + used)))
        else:
            page = doc.new_page(width=595, height=842)
            page.insert_textbox(pymupdf.Rect(48, 48, 547, 794), text[:6000], fontname="japan",
                                fontsize=10)
        return render_pdf_page(page, dpi, grayscale=grayscale, max_px=max_px)
    finally:
        doc.close()
