"""bench_speed scaffolding: arguments, filler chunks through the store layer, ANN vs exact."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import bench_speed  # noqa: E402


class FakeEncoder:
    """Deterministic 16-d unit vectors from a hash of the text."""

    dim = 16
    pack_id = "fake-1"

    def encode(self, texts, batch_size: int = 32):
        out = np.stack([np.random.default_rng(abs(hash(t)) % 2**32).standard_normal(self.dim)
                        for t in texts]).astype(np.float32)  # (n, 16)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_args() -> None:
    args = bench_speed.parse_args(["--scale", "100k,10k", "--ocr-pages", "0"])
    assert args.scale == [10_000, 100_000] and args.ocr_pages == 0
    assert bench_speed.parse_args([]).scale == [10_000, 100_000]
    assert bench_speed.parse_args(["--scale", ""]).scale == []  # indexing phases only


def test_filler_vectors_are_unit_and_reproducible() -> None:
    a = bench_speed.FillerVectors(FakeEncoder(), seed=1, base=8).sample(5)
    b = bench_speed.FillerVectors(FakeEncoder(), seed=1, base=8).sample(5)
    assert a.shape == (5, 16) and np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(a, b)
    assert bench_speed.filler_text(3) == bench_speed.filler_text(3) and len(bench_speed.filler_text(3)) > 100


def test_filler_then_ann_matches_exact(tmp_path) -> None:
    pytest.importorskip("engine.library")
    enc = FakeEncoder()
    stats, vectors = bench_speed.add_filler(tmp_path / "lib", 250, 0, 20, None, 3, encoder=enc)
    assert stats["chunks"] == 250 and stats["documents"] == 13  # 12 x 20 + 1 x 10
    from engine.library import Library

    lib = Library(tmp_path / "lib", text_encoder=enc)
    try:
        assert lib.catalog.counts()["chunks"] == 250
        assert len(lib.text_index) == 250
        assert all(p.startswith(bench_speed.FILLER_ROOT) for p in lib.catalog.document_stamps())
    finally:
        lib.close()
    # a second batch continues the numbering
    stats2, _ = bench_speed.add_filler(tmp_path / "lib", 40, 13, 20, vectors, 3, encoder=enc)
    ann = bench_speed.phase_ann(tmp_path / "lib", vectors.sample(20), encoder=enc)
    assert ann["vectors"] == 290 and ann["queries"] == 20
    assert ann["recall_at_k"] >= 0.95  # 290 vectors: HNSW is (nearly) exact
    assert ann["exact_vs_numpy_agreement"] == pytest.approx(1.0)
    assert {s["expansion_search"] for s in ann["sweep"]} >= {64, 192}
