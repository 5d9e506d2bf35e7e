"""Ranking by embeddings, scored with engine.evaluate.metrics: how the learning code measures a tower.

numpy only (no torch): site adaptation's held-out checks (engine.learn.adapt) and pretraining's
held-out retrieval (engine.learn.pretrain) both use these.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from engine.evaluate.metrics import evaluate_run


def rank_by_embedding(queries: np.ndarray, items: np.ndarray, which: Sequence[int]) -> dict[str, list[str]]:
    """Query id (a row of `queries`, listed in `which`) -> every item id, most similar first: a run
    for engine.evaluate.metrics. queries (Q, d), items (T, d), both L2-normalised."""
    sims = queries[np.asarray(which)] @ items.T  # (q, T)
    return {str(q): [str(int(j)) for j in np.argsort(-sims[i], kind="stable")] for i, q in enumerate(which)}


def evaluate_ranked(run: dict[str, list[str]], qrels: Mapping[int, Mapping[int, float]]) -> dict:
    """engine.evaluate.metrics of a run over integer ids (primary: mAP)."""
    return evaluate_run(run, {q: {str(j): g for j, g in qrels[int(q)].items()} for q in run})


def map_image_to_text(img: np.ndarray, txt: np.ndarray, queries: Sequence[int],
                      qrels: Mapping[int, Mapping[int, float]]) -> dict:
    """Rank every text for every query image; engine.evaluate metrics (primary: mAP)."""
    return evaluate_ranked(rank_by_embedding(img, txt, queries), qrels)


def retrieval_metrics(query: np.ndarray, docs: np.ndarray, ks: Sequence[int] = (1, 5, 10)) -> dict:
    """Query i's only relevant doc is doc i. query (n, d), docs (n, d) normalised -> R@k, MRR."""
    sims = query @ docs.T  # (n, n)
    ranks = (sims > np.diag(sims)[:, None]).sum(axis=1)  # (n,) 0 = first
    out = {f"recall@{k}": float((ranks < k).mean()) for k in ks}
    out["mrr"] = float((1.0 / (ranks + 1)).mean())
    out["n"] = int(len(query))
    out.update({f"chance@{k}": k / len(query) for k in ks})
    return out
