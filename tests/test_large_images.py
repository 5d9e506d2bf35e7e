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
from engine.extract.image import MAX_OCR_SIDE_PX, downscale_frame

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
    Image.new("1", (20000, 20000)).save(bomb)  # 50 kB on disk, 400 MP decoded
    assert bomb.stat().st_size < 200_000
    with pytest.raises(ExtractionError, match="too large to read safely"):
        extract_document(bomb, EngineSettings(), None)
