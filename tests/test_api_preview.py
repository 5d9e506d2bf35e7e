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
        built = lib.catalog._pages[1], lib.catalog._vocab[1]  # the tables a drawing query reads
        assert built[0] is lib.catalog.page_table() and built[1] is lib.catalog.vocab_table()


def test_edit_query_text_drops_whole_terms_and_adds_words():
    from engine.search.query import edit_query_text

    text = "ULTIMAKER uitimaker bracket S45C S45C-H ＳＣＭ435 焼入れ後研削"
    out = edit_query_text(text, drop=["uitimaker", "s45c", "scm435", "焼入れ"], add=["焼戻し", " "])
    assert "uitimaker" not in out.lower() and "ULTIMAKER" in out
    assert "S45C" not in out and "-H" in out  # "-" ends a token, as in the analyzer
    assert "SCM435" not in out and "後研削" in out and "焼入れ" not in out
    assert out.rstrip().endswith("焼戻し")
    assert edit_query_text("A12B 12", drop=["12"]) == "A12B  "  # not from inside "A12B"


def test_search_file_with_corrections_reads_the_drawing_once(tmp_path, monkeypatch):
    if not (DEFAULT_PACK_DIR / "manifest.json").exists():
        pytest.skip("needs the default model pack")
    import shutil

    import engine.extract as extract

    folder = tmp_path / "docs"
    folder.mkdir()
    drawing = sorted((SAMPLE_LIBRARY / "drawings").glob("*.pdf"))[0]
    for path in (SAMPLE_LIBRARY / "documents").glob(f"*{drawing.stem}*.pdf"):  # not the drawing:
        shutil.copy(path, folder / path.name)  # one the library holds is never read (test_engine)
    reads = []
    real = extract.extract_document
    monkeypatch.setattr(extract, "extract_document", lambda *a, **k: reads.append(a[0]) or real(*a, **k))
    with Engine.open(tmp_path / "lib") as engine:
        engine.add_folder(folder)
        engine.index()
        reads.clear()
        first = engine.search_file(drawing)
        assert drawing.stem in first.read_terms and first.read_terms[0] == drawing.stem
        fixed = engine.search_file(drawing, drop_terms=[drawing.stem], add_terms=["zzqx"])
        assert drawing.stem not in fixed.read_terms and "zzqx" in fixed.query_text
        assert drawing.stem.lower() not in fixed.query_text.lower()
        assert len(reads) == 1, "a correction must not read the drawing again"


def test_page_text_is_the_indexed_row_of_a_spreadsheet(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "bom.csv").write_text("part,material\nA-100,S45C\nB-200,SUS304\n", encoding="utf-8")
    with Engine.open(tmp_path / "lib") as engine:
        engine.add_folder(folder)
        engine.index()
        doc = folder / "bom.csv"
        assert engine.page_text(doc, 2) == "part: B-200 | material: SUS304"
        assert engine.page_text(doc, 9) == ""
