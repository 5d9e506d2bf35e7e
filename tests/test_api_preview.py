"""The facade's calls for the desktop preview: bounded page pictures, models loaded ahead."""

from __future__ import annotations

import pytest
from PIL import Image

from engine.api import Engine
from engine.config import DEFAULT_PACK_DIR, SAMPLE_LIBRARY


def test_render_page_keeps_a_huge_photo_within_max_px(tmp_path):
    photo = tmp_path / "wall.png"
    Image.new("RGB", (6000, 4000), "white").save(photo)
    with Engine.open(tmp_path / "lib") as engine:
        assert engine.render_page(photo, 1, 110).size == (6000, 4000)
        small = engine.render_page(photo, 1, 110, max_px=1500)
    assert small.size == (1500, 1000)


def test_render_page_of_a_pdf_respects_max_px(tmp_path):
    drawing = next((SAMPLE_LIBRARY / "drawings").glob("*.pdf"))
    with Engine.open(tmp_path / "lib") as engine:
        assert max(engine.render_page(drawing, 1, 300, max_px=800).size) <= 800


def test_warm_up_loads_the_query_models(tmp_path):
    if not (DEFAULT_PACK_DIR / "manifest.json").exists():
        pytest.skip("needs the default model pack")
    with Engine.open(tmp_path / "lib") as engine:
        lib = engine._lib
        assert lib._text_encoder is None
        engine.warm_up()
        assert lib._text_encoder is not None and lib._ocr is not None
