"""A phone photo of a sheet is found and flattened; scans, renders and close-ups are left alone."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from engine.config import EngineSettings
from engine.extract.image import extract_image, render_image
from engine.extract.sheet import find_sheet, flatten, rectify
from engine.synth.degrade import degrade

cv2 = pytest.importorskip("cv2")

SHEET = (1100, 780)  # an A-series landscape sheet, ~94 dpi
CORNERS = np.float32([[0.09, 0.12], [0.93, 0.06], [0.95, 0.90], [0.05, 0.94]])  # of a 1400 x 1050 frame


def drawing(size: tuple[int, int] = SHEET) -> Image.Image:
    """A drawing: border, title block, a part's outline with holes and a few lines of text."""
    w, h = size
    im = Image.new("L", size, 255)
    d = ImageDraw.Draw(im)
    d.rectangle((20, 20, w - 21, h - 21), outline=0, width=3)
    d.rectangle((w - 420, h - 160, w - 21, h - 21), outline=0, width=2)
    for y in range(h - 130, h - 21, 30):
        d.line((w - 420, y, w - 21, y), fill=0, width=1)
    d.rectangle((120, 140, 520, 420), outline=0, width=3)
    for x in (180, 320, 460):
        d.ellipse((x - 30, 250, x + 30, 310), outline=0, width=2)
    d.line((120, 470, 520, 470), fill=0, width=1)
    for i in range(8):
        d.text((600, 140 + 30 * i), f"NOTE {i + 1}: BREAK SHARP EDGES 0.{i}", fill=0)
    d.text((w - 400, h - 120), "PART NO. ZM-1258-B2P  S45C", fill=0)
    return im


def photograph(page: Image.Image, corners: np.ndarray = CORNERS, frame: tuple[int, int] = (1400, 1050),
               table: int = 70) -> Image.Image:
    """`page` laid on a table at `corners` (fractions of `frame`), lit from one side."""
    fw, fh = frame
    src = np.float32([[0, 0], [page.width, 0], [page.width, page.height], [0, page.height]])
    m = cv2.getPerspectiveTransform(src, corners * np.float32(frame))
    a = cv2.warpPerspective(np.asarray(page), m, frame, borderValue=table).astype(np.float32)
    xx = np.linspace(0.0, 1.0, fw, dtype=np.float32)[None, :]
    a *= 0.75 + 0.25 * xx  # a lamp on the right
    rng = np.random.default_rng(0)
    a += rng.normal(0, 3, a.shape)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def similarity(a: Image.Image, b: Image.Image) -> float:
    """Correlation of the two pictures' 64 x 48 grey thumbnails (ink darkens both alike)."""
    x, y = (np.asarray(im.convert("L").resize((64, 48), Image.Resampling.BOX), np.float32).ravel()
            for im in (a, b))
    x, y = x - x.mean(), y - y.mean()
    return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y) + 1e-9))


def test_a_photographed_sheet_is_found_at_its_corners_and_made_flat():
    page = drawing()
    photo = photograph(page)
    corners = find_sheet(photo)
    assert corners is not None
    assert np.abs(corners - CORNERS).max() < 0.012  # within ~1 % of the frame
    flat = flatten(photo, corners)
    assert flat.width / flat.height == pytest.approx(page.width / page.height, rel=0.04)
    assert similarity(flat, page) > 0.8 > similarity(photo, page) + 0.2
    # the lamp's falloff is divided out: the paper is as bright on the left as on the right
    paper = np.asarray(flat, np.float32)
    left, right = paper[60:120, 40:100], paper[60:120, -100:-40]
    assert abs(np.median(left) - np.median(right)) < 8


def test_a_colour_photo_keeps_its_colours_and_any_resolution_gives_the_same_corners():
    photo = photograph(drawing()).convert("RGB")
    big = find_sheet(photo)
    small = find_sheet(photo.resize((700, 525), Image.Resampling.LANCZOS))
    assert big is not None and small is not None
    assert np.abs(big - small).max() < 0.01
    assert rectify(photo).mode == "RGB"


@pytest.mark.parametrize("case", ["render", "scan", "fax", "close-up", "blank", "dark", "tiny", "bright table"])
def test_scans_renders_close_ups_and_blank_frames_are_left_as_they_are(case):
    page = drawing()
    image = {
        "render": lambda: page,
        "scan": lambda: degrade(page, rng=1, kind="scan"),
        "fax": lambda: degrade(page, rng=2, kind="fax"),
        "close-up": lambda: photograph(page).crop((400, 350, 1000, 800)),  # no edge of the sheet
        "blank": lambda: Image.new("L", (800, 600), 250),
        "dark": lambda: Image.new("L", (800, 600), 20),
        "tiny": lambda: photograph(page).resize((40, 30)),
        "bright table": lambda: photograph(page, table=245),  # white on white: nothing stands out
    }[case]()
    assert find_sheet(image) is None
    assert rectify(image) is image


def test_an_image_file_of_a_photo_is_read_and_shown_flat_at_every_size(tmp_path):
    """OCR's word boxes are relative to the page it reads; the screen and the image tower render
    the same flattened page, at any size."""
    path = tmp_path / "IMG_0001.png"
    photograph(drawing()).save(path)
    settings = EngineSettings()
    doc = extract_image(path, settings, ocr=None)
    page = doc.pages[0]
    assert page.width / page.height == pytest.approx(SHEET[0] / SHEET[1], rel=0.04)
    full = render_image(path, 1, settings)
    small = render_image(path, 1, settings, grayscale=True, max_px=500)
    for im in (full, small):
        assert im.width / im.height == pytest.approx(page.width / page.height, rel=0.01)
    assert similarity(small, drawing()) > 0.8
