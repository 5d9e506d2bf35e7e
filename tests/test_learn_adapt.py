"""Site adaptation: pairs.csv parsing, held-out mAP, and a tiny end-to-end run writing a new pack."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from engine.config import DEFAULT_PACK_DIR  # noqa: E402
from engine.errors import EngineError  # noqa: E402
from engine.evaluate.embeddings import map_image_to_text  # noqa: E402
from engine.learn.adapt import AdaptConfig, adapt, read_pairs  # noqa: E402


def need_default_pack() -> None:
    if not (DEFAULT_PACK_DIR / "manifest.json").is_file():
        pytest.skip("default pack not built (zumen pack build-default)")


def write_pairs(folder, rows) -> None:
    """folder/pairs.csv with the header and the (query, relevant) rows."""
    folder.mkdir(exist_ok=True)
    with open(folder / "pairs.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["query", "relevant"])
        w.writerows(rows)


def drawings_with_specs(lib, seeds, suffix: str) -> list[list[str]]:
    """Synthetic drawings in `lib` (a 30-dpi PNG, or a PDF with a text layer) and (drawing, its
    English spec text) rows for pairs.csv."""
    from engine.synth.drawing import draw_pdf, render
    from engine.synth.parts import generate_part, spec_text

    lib.mkdir(exist_ok=True)
    rows = []
    for i, seed in enumerate(seeds):
        part = generate_part(seed)
        if suffix == ".pdf":
            (lib / f"d{i}.pdf").write_bytes(draw_pdf(part))
        else:
            render(part, dpi=30).save(lib / f"d{i}{suffix}")
        rows.append([f"d{i}{suffix}", spec_text(part, "en")])
    return rows


def test_read_pairs(tmp_path):
    p = tmp_path / "pairs.csv"
    p.write_text("query,relevant,grade\na.png,spec.pdf#page=2,2\nb.png,some text,\n", encoding="utf-8")
    pairs = read_pairs(p)
    assert [(x.query, x.relevant, x.grade) for x in pairs] == [
        ("a.png", "spec.pdf#page=2", 2.0), ("b.png", "some text", 1.0)]
    bad = tmp_path / "bad.csv"
    bad.write_text("q,r\nx,y\n", encoding="utf-8")
    with pytest.raises(EngineError):
        read_pairs(bad)


def test_map_image_to_text_by_hand():
    img = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    txt = np.array([[0.9, 0.1], [0.1, 0.9], [0.8, 0.0]], dtype=np.float32)
    # query 0: ranking t0, t2, t1 ; relevant {t2} -> AP 1/2.  query 1: ranking t1, ... relevant {t1} -> AP 1
    m = map_image_to_text(img, txt, [0, 1], {0: {2: 1.0}, 1: {1: 1.0}})
    assert m["map"] == pytest.approx(0.75)
    assert m["recall@1"] == pytest.approx(0.5)


def test_adapt_end_to_end_tiny(tmp_path):
    need_default_pack()
    pytest.importorskip("engine.synth.drawing")
    from engine.encoders.pack import ModelPack

    lib = tmp_path / "lib"
    write_pairs(lib, drawings_with_specs(lib, range(900, 908), ".png"))
    base = build_tiny_tower_pack(tmp_path)
    report = adapt(lib, lib / "pairs.csv", base, tmp_path / "packs",
                   config=AdaptConfig(epochs=1, batch=4, val_fraction=0.25))
    assert report.primary == "map" and report.parent == "default-1.0.0"
    assert 0.0 <= report.after["map"] <= 1.0 and isinstance(report.passed_gate, bool)
    pack = ModelPack.load(tmp_path / "packs" / report.pack_id)
    assert pack.manifest["parent"] == "default-1.0.0"
    assert pack.manifest["metrics"]["primary"] == "map"
    assert pack.image_encoder(threads=1).encode([]).shape == (0, 384)


def build_tiny_tower_pack(tmp_path):
    """The default pack's text tower with a tiny, randomly initialised image tower (+ tower.pt)."""
    from engine.encoders.pack import write_pack
    from engine.learn.export_image import export_image_tower
    from engine.learn.model import ImageTower, TowerConfig

    tiny = TowerConfig(head_hidden=32, feature_channels=32,
                       blocks=((1, 8, 2, True), (2, 16, 2, False), (2, 16, 2, True), (2, 24, 2, True)))
    torch.manual_seed(0)
    tower = ImageTower(tiny).eval()
    spec = {"size": [64, 64], "channels": 1, "resize": "letterbox", "pad_value": 1.0,
            "mean": [0.5], "std": [0.5], "interpolation": "bicubic"}
    work = tmp_path / "work"
    section = export_image_tower(tower, work, spec=spec, measure=False)
    torch.save({"tower": tower.state_dict(), "tower_config": tiny.to_dict(), "meta": {"image_spec": spec}},
               work / "tower.pt")
    manifest = json.loads((DEFAULT_PACK_DIR / "manifest.json").read_text(encoding="utf-8"))
    manifest["image"] = section
    base = write_pack(tmp_path / "base", manifest, {
        "text.onnx": DEFAULT_PACK_DIR / "text.onnx", "tokenizer.json": DEFAULT_PACK_DIR / "tokenizer.json",
        "image.onnx": work / "image.onnx", "tower.pt": work / "tower.pt"})
    return base


