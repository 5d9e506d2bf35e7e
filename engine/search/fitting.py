"""Fitting the drawing-query ranking to judged queries: feature weights, confidence, "no match".

Pure numpy over the evidence features every hit already carries (ScoreBreakdown), so a fit needs
one deep search per judged query, not one per candidate weighting. Used by bench/fit_ranking.py
(leave-one-source-out over the development sets: the shipped defaults) and by `zumen adapt` (a
site's own pairs, cross-validated).

- Weights: a grid search of the macro-average MRR over groups of queries (sources), each group
  counting once, so a large source cannot outvote a small one; the weights are the average of
  every grid point within one standard error of the best (`fit_weights`, rule "window"), not the
  single point that won by a hair on the training sources. Features that are one kind of
  evidence seen two ways (the library's two links) share one weight (`TIES`).
- Confidence: logistic regression of "this hit is relevant" on the fused score of the top hits.
- No match: the highest bar on the best hit's confidence that leaves at most 5 % of the queries
  of every group (source) without an answer when their library holds a relevant document; its
  false-match rate is measured on the same queries asked of a library without those documents.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, fields
from typing import Mapping, Sequence

import numpy as np

from engine.config import Calibration, FileWeights

FEATURES: tuple[str, ...] = tuple(f.name for f in fields(FileWeights))
# ScoreBreakdown names the page-level BM25 "lexical"
SCORE_FIELD = {name: ("lexical" if name == "lexical_page" else name) for name in FEATURES}
# the evidence that lets a drawing query list a *document*: meaning and looks only reorder what
# these list (query.py, `_Evidence.supported` without `by_likeness`)
SUPPORT: tuple[str, ...] = ("lexical_page", "lexical_doc", "cosine_page", "cosine_doc", "dimensions",
                            "link_name", "link_folder")
# Features fitted as one weight: a grid key naming a tie sets every feature in it. The library's
# two links are one kind of evidence, "the site filed this document with that drawing", written
# the way a site happens to file: a parts list naming the drawing's file, or a README in its
# folder. Most sources use one of the two, so a fit on them learns nothing about the other, and
# a site that files the other way found its links underweighted (openeai-arm's BOM names every
# sheet's file; fitted without it, apart: file name .17, folder .36, its 150 dpi R@1 .895; tied:
# both .26, R@1 .947; docs/ranking.md).
TIES: dict[str, tuple[str, ...]] = {"link": ("link_name", "link_folder")}
GRID: dict[str, tuple[float, ...]] = {
    "lexical_page": (0.0, 0.5, 1.0),
    "lexical_doc": (0.0, 0.5, 1.0),
    "cosine_page": (0.0, 0.5, 1.0),
    "cosine_doc": (0.0, 0.5, 1.0),
    "dimensions": (0.0, 0.25),
    "semantic": (0.0, 0.15, 0.3, 0.6),
    "visual": (0.0, 0.2),
    "link": (0.0, 0.25, 0.5, 1.0),
}


@dataclass
class JudgedQueries:
    """One group's queries as arrays: features (q, n, f) of each query's hits, relevance (q, n),
    and which hits would be gone from a library without the group's own documents (q, n).
    `by_likeness`: a hit may be listed on meaning or looks alone (similar drawings); otherwise
    (related documents) only a hit with some SUPPORT evidence that the weights count is listed,
    as the engine lists them (the hits come from `show_weak` searches, which list every one)."""

    x: np.ndarray
    valid: np.ndarray
    relevant: np.ndarray
    own: np.ndarray
    by_likeness: bool = False

    @classmethod
    def from_hits(cls, hits: Sequence[Sequence[Mapping[str, float]]], relevant: Sequence[Sequence[bool]],
                  own: Sequence[Sequence[bool]] | None = None, *, by_likeness: bool = False) -> "JudgedQueries":
        """hits[q][j]: the ScoreBreakdown (as a mapping) of query q's j-th hit."""
        depth = max([len(h) for h in hits] + [1])
        x = np.zeros((len(hits), depth, len(FEATURES)))  # (q, n, f)
        valid = np.zeros((len(hits), depth), dtype=bool)
        rel = np.zeros((len(hits), depth), dtype=bool)
        mine = np.zeros((len(hits), depth), dtype=bool)
        for i, row in enumerate(hits):
            for j, h in enumerate(row):
                x[i, j] = [float(h.get(SCORE_FIELD[f], 0.0)) for f in FEATURES]
                valid[i, j] = True
                rel[i, j] = bool(relevant[i][j])
                mine[i, j] = bool(own[i][j]) if own is not None else False
        return cls(x, valid, rel, mine, by_likeness)

    def __len__(self) -> int:
        return len(self.x)

    def subset(self, rows: Sequence[int]) -> "JudgedQueries":
        rows = list(rows)
        return JudgedQueries(self.x[rows], self.valid[rows], self.relevant[rows], self.own[rows],
                             self.by_likeness)

    def listed(self, w: np.ndarray) -> np.ndarray:
        """(q, n): the hits a list ranked by `w` shows at all."""
        if self.by_likeness:
            return self.valid
        support = [FEATURES.index(f) for f in SUPPORT]
        counted = np.asarray(w)[support] > 0  # (s,)
        return self.valid & ((self.x[..., support] > 0) & counted).any(axis=-1)

    def scores(self, w: np.ndarray) -> np.ndarray:
        return np.where(self.listed(w), self.x @ w, -np.inf)  # (q, n)

    def order(self, w: np.ndarray) -> np.ndarray:
        """Hits best first; ties put the relevant hits last (a pessimistic measure: weights
        that leave the evidence tied cannot win by the order the hits came in)."""
        s = self.scores(w)
        return np.lexsort((self.relevant, -s), axis=1)  # (q, n)

    def reciprocal_ranks(self, w: np.ndarray) -> np.ndarray:
        """Per query: 1 / rank of the first relevant hit (0 when none is listed)."""
        s = self.scores(w)
        best_rel = np.where(self.relevant, s, -np.inf).max(axis=1)  # (q,)
        above = ((s > best_rel[:, None]) | ((s == best_rel[:, None]) & ~self.relevant)).sum(axis=1)
        return np.where(np.isfinite(best_rel), 1.0 / (above + 1.0), 0.0)

    def mrr(self, w: np.ndarray) -> float:
        return float(self.reciprocal_ranks(w).mean()) if len(self) else 0.0

    def tops(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Best fused score per query with the library as it is, and without the own documents."""
        s = self.scores(w)
        with_own = np.where(self.valid, s, 0.0).max(axis=1, initial=0.0)
        without = np.where(self.valid & ~self.own, s, 0.0).max(axis=1, initial=0.0)
        return with_own, without


def as_vector(weights: FileWeights) -> np.ndarray:
    return np.array([getattr(weights, f) for f in FEATURES])


def as_weights(w: np.ndarray) -> FileWeights:
    return FileWeights(**{f: float(v) for f, v in zip(FEATURES, w)})


def grid_points(grid: Mapping[str, Sequence[float]]) -> list[np.ndarray]:
    """Every weighting of the grid, as vectors over FEATURES: a key is a feature or a tie (TIES),
    which gives its features one value; features the grid does not name weigh 0."""
    unknown = set(grid) - set(FEATURES) - set(TIES)
    if unknown:
        raise ValueError(f"not a feature or a tie: {sorted(unknown)}")
    keys = list(grid)
    index = [[FEATURES.index(f) for f in TIES.get(k, (k,))] for k in keys]
    points = []
    for combo in itertools.product(*(grid[k] for k in keys)):
        w = np.zeros(len(FEATURES))
        for cols, value in zip(index, combo):
            w[cols] = value
        points.append(w)
    return points


def fit_weights(groups: Sequence[JudgedQueries], grid: Mapping[str, Sequence[float]] = GRID,
                rule: str = "window") -> FileWeights:
    """Weights from the grid by macro-average MRR over `groups`.

    rule "best": the single best grid point (ties: the smaller total weight). rule "window":
    every grid point whose macro MRR is within one standard error of the best is as good as the
    best on this data (Occam's window), so the weights are their average (each point scaled to
    sum 1): when two features are indistinguishable on the training sources (a page's cosine and
    its document's, where documents are one page long), both keep weight instead of the one that
    won by a hair, which an unseen source with long documents may punish."""
    groups = [g for g in groups if len(g)]
    if not groups:
        raise ValueError("no judged queries to fit on")
    points, means = [], []
    for w in grid_points(grid):
        if w.any():
            points.append(w)
            means.append(float(np.mean([g.mrr(w) for g in groups])))
    means_a = np.round(np.array(means), 6)
    order = np.lexsort((np.array([w.sum() for w in points]), -means_a))  # best, then smaller
    best = points[order[0]]
    if rule == "best":
        return as_weights(best)
    # standard error of the macro mean at the best point: per group, sd of its reciprocal ranks
    ses = [g.reciprocal_ranks(best).std(ddof=1) / np.sqrt(len(g)) if len(g) > 1 else 0.0 for g in groups]
    margin = float(np.sqrt(np.sum(np.square(ses)))) / len(groups)
    near = np.flatnonzero(means_a >= means_a[order[0]] - margin)
    return as_weights(np.mean([points[i] / points[i].sum() for i in near], axis=0))


def logistic(x: np.ndarray, y: np.ndarray, iters: int = 50) -> tuple[float, float]:
    """P(y=1 | x) = sigmoid(a x + b) by Newton's method with a small ridge (stable when the data
    are separable)."""
    X = np.stack([x, np.ones_like(x)], axis=1)  # (n, 2)
    theta = np.array([1.0, 0.0])
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-(X @ theta)))
        grad = X.T @ (p - y) + 1e-3 * theta
        hess = (X * (p * (1 - p))[:, None]).T @ X + 1e-3 * np.eye(2)
        theta = theta - np.linalg.solve(hess, grad)
    return float(theta[0]), float(theta[1])


def confidence(fused: np.ndarray, cal: Calibration) -> np.ndarray:
    """engine.search.query.confidence over arrays: 0 without evidence (fused <= 0)."""
    p = 1.0 / (1.0 + np.exp(-(cal.slope * fused + cal.intercept)))
    return np.where(fused > 0, p, 0.0)


def fit_calibration(groups: Sequence[JudgedQueries], weights: FileWeights, top_k: int = 10,
                    max_false_no_match: float = 0.05) -> Calibration:
    w = as_vector(weights)
    xs, ys = [], []
    for g in groups:
        s, order, listed = g.scores(w), g.order(w)[:, :top_k], g.listed(w)
        for i, row in enumerate(order):
            keep = listed[i, row]
            xs.append(s[i, row][keep])
            ys.append(g.relevant[i, row][keep].astype(float))
    slope, intercept = logistic(np.concatenate(xs), np.concatenate(ys))
    cal = Calibration(slope, intercept, 0.5)
    # the highest bar that tells at most `max_false_no_match` of the findable queries of *each*
    # group "no match" (a missed answer costs a shop-floor user more than a weak list, and score
    # levels differ between sources: a pooled rate let one source lose a quarter of its answers)
    # (a query with no evidence at all has no match whatever the bar: only the answers the bar
    # itself takes away count)
    tops = [confidence(g.tops(w)[0], cal) for g in groups if len(g)]
    best_bar = 0.0
    for bar in np.round(np.linspace(0.01, 0.99, 99), 2):
        if all(((t > 0) & (t < bar)).mean() <= max_false_no_match for t in tops):
            best_bar = float(bar)
    return Calibration(slope, intercept, best_bar)


def no_match_rates(g: JudgedQueries, weights: FileWeights, cal: Calibration
                   ) -> tuple[float, float, np.ndarray]:
    """(false "no match" rate, false-match rate, which queries keep their answer)."""
    pos, neg = g.tops(as_vector(weights))
    keep = (confidence(pos, cal) > 0) & (confidence(pos, cal) >= cal.min_top)
    false_match = (confidence(neg, cal) > 0) & (confidence(neg, cal) >= cal.min_top)
    return (float(1 - keep.mean()) if len(keep) else 0.0,
            float(false_match.mean()) if len(neg) else 0.0, keep)
