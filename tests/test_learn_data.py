"""Training data helpers: deterministic degradations, exact uint8 cache of the runtime preprocessing."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from engine.learn.augment import degrade, view
from engine.learn.data import from_uint8, to_uint8


def _drawing() -> Image.Image:
    img = Image.new("L", (300, 200), 255)
    d = ImageDraw.Draw(img)
    d.rectangle((20, 20, 200, 150), outline=0, width=2)
    d.line((0, 180, 300, 180), fill=0)
    return img


@pytest.mark.parametrize("mode", ["clean", "scan", "photo", "random"])
def test_degrade_is_deterministic(mode):
    a, b = degrade(_drawing(), 7, mode), degrade(_drawing(), 7, mode)
    assert a.mode == "L" and np.array_equal(np.asarray(a), np.asarray(b))
    if mode in ("scan", "photo"):
        assert not np.array_equal(np.asarray(degrade(_drawing(), 8, mode)), np.asarray(a))


def test_a_view_is_deterministic_and_keeps_the_training_size():
    """Self-supervised views: the same (pixels, seed) always give the same view, of the same size;
    a crop scales a region back to full size; a turn or mirror moves the pixels only."""
    square = np.asarray(_drawing().resize((64, 64)))  # (64, 64) uint8
    a, b = view(square, 3, crop=1.0), view(square, 3, crop=1.0)
    assert a.shape == square.shape and a.dtype == np.uint8 and np.array_equal(a, b)
    assert not np.array_equal(a, square)  # a region, scaled up
    assert any(not np.array_equal(view(square, s, crop=1.0), a) for s in range(4, 8))
    turned = [view(square, s, crop=0.0, turns=1.0) for s in range(40)]
    moves = [np.rot90(square, k) for k in (1, 2, 3)] + [square[:, ::-1]]
    thick = np.asarray(Image.fromarray(square).filter(ImageFilter.MinFilter(3)))  # line weight
    moves += [np.rot90(thick, k) for k in (1, 2, 3)] + [thick[:, ::-1]]
    assert all(any(np.array_equal(t, m) for m in moves) for t in turned)
    assert np.array_equal(view(square, 5, crop=0.0, turns=0.0), square) or np.array_equal(
        view(square, 5, crop=0.0, turns=0.0), thick)


def test_uint8_cache_is_exact():
    image_mod = pytest.importorskip("engine.encoders.image")
    spec = {"size": [64, 64], "channels": 1, "resize": "letterbox", "pad_value": 1.0,
            "mean": [0.5], "std": [0.5], "interpolation": "bicubic"}
    pixels = image_mod.preprocess_images([_drawing()], spec)  # (1, 1, 64, 64)
    u8 = to_uint8(pixels[0], spec)  # (64, 64)
    back = from_uint8(u8[None], spec)  # (1, 1, 64, 64)
    assert np.abs(back - pixels).max() < 1e-6


def test_pretrain_retrieval_metrics_by_hand():
    from engine.evaluate.embeddings import retrieval_metrics

    q = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], dtype=np.float32)
    d = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]], dtype=np.float32)
    # query 0: own doc first (rank 0); query 1: doc 2 (1.0) > doc 1 (0.8) -> rank 1;
    # query 2: doc 1 (1.0) > doc 2 (0.8) -> rank 1
    m = retrieval_metrics(q, d, ks=(1, 2))
    assert m["recall@1"] == pytest.approx(1 / 3) and m["recall@2"] == pytest.approx(1.0)
    assert m["mrr"] == pytest.approx((1 + 0.5 + 0.5) / 3) and m["chance@1"] == pytest.approx(1 / 3)
