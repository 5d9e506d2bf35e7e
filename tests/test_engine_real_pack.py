"""End to end with the real default pack (text + image towers) on bundled sample drawings."""

from __future__ import annotations

import shutil

import pymupdf
import pytest

from engine.api import Engine
from engine.config import DEFAULT_PACK_DIR, SAMPLE_LIBRARY

pytestmark = pytest.mark.skipif(not (DEFAULT_PACK_DIR / "manifest.json").exists(),
                                reason="default pack not built (zumen pack build-default)")


def test_real_pack_indexes_page_images_and_finds_a_scan_of_a_drawing(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    drawings = sorted((SAMPLE_LIBRARY / "drawings").glob("*.pdf"))[:4]
    for pdf in drawings:
        shutil.copy(pdf, docs / pdf.name)
    shutil.copy(SAMPLE_LIBRARY / "bom.csv", docs / "bom.csv")
    with Engine.open(tmp_path / "lib", ocr=None) as engine:
        report = engine.index([docs])
        assert report.added == 5 and report.failed == 0
        pack = engine.active_pack()
        if not pack.has_image_tower:
            pytest.skip("the default pack has no image tower")
        assert len(engine._lib.image_index) == 4  # one vector per drawing page
        # the same drawing as a picture without text: found by how it looks alone
        scan = tmp_path / "scan.png"
        pymupdf.open(drawings[2])[0].get_pixmap(dpi=150, colorspace=pymupdf.csGRAY).save(scan)
        result = engine.search_file(scan, evidence={"visual"})
        assert result.similar.hits[0].path.endswith(drawings[2].name)
        assert result.similar.hits[0].scores.visual > 0.9
        # which regions made them alike: a map on each page, covering the page (a landscape
        # sheet letterboxed into the tower's square leaves padding rows out), blank paper dark
        query_map, hit_map = engine.visual_heatmaps(scan, result.similar.hits[0])
        for heat in (query_map, hit_map):
            rows, cols = heat.shape
            assert cols > rows and 0.0 <= heat.min() and heat.max() == 1.0
            assert 0.1 < (heat > 0).mean() < 0.7  # the better-matching part lights up, not all
        # seen past: the other three sample drawings (one template), not the hit nor its scan
        hit = result.similar.hits[0]
        vector = engine._lib.image_encoder.encode([_grey_picture(scan)])[0]
        mates = engine._template_mates(vector, engine._lib.catalog.page(hit.doc_id, hit.page)[0])
        assert len(mates) == 3


def _grey_picture(path):
    from PIL import Image

    return Image.open(path).convert("L")
