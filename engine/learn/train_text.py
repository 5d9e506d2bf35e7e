"""Site adaptation of the text tower (MiniLM): cross-validated measurement and fine-tuning (torch).

The tower is fine-tuned on (a query page's words, its relevant text) with symmetric InfoNCE, a
cross-batch queue of recent text embeddings as extra negatives, hard-negative weighting, label
smoothing and L2-SP toward the starting weights; token embeddings stay frozen (text_tower.py).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Sequence

import numpy as np

from engine.evaluate.embeddings import evaluate_ranked, rank_by_embedding
from engine.learn.adapt_data import AdaptData, text_folds, text_pairs
from engine.learn.loop import Step, TrainLoop
from engine.progress import CancelToken, ProgressCallback

if TYPE_CHECKING:
    from engine.learn.adapt import AdaptConfig


@dataclass
class TextAdaptation:
    tower: Any  # engine.learn.text_tower.TextTower, trained on every pair
    texts: np.ndarray  # (T, dim) the relevant texts by the tuned tower
    measured: dict  # {"before", "after", "protocol", "pairs", "drift"[, "keywords"]}
    history: list[dict]
    seen: int  # pairs seen in training, every fold together


def adapt_text(data: AdaptData, base, base_t: np.ndarray, cfg: "AdaptConfig",
               progress: Optional[ProgressCallback], token: CancelToken) -> TextAdaptation:
    """Measure and train the text path. `base_t`: the relevant texts by the base tower.

    Cross-validated (small sets): each fold's model ranks its held-out queries, the runs are pooled
    and compared with the base tower on the same queries; the shipped tower is then trained on every
    pair. Single split (large sets): the shipped tower is the one trained without the held-out part."""
    import torch

    torch.set_num_threads(cfg.text_threads or os.cpu_count() or 1)
    try:
        return _adapt_text_folds(data, base, base_t, cfg, progress, token)
    finally:
        torch.set_num_threads(cfg.threads)


def _adapt_text_folds(data: AdaptData, base, base_t: np.ndarray, cfg: "AdaptConfig",
                      progress: Optional[ProgressCallback], token: CancelToken) -> TextAdaptation:
    folds = text_folds(data, cfg)
    words = [t or "" for t in data.query_texts]
    base_q = data.text_encoder.encode(words).astype(np.float32)
    held_all = [q for _, held in folds for q in held]
    before = evaluate_ranked(rank_by_embedding(base_q, base_t, held_all), data.qrels)
    run: dict[str, list[str]] = {}
    seen_total = 0
    tower = loop = None
    for k, (train, held) in enumerate(folds):
        label = f"fold {k + 1}/{len(folds)}" if len(folds) > 1 else ""
        tower, loop = train_text(data, base, cfg, train, label, progress, token)
        seen_total += loop.seen
        run.update(rank_by_embedding(tower.encode(words), tower.encode(data.texts), held))
    shipped = folds[0][0]
    if len(folds) > 1:  # the shipped tower learns from every pair
        shipped = list(range(len(data.queries)))
        tower, loop = train_text(data, base, cfg, shipped, "all pairs", progress, token)
        seen_total += loop.seen
    protocol = (f"{len(folds)}-fold cross-validation over {len(held_all)} queries, then trained on all pairs"
                if len(folds) > 1 else f"single split: {len(held_all)} held-out queries")
    tuned_t = tower.encode(data.texts)  # (T, dim)
    measured = {"before": before, "after": evaluate_ranked(run, data.qrels), "protocol": protocol,
                "pairs": len(text_pairs(data.query_texts, data.texts, data.qrels, shipped, cfg)),
                "drift": drift(data.text_encoder, tower)}
    if data.keywords:  # the site's keyword queries: the shipped tower must not rank them worse
        kq = list(range(len(data.keywords)))
        measured["keywords"] = {
            "before": evaluate_ranked(rank_by_embedding(data.text_encoder.encode(data.keywords), base_t, kq),
                                      data.keyword_qrels),
            "after": evaluate_ranked(rank_by_embedding(tower.encode(data.keywords), tuned_t, kq),
                                     data.keyword_qrels)}
    return TextAdaptation(tower, tuned_t, measured, loop.history, seen_total)


def train_text(data: AdaptData, base, cfg: "AdaptConfig", train: Sequence[int], label: str,
               progress: Optional[ProgressCallback], token: CancelToken):
    """Fine-tune the base text tower on (query words, relevant text) pairs of the `train` queries.
    Returns (tower, the finished TrainLoop)."""
    import math

    import torch

    from engine.learn.losses import ContrastiveLoss, trainable_named_params
    from engine.learn.queue import NegativeQueue
    from engine.learn.text_tower import TextTower, text_view

    tower = TextTower.from_pack(base.path, base.manifest)
    params = tower.trainable()
    criterion = ContrastiveLoss(cfg.text_loss)
    reference = {k: v.detach().clone() for k, v in trainable_named_params([tower.bert]).items()}
    queue = NegativeQueue(cfg.text_loss.queue_size, tower.bert.config.hidden_size)
    opt = torch.optim.AdamW(params, lr=cfg.text_lr, weight_decay=0.0)
    rng = random.Random(cfg.seed)
    pairs = text_pairs(data.query_texts, data.texts, data.qrels, train, cfg)
    epochs = max(1, min(cfg.text_epochs, cfg.text_max_pairs // max(1, len(pairs))))

    def batches(epoch: int):
        tower.bert.train()
        rng.shuffle(pairs)
        return [pairs[s:s + cfg.text_batch] for s in range(0, len(pairs), cfg.text_batch)]

    def step(epoch: int, chunk) -> Step:
        anchors = tower.embed([text_view(data.query_texts[q], rng) for q, _ in chunk])  # (B, d)
        keys = tower.embed([data.texts[t] for _, t in chunk])  # (B, d)
        ids = torch.tensor([t for _, t in chunk], dtype=torch.long)  # group = relevant text
        out = criterion(anchors, keys, ids, txt_queue=queue.contents() if len(queue) else None,
                        params=trainable_named_params([tower.bert]), reference=reference)
        # cross-batch memory: recent texts as extra negatives
        return Step(out["loss"], {k: v.detach() for k, v in out.items()},
                    after=lambda: queue.enqueue(keys.detach(), ids))

    loop = TrainLoop(opt, lr=cfg.text_lr, total_steps=epochs * math.ceil(len(pairs) / cfg.text_batch),
                     max_minutes=cfg.max_minutes, stage="train-text", label=label, progress=progress,
                     cancel=token)
    return tower, loop.run(epochs, batches, step)


def drift(base_encoder, tower) -> dict:
    """How much the tuned tower reorders a general technical corpus (engine.learn.export_text's
    built-in one): top-10 overlap and top-1 agreement of query -> document rankings with the base."""
    from engine.learn.export_text import retrieval_corpus

    docs, queries = retrieval_corpus()
    ref = np.argsort(-(base_encoder.encode(queries) @ base_encoder.encode(docs).T), axis=1)[:, :10]
    new = np.argsort(-(tower.encode(queries) @ tower.encode(docs).T), axis=1)[:, :10]
    return {"overlap_at_10": round(float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ref, new)])), 4),
            "top1_agreement": round(float(np.mean(ref[:, 0] == new[:, 0])), 4)}
