"""Image files (PNG, JPEG, TIFF incl. multi-page, BMP, WebP) -> OCR'd pages (Pillow).

Every frame is EXIF-transposed (phone photos store "rotate me" as a tag, not as pixels) and the
memory its decoding will take is checked against settings.max_image_bytes *before* decoding, so
a decompression bomb is refused with a clear reason instead of exhausting memory. The limit is on
memory, not on pixels: a grey CAD render of 817 MP (a 307 x 220 inch sheet at 110 dpi) costs less
than a 300-MP colour scan, and a huge JPEG is decoded at 1/8 scale. Pillow's own bomb guard
(`Image.MAX_IMAGE_PIXELS`, which refuses anything above 179 MP, an A1 scan at 600 dpi is 279 MP)
is replaced by that explicit check.

Large frames are never decoded to full-size RGB: `downscale_frame` decodes a JPEG directly at a
reduced scale (`Image.draft`), other formats in their own mode (1 byte per pixel for grey scans)
followed by an integer box `reduce`, so memory stays near the file's grey pixels and the OCR
input is at most MAX_OCR_SIDE_PX on its longer side.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from PIL import Image, ImageSequence, UnidentifiedImageError

from engine.config import EngineSettings
from engine.errors import ExtractionError
from engine.types import ExtractedDocument, PageContent

from .layout import words_to_text
from .ocr import OcrEngine, read_upright
from .sheet import rectify

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"})
# Larger photos and scans are downsized for OCR (boxes are relative). At 6000 px an A1 sheet is
# ~180 dpi: 2.5 mm lettering (ISO 3098's smallest) stays ~18 px tall, legible to PP-OCR.
MAX_OCR_SIDE_PX = 6000

Image.MAX_IMAGE_PIXELS = None  # checked per frame against EngineSettings.max_image_bytes instead
_ORIENTATION = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
                4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
                6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
                8: Image.Transpose.ROTATE_90}


def open_image(path: Path, settings: EngineSettings, max_side: int = MAX_OCR_SIDE_PX) -> Image.Image:
    """Open lazily (header only) and refuse what cannot or should not be decoded (to at most
    `max_side` px, see `decoding_bytes`)."""
    try:
        im = Image.open(path)
    except UnidentifiedImageError:
        raise ExtractionError(path, "not a readable image: the file is damaged or its format "
                                    "does not match its name") from None
    except OSError as exc:
        raise ExtractionError(path, f"the image could not be opened ({exc})") from None
    except Exception as exc:  # Pillow's parsers raise what they meet on a damaged header
        raise ExtractionError(path, f"not a readable image: the file is damaged "
                                    f"({type(exc).__name__}: {exc})") from None
    _check_memory(path, im, settings, max_side)
    return im


def image_frames(path: Path, settings: EngineSettings, max_side: int | None = None, *,
                 grey: bool = False) -> Iterator[tuple[Image.Image, tuple[int, int]]]:
    """Each frame (TIFF pages) decoded, EXIF orientation applied, as RGB (or L with `grey`), no
    longer than `max_side` (default MAX_OCR_SIDE_PX), with the frame's upright full size."""
    max_side = max_side or MAX_OCR_SIDE_PX
    im = open_image(path, settings, max_side)
    with im:
        frames = ImageSequence.Iterator(im)
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                return
            except Exception as exc:  # a damaged next frame of a TIFF
                raise ExtractionError(path, f"the image data is damaged or truncated "
                                            f"({type(exc).__name__}: {exc})") from None
            _check_memory(path, frame, settings, max_side, grey)
            try:
                orientation = frame.getexif().get(0x0112, 1)
                size = frame.size
                small = downscale_frame(frame, max_side, grey=grey)
                if orientation in _ORIENTATION:
                    small = small.transpose(_ORIENTATION[orientation])
                    if orientation >= 5:
                        size = size[::-1]
                small = small.convert("L" if grey else "RGB")
                flat = rectify(small)  # a photographed sheet, made flat
                if flat is not small:
                    size = (max(1, round(size[0] * flat.width / small.width)),
                            max(1, round(size[1] * flat.height / small.height)))
                yield flat, size
            except ExtractionError:
                raise
            except Exception as exc:  # OSError, SyntaxError, ValueError, TypeError... from Pillow
                raise ExtractionError(path, f"the image data is damaged or truncated "
                                            f"({type(exc).__name__}: {exc})") from None