def test_engine_adapt_from_feedback_and_library_pages(tmp_path):
    """The facade: thumbs-up votes and mined (page picture, own text) pairs -> a new pack version,
    activated only when its held-out mAP improved."""
    need_default_pack()
    from engine.api import Engine
    from engine.synth.drawing import draw_pdf
    from engine.synth.parts import generate_part

    docs = tmp_path / "docs"
    docs.mkdir()
    for s in range(8):
        (docs / f"d{s}.pdf").write_bytes(draw_pdf(generate_part(700 + s)))
    base = build_tiny_tower_pack(tmp_path)
    with Engine.open(tmp_path / "lib", pack=base, ocr=None) as engine:
        engine.index([docs])
        res = engine.search_file(docs / "d0.pdf")
        engine.record_feedback("d0", res.similar.hits[0], +1, query_path=str(docs / "d0.pdf"))
        assert len(engine._mined_pairs()) == 8
        report = engine.adapt(use_feedback=True, mine_library=True)
        # 1 thumbs-up + 8 mined pages, each its own query (the vote names the file, a mined pair its page)
        assert report.pairs["total"] == 9 and report.parent == "default-1.0.0"
        assert report.pairs["train_queries"] + report.pairs["val_queries"] == 9
        assert (tmp_path / "lib" / "packs" / report.pack_id / "manifest.json").is_file()
        assert report.activated == report.passed_gate
        assert report.ranking is None  # no pairs file: nothing to fit the ranking to
        versions = [p.version for p in engine.packs()]
        assert any("site" in v for v in versions)


def test_text_pairs_leave_a_page_with_its_own_words_out():
    from engine.learn.adapt_data import text_pairs

    queries = ["Shaft S45C drawing 1001 hardened", "bracket A5052 drawing 1002 anodised", "x"]
    texts = ["spec: shaft S45C induction hardened", "  BRACKET a5052 drawing 1002\nanodised ", "spec x"]
    qrels = {0: {0: 1.0}, 1: {1: 1.0}, 2: {2: 1.0}}
    # query 1 is paired with its own words (mined pair); query 2 has too few characters
    assert text_pairs(queries, texts, qrels, [0, 1, 2], AdaptConfig()) == [(0, 0)]


def test_refusal_needs_a_gain_and_no_keyword_loss():
    from engine.learn.gate import refusal

    cfg = AdaptConfig(guard_tolerance=0.01)
    assert refusal({"map": 0.5}, {"map": 0.6}, None, cfg) == ""
    assert "did not improve" in refusal({"map": 0.5}, {"map": 0.5}, None, cfg)
    kept = {"before": {"map": 0.80}, "after": {"map": 0.795}}  # within the tolerance
    assert refusal({"map": 0.5}, {"map": 0.6}, kept, cfg) == ""
    lost = {"before": {"map": 0.80}, "after": {"map": 0.70}}
    assert "keyword queries got worse" in refusal({"map": 0.5}, {"map": 0.6}, lost, cfg)


def test_keyword_rows_are_told_from_missing_files(tmp_path):
    from engine.learn.adapt_data import is_keyword

    (tmp_path / "d.pdf").write_bytes(b"%PDF-1.4")
    assert not is_keyword("d.pdf", [tmp_path]) and not is_keyword("d.pdf#page=2", [tmp_path])
    assert is_keyword("S45C 焼入れ", [tmp_path]) and is_keyword("M3x0.5", [tmp_path])
    assert not is_keyword("missing.pdf", [tmp_path])  # a typo in a file name stays an error


def test_text_view_keeps_words_and_varies_order():
    import random

    from engine.learn.text_tower import text_view

    text = "\n".join(f"line {i}" for i in range(12))
    views = {text_view(text, random.Random(s)) for s in range(5)}
    assert len(views) > 1
    for v in views:
        assert v and set(v.split("\n")) <= set(text.split("\n"))
    assert text_view("only line", random.Random(0), drop=1.0) == "only line"  # never empty


