"""bench_similar's judging of image towers alone: queries are turned back upright exactly."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import bench_similar  # noqa: E402


def _sheet() -> Image.Image:
    img = Image.new("L", (120, 80), 255)
    d = ImageDraw.Draw(img)
    d.rectangle((5, 5, 60, 40), outline=0, width=2)
    d.text((70, 50), "A-1", fill=0)
    return img


@pytest.mark.parametrize("condition", ["scan turned 90", "scan turned 180", "scan turned 270", "scan mirrored"])
def test_a_turned_or_mirrored_query_is_turned_back_to_the_upright_scan(condition):
    """The towers part judges the tower, not the orientation check: a query turned or mirrored by
    its condition is exactly the upright scan (same seed) once turned back."""
    clean = _sheet()
    upright = bench_similar.upright(bench_similar.make_query(clean, condition, 5), condition)
    scan = bench_similar.make_query(clean, "scan", 5)
    assert upright.size == clean.size and np.array_equal(np.asarray(upright), np.asarray(scan))
    assert not np.array_equal(np.asarray(bench_similar.make_query(clean, condition, 5)), np.asarray(scan))