def downscale_frame(frame: Image.Image, max_side: int, *, grey: bool = False) -> Image.Image:
    """`frame` no longer than `max_side` px, decoded with as little memory as the format allows:
    a JPEG by the decoder itself at 1/2, 1/4 or 1/8 scale (and straight to grey with `grey`),
    others in their own mode (1 byte per pixel for grey scans; 1-bit, palette, 16-bit and alpha
    frames converted first, as `reduce` needs), then box-reduced by an integer factor and
    resampled. Peak memory is about the decoded frame plus the result (a 279 MP grey A1 scan:
    ~0.4 GB); `decoding_bytes` estimates it beforehand."""
    width, height = frame.size
    scale = max_side / max(width, height, 1)
    if frame.format == "JPEG":
        frame.draft("L" if grey else frame.mode, _draft_target(frame.size, max_side))
    frame.load()
    if scale >= 1:
        return frame
    if frame.mode not in ("L", "RGB"):  # 1-bit, palette, 16-bit, alpha: reduce cannot
        frame = frame.convert(_full_size_mode(frame.mode, grey))  # (RGB is made grey once small)
    factor = int(max(frame.size) // max_side)
    small = frame.reduce(factor) if factor >= 2 else frame
    w, h = small.size
    if max(w, h) > max_side:
        r = max_side / max(w, h)
        small = small.resize((max(1, round(w * r)), max(1, round(h * r))), Image.Resampling.LANCZOS)
    return small


def extract_image(path: Path, settings: EngineSettings, ocr: OcrEngine | None) -> ExtractedDocument:
    pages: list[PageContent] = []
    warnings: list[str] = []
    for no, (frame, (width, height)) in enumerate(image_frames(path, settings, grey=True), start=1):
        words, rotation, source = [], 0, "none"
        if ocr is not None and settings.ocr_enabled:
            try:
                words, rotation = read_upright(ocr, frame)  # grey: OCR reads no colour
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
    for no, (frame, _) in enumerate(image_frames(path, settings, max_px, grey=grayscale), start=1):
        if no == page_no:
            return frame.convert("L") if grayscale else frame
    raise ExtractionError(path, f"page {page_no} does not exist in this image")


def _draft_target(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """The size `downscale_frame` asks a JPEG decoder for (it decodes at the smallest 1/2-1/8
    scale no smaller than that)."""
    width, height = size
    ratio = min(1.0, max_side / max(width, height, 1))
    return max(1, int(width * ratio)), max(1, int(height * ratio))


def _full_size_mode(mode: str, grey: bool) -> str:
    """The mode `downscale_frame` converts a full-size frame of `mode` to before reducing it."""
    return "L" if grey or mode in ("1", "I", "I;16", "F", "L", "LA") else "RGB"


def _bytes_per_pixel(mode: str) -> int:
    """Pillow keeps "1", "L" and "P" in one byte a pixel, 16-bit grey in two, the rest in four."""
    return 1 if mode in ("1", "L", "P") else 2 if mode.startswith("I;16") else 4


def decoding_bytes(im: Image.Image, max_side: int, grey: bool = False) -> int:
    """Memory `downscale_frame(im, max_side, grey=grey)` takes at full size: the decoded frame
    (a JPEG at the 1/2-1/8 scale its decoder reads it at) plus the conversion it may need before
    reducing (the reduced copies are at most a quarter of that and not counted)."""
    width, height = im.size
    mode = im.mode
    if im.format == "JPEG":
        target_w, target_h = _draft_target(im.size, max_side)  # what downscale_frame asks for
        shrink = min(width // target_w, height // target_h)
        scale = next((k for k in (8, 4, 2) if shrink >= k), 1)  # as JpegImageFile.draft picks it
        width, height = -(-width // scale), -(-height // scale)
        mode = "L" if grey and mode in ("L", "RGB", "YCbCr") else mode
    pixels = width * height
    need = pixels * _bytes_per_pixel(mode)
    if max(width, height) > max_side and mode not in ("L", "RGB"):
        need += pixels * _bytes_per_pixel(_full_size_mode(mode, grey))
    return need


def _check_memory(path: Path, im: Image.Image, settings: EngineSettings, max_side: int,
                  grey: bool = False) -> None:
    need = decoding_bytes(im, max_side, grey)
    if need > settings.max_image_bytes:
        raise ExtractionError(path, f"the image is too large to read safely ({im.width} x {im.height} "
                                    f"pixels: {_megabytes(need)} to decode; the limit is "
                                    f"{_megabytes(settings.max_image_bytes)})")


def _megabytes(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:,.0f} MB"
