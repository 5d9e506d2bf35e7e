"""Large scans and photos (issue #10, defect 11): a 279-MP A1 scan at 600 dpi is accepted, and
images are brought to the OCR size with bounded memory (measured in a fresh process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from engine.config import EngineSettings
from engine.errors import ExtractionError
from engine.extract import extract_document
from engine.extract.image import MAX_OCR_SIDE_PX, decoding_bytes, downscale_frame, image_frames
from tests.fakes import png_header

REPO = Path(__file__).resolve().parent.parent
A1_600DPI = (14043, 19866)  # 279 MP

PEAK = """
import json, resource, sys
from pathlib import Path
from engine.config import EngineSettings
from engine.extract.image import image_frames
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
frames = [(f.size, f.mode, size) for f, size in image_frames(Path(sys.argv[1]), EngineSettings(), grey=True)]
print(json.dumps({"frames": frames, "extra_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024}))
"""


def peak(path: Path) -> dict:
    run = subprocess.run([sys.executable, "-c", PEAK, str(path)], cwd=REPO, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="ru_maxrss")
def test_an_a1_scan_at_600_dpi_is_read_with_bounded_memory(tmp_path):
    scan = Image.new("L", A1_600DPI, 255)
    ImageDraw.Draw(scan).rectangle((200, 200, 13800, 19600), outline=0, width=12)
    scan.save(tmp_path / "a1.png", compress_level=1)
    del scan
    got = peak(tmp_path / "a1.png")
    (small, mode, full), = got["frames"]
    assert tuple(full) == A1_600DPI and max(small) == MAX_OCR_SIDE_PX and mode == "L"
    assert got["extra_mb"] < 279 * 1.5, got  # the grey pixels once, plus the small copy
    doc = extract_document(tmp_path / "a1.png", EngineSettings(), None)
    assert (doc.pages[0].width, doc.pages[0].height) == A1_600DPI


@pytest.mark.skipif(sys.platform == "win32", reason="ru_maxrss")
def test_a_100_mp_photo_is_decoded_at_a_reduced_scale(tmp_path):
    Image.new("RGB", (10000, 10000), "white").save(tmp_path / "photo.jpg", quality=80)
    got = peak(tmp_path / "photo.jpg")
    (small, _, full), = got["frames"]
    assert tuple(full) == (10000, 10000) and max(small) <= MAX_OCR_SIDE_PX
    assert got["extra_mb"] < 300, got  # full RGB alone would be 400 MB (main: 1.7 GB)


def test_downscale_keeps_the_aspect_and_every_mode():
    for mode in ("1", "L", "P", "RGB", "RGBA", "I;16", "CMYK"):
        small = downscale_frame(Image.new(mode, (3000, 1000)), 600)
        assert small.size == (600, 200), mode
    same = Image.new("L", (500, 400))
    assert downscale_frame(same, 600) is same


def test_a_decompression_bomb_is_refused_before_decoding(tmp_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header(60_000, 60_000))  # 3.6 G px of 1-bit: 7.2 GB to decode
    with pytest.raises(ExtractionError, match=r"too large to read safely \(60000 x 60000 pixels: 7.2 GB"):
        extract_document(bomb, EngineSettings(), None)


@pytest.mark.parametrize("mode, size, limit_ok", [
    ("L", (33_770, 24_200), True),     # a 307 x 220 in CAD sheet rendered grey at 110 dpi: 817 MP
    ("RGB", (33_770, 24_200), False),  # the same in colour: 3.3 GB
    ("1", (28_000, 19_800), True),     # an A0 bilevel scan at 600 dpi: 554 MP, 1.1 GB with its grey copy
    ("RGB", (14_043, 19_866), True),   # an A1 colour scan at 600 dpi: 279 MP, 1.1 GB
])
def test_the_limit_is_the_memory_a_frame_takes_decoded_not_its_pixels(tmp_path, mode, size, limit_ok):
    path = tmp_path / "sheet.png"
    path.write_bytes(png_header(*size, mode))
    with Image.open(path) as im:
        need = decoding_bytes(im, MAX_OCR_SIDE_PX, grey=True)
    assert (need <= EngineSettings().max_image_bytes) is limit_ok, need


def test_a_huge_jpeg_counts_at_the_scale_its_decoder_reads_it(tmp_path):
    Image.new("RGB", (8000, 6000), "white").save(tmp_path / "photo.jpg", quality=70)
    with Image.open(tmp_path / "photo.jpg") as im:
        assert decoding_bytes(im, 1000, grey=True) == 1000 * 750  # 1/8 scale, straight to grey
        assert decoding_bytes(im, 6000) == 8000 * 6000 * 4  # no reduction by 2 fits in 6000 px


def test_a_grey_picture_the_limit_lets_through_is_read_downscaled(tmp_path):
    """A render over the old pixel limit's share but under the memory limit is read (here at a
    limit 100x smaller than the shipped one, so the test stays small), a colour one of the same
    size is refused with its size in the reason."""
    settings = EngineSettings(max_image_bytes=13_000_000)  # 12 MP grey fits, 12 MP colour does not
    Image.new("L", (4000, 3000), 255).save(tmp_path / "grey.png")
    Image.new("RGB", (4000, 3000), "white").save(tmp_path / "colour.png")
    frames = list(image_frames(tmp_path / "grey.png", settings, 1000, grey=True))
    assert [(f.size, full) for f, full in frames] == [((1000, 750), (4000, 3000))]
    with pytest.raises(ExtractionError, match=r"\(4000 x 3000 pixels: 48 MB to decode; the limit is 13 MB\)"):
        list(image_frames(tmp_path / "colour.png", settings, 1000, grey=True))