def test_adapt_text_tower_writes_a_tuned_pack_that_adapts_again(tmp_path):
    """Drawing PDFs (words from their text layer) -> spec texts: the text tower is fine-tuned, exported
    with parity, and the new pack carries its weights so that it can be adapted again."""
    need_default_pack()
    pytest.importorskip("transformers")
    from engine.encoders.pack import ModelPack
    from engine.learn.text_tower import TUNED_FILE, TextTower

    lib = tmp_path / "lib"
    rows = drawings_with_specs(lib, range(500, 510), ".pdf")
    # keyword rows are not trained on: they guard keyword search
    rows.append(["shaft spec S45C", rows[0][1]])
    rows.append(["drawing number", rows[1][1]])
    write_pairs(lib, rows)
    cfg = AdaptConfig(image=False, text_epochs=2, text_batch=4, val_fraction=0.3)
    report = adapt(lib, lib / "pairs.csv", DEFAULT_PACK_DIR, tmp_path / "packs", config=cfg)
    assert report.trained == ("text",) and report.path == "text"
    guard = report.paths["text"]["keywords"]
    assert guard["before"]["queries"] == guard["after"]["queries"] == 2
    assert report.passed_gate == (report.refused_because == "")
    assert report.pairs["text_train_pairs"] == 10 and len(report.history["text"]) == 2
    assert set(report.paths["text"]) == {"before", "after", "drift", "protocol", "pairs", "keywords"}
    # a small set is cross-validated: every query with words is measured once, before and after
    assert report.paths["text"]["protocol"].startswith("3-fold")
    assert report.before["queries"] == report.after["queries"] == 10
    assert 0.0 <= report.after["map"] <= 1.0
    new = ModelPack.load(tmp_path / "packs" / report.pack_id)
    base = ModelPack.load(DEFAULT_PACK_DIR)
    text = new.manifest["text"]
    assert text["weights"] == TUNED_FILE and text["checks"]["parity_vs_torch"]["cosine_min"] >= 0.999
    assert text["sha256"] != base.manifest["text"]["sha256"]
    assert new.manifest["image"]["sha256"] == base.manifest["image"]["sha256"]  # image tower untouched
    # the tuned weights travel with the pack: torch reloads exactly what the ONNX graph computes
    sentences = ["Shaft S45C, induction hardened", "ブラケット 図番 1002-A2"]
    reloaded = TextTower.from_pack(new.path, new.manifest).encode(sentences)
    runtime = new.text_encoder(threads=1).encode(sentences)
    assert (reloaded * runtime).sum(1).min() > 0.999
    original = base.text_encoder(threads=1).encode(sentences)
    assert (original * runtime).sum(1).min() < 0.99999  # and it did change
    # activating it re-embeds the library's text with the tuned tower; search keeps working
    from engine.api import Engine

    with Engine.open(tmp_path / "library", pack=DEFAULT_PACK_DIR, ocr=None) as engine:
        engine.index([lib])
        hits_before = engine.search("shaft drawing", limit=5).hits
        engine.activate_pack(new.path)
        assert engine.active_pack().version == new.version
        folders = sorted(p.name for p in (tmp_path / "library" / "vectors").iterdir() if p.name.startswith("text-"))
        assert folders == sorted([f"text-{base.manifest['text']['sha256'][:16]}",
                                  f"text-{text['sha256'][:16]}"])
        assert len(engine.search("shaft drawing", limit=5).hits) == len(hits_before) > 0


def test_adapt_image_to_image_pairs(tmp_path):
    """A relevant drawing is also a picture: the image tower trains query -> that picture too, and the
    report measures image -> image before and after."""
    need_default_pack()
    from engine.learn.augment import degrade
    from engine.synth.drawing import render
    from engine.synth.parts import generate_part

    lib = tmp_path / "lib"
    lib.mkdir()
    for s in range(8):
        page = render(generate_part(800 + s), dpi=30)
        page.save(lib / f"d{s}.png")
        degrade(page, s, "photo").save(lib / f"photo{s}.png")
    write_pairs(lib, [[f"photo{s}.png", f"d{s}.png"] for s in range(8)])
    base = build_tiny_tower_pack(tmp_path)
    report = adapt(lib, lib / "pairs.csv", base, tmp_path / "packs",
                   config=AdaptConfig(epochs=2, batch=4, val_fraction=0.25, text=False))
    assert report.trained == ("image",) and report.path == "image"
    i2i = report.paths["image->image"]
    assert i2i["before"]["queries"] == i2i["after"]["queries"] >= 1
    assert any("image->image" in h for h in report.history["image"])
