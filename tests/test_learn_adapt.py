"""Site adaptation: pairs.csv parsing, held-out mAP, and a tiny end-to-end run writing a new pack."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from engine.config import DEFAULT_PACK_DIR  # noqa: E402
from engine.errors import EngineError  # noqa: E402
from engine.learn.adapt import AdaptConfig, adapt, map_image_to_text, read_pairs  # noqa: E402


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
    if not (DEFAULT_PACK_DIR / "manifest.json").is_file():
        pytest.skip("default pack not built (zumen pack build-default)")
    pytest.importorskip("engine.synth.drawing")
    from engine.encoders.pack import ModelPack, write_pack
    from engine.learn.export_image import export_image_tower
    from engine.learn.model import ImageTower, TowerConfig
    from engine.synth.drawing import render
    from engine.synth.parts import generate_part, spec_text

    lib = tmp_path / "lib"
    lib.mkdir()
    with open(lib / "pairs.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["query", "relevant"])
        for s in range(8):
            part = generate_part(900 + s)
            render(part, dpi=30).save(lib / f"d{s}.png")
            w.writerow([f"d{s}.png", spec_text(part, "en")])
    base = build_tiny_tower_pack(tmp_path)
    report = adapt(lib, lib / "pairs.csv", base, tmp_path / "packs",
                   config=AdaptConfig(epochs=1, batch=4, val_fraction=0.25))
    assert report["primary"] == "map" and report["parent"] == "default-1.0.0"
    assert 0.0 <= report["after"]["map"] <= 1.0 and isinstance(report["activate"], bool)
    pack = ModelPack.load(tmp_path / "packs" / report["pack_id"])
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
    if not (DEFAULT_PACK_DIR / "manifest.json").is_file():
        pytest.skip("default pack not built (zumen pack build-default)")
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
        assert report["pairs"] and report["parent"] == "default-1.0.0"
        assert (tmp_path / "lib" / "packs" / report["pack_id"] / "manifest.json").is_file()
        assert report["activated"] == report["activate"]
        versions = [p.version for p in engine.packs()]
        assert any("site" in v for v in versions)
