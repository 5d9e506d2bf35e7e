"""Fusion of evidence lists (lexical, semantic, visual) into one ranking.

Two schemes, chosen by `EngineSettings.fusion`:
- "score": a weighted sum of per-list min-max normalised scores. It keeps the *margin* inside a
  list (a page matching every query term beats one matching half of them by a lot, not by one
  rank), which plain rank fusion throws away.
- "rrf": reciprocal rank fusion (Cormack et al. 2009), robust to score scales, margin-blind.
bench/bench_quality.py reports both on real drawings.
"""

from __future__ import annotations

from typing import Hashable, Mapping, Sequence


def ranked(scores: Mapping[Hashable, float]) -> list[Hashable]:
    """Keys best first; equal scores in the order of their keys' text. Sorted by score alone
    first (a drawing query ranks ~10^4 pages: formatting every key costs more than the sort),
    then each run of equal scores by text."""
    keys = sorted(scores, key=scores.__getitem__, reverse=True)
    start = 0
    for end in range(1, len(keys) + 1):
        if end == len(keys) or scores[keys[end]] != scores[keys[start]]:
            if end - start > 1:
                keys[start:end] = sorted(keys[start:end], key=str)
            start = end
    return keys


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


def minmax(scores: Mapping[Hashable, float], bounds: tuple[float, float] | None = None
           ) -> dict[Hashable, float]:
    """Scale to 0..1. `bounds` = (lo, hi) of the whole candidate list the scores came from, so
    filtering the list afterwards (by kind, by a floor) does not stretch what is left."""
    if not scores:
        return {}
    lo, hi = bounds if bounds else (min(scores.values()), max(scores.values()))
    if hi - lo < 1e-9:
        return {k: 1.0 for k in scores}
    return {k: min(1.0, max(0.0, (v - lo) / (hi - lo))) for k, v in scores.items()}


def score_fusion(lists: Mapping[str, Mapping[Hashable, float]], weights: Mapping[str, float],
                 bounds: Mapping[str, tuple[float, float]] | None = None) -> dict[Hashable, float]:
    """score(d) = sum_e w_e * minmax_e(d); an item missing from a list gets 0 from it."""
    fused: dict[Hashable, float] = {}
    for name, scores in lists.items():
        w = weights.get(name, 1.0)
        if w <= 0:
            continue
        for item, s in minmax(scores, (bounds or {}).get(name)).items():
            fused[item] = fused.get(item, 0.0) + w * s
    return fused
