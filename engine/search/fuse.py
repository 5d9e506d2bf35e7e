"""Rank fusion of evidence lists (lexical, semantic, visual) into one ranking.

Reciprocal rank fusion (Cormack et al. 2009) is robust to the very different score scales of
BM25 and cosine similarity; a weight per evidence lets the caller trust one more than another.
"""

from __future__ import annotations

from typing import Hashable, Mapping, Sequence


def normalise_max(scores: Mapping[Hashable, float]) -> dict[Hashable, float]:
    """Divide by the best score so the top item gets 1.0 (for display; ranks stay the same)."""
    if not scores:
        return {}
    top = max(scores.values())
    if top <= 0:
        return {k: 0.0 for k in scores}
    return {k: v / top for k, v in scores.items()}


def ranked(scores: Mapping[Hashable, float]) -> list[Hashable]:
    return sorted(scores, key=lambda k: (-scores[k], str(k)))


def rrf(lists: Mapping[str, Sequence[Hashable]], weights: Mapping[str, float], k: int = 60
        ) -> dict[Hashable, float]:
    """Weighted reciprocal rank fusion: score(d) = sum_e w_e / (k + rank_e(d)), ranks from 1."""
    fused: dict[Hashable, float] = {}
    for name, items in lists.items():
        w = weights.get(name, 1.0)
        if w <= 0:
            continue
        for rank, item in enumerate(items, start=1):
            fused[item] = fused.get(item, 0.0) + w / (k + rank)
    return fused
