"""Image files (PNG, JPEG, TIFF incl. multi-page, BMP, WebP) -> OCR'd pages (Pillow).

Every frame is EXIF-transposed (phone photos store "rotate me" as a tag, not as pixels) and
checked against settings.max_image_pixels *before* decoding, so a decompression bomb is refused
with a clear reason instead of exhausting memory.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Iterator

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from engine.config import EngineSettings
from engine.errors import ExtractionError
from engine.types import ExtractedDocument, PageContent

from .layout import words_to_text
from .ocr import OcrEngine, read_upright

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"})
MAX_OCR_SIDE_PX = 4000  # larger photos/scans are downsized for OCR only (boxes are relative)


def open_image(path: Path, settings: EngineSettings) -> Image.Image:
    """Open lazily (header only) and refuse what cannot or should not be decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
    except Image.DecompressionBombError:
        raise _too_large(path, None, settings) from None
    except UnidentifiedImageError:
        raise ExtractionError(path, "not a readable image: the file is damaged or its format "
                                    "does not match its name") from None
    except OSError as exc:
        raise ExtractionError(path, f"the image could not be opened ({exc})") from None
    _check_pixels(path, im, settings)
    return im


def image_frames(path: Path, settings: EngineSettings) -> Iterator[Image.Image]:
    """Each frame (TIFF pages) decoded, EXIF orientation applied, as RGB."""
    im = open_image(path, settings)
    with im:
        for frame in ImageSequence.Iterator(im):
            _check_pixels(path, frame, settings)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                    upright = ImageOps.exif_transpose(frame)
                    yield upright.convert("RGB")
            except Image.DecompressionBombError:
                raise _too_large(path, frame, settings) from None
            except (OSError, SyntaxError, ValueError) as exc:
                raise ExtractionError(path, f"the image data is damaged or truncated ({exc})") from None


def extract_image(path: Path, settings: EngineSettings, ocr: OcrEngine | None) -> ExtractedDocument:
    pages: list[PageContent] = []
    warnings: list[str] = []
    for no, frame in enumerate(image_frames(path, settings), start=1):
        width, height = frame.size
        words, rotation, source = [], 0, "none"
        if ocr is not None and settings.ocr_enabled:
            try:
                words, rotation = read_upright(ocr, _for_ocr(frame))
                source = "ocr"
            except Exception as exc:  # the picture is still worth keeping
                warnings.append(f"page {no}: OCR failed ({type(exc).__name__}: {exc})"[:200])
            if rotation in (90, 270):
                width, height = height, width
        pages.append(PageContent(page_no=no, text=words_to_text(words), words=tuple(words),
                                 width=float(width), height=float(height), source=source,
                                 rotation=rotation, visual=True))
    return ExtractedDocument(path=path, format="image", kind="drawing", title=path.stem,
                             pages=tuple(pages), warnings=tuple(warnings))


def render_image(path: Path, page_no: int, settings: EngineSettings, *, grayscale: bool = False,
                 max_px: int | None = None) -> Image.Image:
    """Frame `page_no` (1-based), upright per EXIF; optionally grey and/or downsized."""
    for no, frame in enumerate(image_frames(path, settings), start=1):
        if no == page_no:
            if max_px and max(frame.size) > max_px:
                frame.thumbnail((max_px, max_px), Image.Resampling.LANCZOS)
            return frame.convert("L") if grayscale else frame
    raise ExtractionError(path, f"page {page_no} does not exist in this image")


def _for_ocr(frame: Image.Image) -> Image.Image:
    if max(frame.size) <= MAX_OCR_SIDE_PX:
        return frame
    small = frame.copy()
    small.thumbnail((MAX_OCR_SIDE_PX, MAX_OCR_SIDE_PX), Image.Resampling.LANCZOS)
    return small


def _check_pixels(path: Path, im: Image.Image, settings: EngineSettings) -> None:
    if im.width * im.height > settings.max_image_pixels:
        raise _too_large(path, im, settings)


def _too_large(path: Path, im: Image.Image | None, settings: EngineSettings) -> ExtractionError:
    size = f"{im.width} x {im.height} pixels" if im is not None else "too many pixels"
    return ExtractionError(path, f"the image is too large to read safely ({size}; the limit is "
                                 f"{settings.max_image_pixels:,} pixels)")
