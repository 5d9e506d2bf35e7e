"""A smaller text tower taught by the shipped one (engine/learn/distill_text.py): the student keeps
the layers asked for, starts from the teacher's weights, and a few steps bring its vectors closer
to the teacher's on held-out synthetic chunks."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from engine.config import DEFAULT_PACK_DIR  # noqa: E402
from engine.encoders.pack import ModelPack  # noqa: E402
from engine.learn.distill_text import (agreement, distill, student_of, synthetic_chunks,  # noqa: E402
                                       vocabulary_text)
from engine.learn.text_tower import TextTower, untrainable_reason  # noqa: E402


@pytest.fixture(scope="module")
def teacher() -> tuple[ModelPack, TextTower]:
    if not (DEFAULT_PACK_DIR / "manifest.json").is_file():
        pytest.skip("default pack not built (zumen pack build-default)")
    pack = ModelPack.load(DEFAULT_PACK_DIR)
    reason = untrainable_reason(pack.manifest)
    if reason:
        pytest.skip(reason)
    return pack, TextTower.from_pack(DEFAULT_PACK_DIR, pack.manifest)


def test_synthetic_chunks_are_index_like_and_bilingual():
    chunks = synthetic_chunks(3, seed=1)
    assert len(chunks) > 10 and all(0 < len(c.split()) <= 80 for c in chunks)
    assert any(not c.isascii() for c in chunks) and any(c.isascii() for c in chunks)  # Japanese and English
    assert synthetic_chunks(3, seed=1) == chunks and synthetic_chunks(3, seed=2) != chunks


def test_a_few_steps_bring_the_student_closer_to_the_teacher(teacher):
    pack, tower = teacher
    student = TextTower(student_of(tower.bert, [0, 2, 4]), tower.tokenizer, tower.max_length)
    assert len(student.bert.encoder.layer) == 3 and len(tower.bert.encoder.layer) == 6  # the teacher is kept
    assert torch.equal(student.bert.encoder.layer[1].output.dense.weight, tower.bert.encoder.layer[2].output.dense.weight)
    onnx = pack.text_encoder(threads=1)
    train, held = synthetic_chunks(2, seed=1)[:24], synthetic_chunks(1, seed=2)[:12]
    targets, held_targets = onnx.encode(train), onnx.encode(held)
    # the teacher agrees with itself: its torch and ONNX vectors are the same
    assert agreement(tower, held_targets, held)["cosine_mean"] > 0.999
    before = agreement(student, held_targets, held)
    run = distill(student, train, targets, steps=12, batch=8, lr=3e-4, log=lambda s: None)
    after = agreement(student, held_targets, held)
    assert run["steps"] == 12 and run["loss_last"] < run["loss_first"]
    assert after["cosine_mean"] > before["cosine_mean"] + 0.1
    assert 0.0 <= after["top_k_overlap"] <= 1.0 and after["k"] == 10
    assert np.isfinite(after["cosine_p5"])


def test_vocabulary_text_draws_words_from_the_whole_vocabulary_without_special_tokens(teacher):
    _, tower = teacher
    texts = vocabulary_text(tower.tokenizer, 20, seed=3, lengths=(5, 12))
    assert len(texts) == 20 and texts == vocabulary_text(tower.tokenizer, 20, seed=3, lengths=(5, 12))
    assert not any("[CLS]" in t or "[SEP]" in t or "[PAD]" in t or "[unused" in t for t in texts)
    assert all(len(tower.tokenizer(t, add_special_tokens=False)["input_ids"]) >= 2 for t in texts)
