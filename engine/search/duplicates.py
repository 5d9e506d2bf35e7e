"""Near-identical drawings in the library: the same sheet scanned twice, a PDF and its photo,
revision A and B of one part. Numpy only; `Engine.duplicates` supplies the pages.

Two signals per pair of drawing pages:
- **looks**: cosine of the pages' image-tower vectors after whitening them with the library's
  own pages (the shipped tower puts all real drawings close together, cosines 0.90-0.99: what
  every page shares, its border and title block, dominates; whitening takes that out);
- **words**: TF-IDF cosine of the pages' lexical tokens, idf over the library's drawing pages (a
  site's title-block words count little, its part numbers and notes much).
Candidates: each page's nearest pages by looks, and pages sharing a rare token (a part number);
each candidate pair gets a calibrated score from both signals (`DuplicateWeights`, fitted
leave-one-source-out by bench/bench_similar.py), and pairs at or above the threshold are joined
into groups (connected components).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

from engine.config import DuplicateWeights
from engine.types import DuplicateGroup, DuplicatePage

NEIGHBOURS = 8  # nearest pages by looks proposed per page
RARE_TOKEN_PAGES = 6  # a token on at most this many pages proposes them as pairs
MIN_RARE_TOKEN_CHARS = 4  # …when it is at least this long (a part number, not "10")
WHITEN_SHRINK = 0.1  # eigenvalues floored at this share of the mean variance (small libraries)
BLOCK_FLOATS = 1 << 24  # similarities held at once while comparing (64 MB)

Checkpoint = Callable[[int, int], None]  # (pages done, total): progress and cancel


def whitening(vectors: NDArray[np.float32],
              shrink: float = WHITEN_SHRINK) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(mean (d,), matrix (d, d)) that centre rows on the mean of `vectors` and scale each of
    their principal directions to unit variance (eigenvalues floored at `shrink` x their mean)."""
    mean = vectors.mean(axis=0).astype(np.float64)
    x = vectors.astype(np.float64) - mean  # (n, d)
    values, axes = np.linalg.eigh(x.T @ x / max(1, len(x)))  # ascending
    floor = shrink * max(float(values.mean()), 1e-12)
    return mean, axes / np.sqrt(np.maximum(values, floor))


def apply_whitening(vectors: NDArray[np.float32],
                    transform: tuple[NDArray[np.float64], NDArray[np.float64]]) -> NDArray[np.float32]:
    """Rows whitened by `transform` (see `whitening`), L2-normalised again."""
    mean, matrix = transform
    out = (vectors.astype(np.float64) - mean) @ matrix  # (n, d)
    return (out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def whiten(vectors: NDArray[np.float32], shrink: float = WHITEN_SHRINK) -> NDArray[np.float32]:
    """(n, d) L2-normalised -> whitened with their own statistics, L2-normalised."""
    if len(vectors) < 2:
        return vectors.astype(np.float32)
    return apply_whitening(vectors, whitening(vectors, shrink))


def nearest_pairs(vectors: NDArray[np.float32], k: int = NEIGHBOURS,
                  checkpoint: Checkpoint | None = None) -> dict[tuple[int, int], float]:
    """(i, j) with i < j -> cosine, for each row's k nearest other rows (exact, in blocks)."""
    n = len(vectors)
    out: dict[tuple[int, int], float] = {}
    k = min(k, n - 1)
    if k <= 0:
        return out
    block = max(1, BLOCK_FLOATS // n)
    for start in range(0, n, block):
        sims = vectors[start:start + block] @ vectors.T  # (b, n)
        rows = np.arange(len(sims))
        sims[rows, rows + start] = -np.inf  # not itself
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]  # (b, k)
        for r, cols in enumerate(top):
            i = start + r
            for j in cols.tolist():
                out[(min(i, j), max(i, j))] = float(sims[r, j])
        if checkpoint is not None:
            checkpoint(min(n, start + block), n)
    return out


SparseVector = tuple[NDArray[np.int32], NDArray[np.float32]]  # sorted token ids, weights


def tfidf_vectors(tokens: Sequence[Sequence[str]]) -> list[SparseVector]:
    """Sparse L2-normalised TF-IDF (sublinear tf, smoothed idf over these pages) per page, as
    sorted token ids and their weights (compact: a library of 100k pages fits in memory)."""
    vocab: dict[str, int] = {}
    counted = []
    for toks in tokens:
        c = Counter(vocab.setdefault(t, len(vocab)) for t in toks)
        counted.append((np.fromiter(c.keys(), np.int32, len(c)), np.fromiter(c.values(), np.float32, len(c))))
    df = np.zeros(len(vocab), dtype=np.float32)  # (V,)
    for ids, _ in counted:
        df[ids] += 1
    idf = np.log((1 + len(tokens)) / (1 + df)) + 1.0  # (V,)
    out = []
    for ids, tf in counted:
        order = np.argsort(ids)
        ids, w = ids[order], (1.0 + np.log(tf[order])) * idf[ids[order]]
        norm = float(np.linalg.norm(w))
        out.append((ids, (w / norm if norm > 0 else w).astype(np.float32)))
    return out


def cosine(a: SparseVector, b: SparseVector) -> float:
    _, ia, ib = np.intersect1d(a[0], b[0], assume_unique=True, return_indices=True)
    return float(a[1][ia] @ b[1][ib])


def rare_token_pairs(tokens: Sequence[Sequence[str]], max_pages: int = RARE_TOKEN_PAGES,
                     min_chars: int = MIN_RARE_TOKEN_CHARS) -> set[tuple[int, int]]:
    """Pairs of pages sharing a token found on at most `max_pages` pages (part numbers, names)."""
    pages: dict[str, list[int]] = {}
    for i, toks in enumerate(tokens):
        for t in set(toks):
            if len(t) >= min_chars:
                pages.setdefault(t, []).append(i)
    out: set[tuple[int, int]] = set()
    for holders in pages.values():
        if 2 <= len(holders) <= max_pages:
            out.update((a, b) for x, a in enumerate(holders) for b in holders[x + 1:])
    return out


def pair_score(looks: float, words: float, weights: DuplicateWeights) -> float:
    """Calibrated probability that two pages are the same drawing (logistic in the signals)."""
    z = weights.bias + weights.looks * looks + weights.words * words
    return 1.0 / (1.0 + math.exp(-z))


@dataclass(frozen=True)
class ScoredPair:
    i: int
    j: int
    looks: float
    words: float
    score: float


def score_pairs(vectors: NDArray[np.float32] | None, tokens: Sequence[Sequence[str]],
                weights: DuplicateWeights, checkpoint: Checkpoint | None = None) -> list[ScoredPair]:
    """Every candidate pair of pages with its signals and score. `vectors`: (n, d) image-tower
    vectors, rows L2-normalised (a row of zeros: no picture), or None."""
    n = len(tokens)
    looks: dict[tuple[int, int], float] = {}
    white = None
    if vectors is not None and n > 1:
        has = np.linalg.norm(vectors, axis=1) > 0
        idx = np.nonzero(has)[0]
        white = np.zeros_like(vectors)
        white[idx] = whiten(vectors[idx])
        near = nearest_pairs(white[idx], checkpoint=checkpoint)
        looks = {(int(idx[a]), int(idx[b])): v for (a, b), v in near.items()}
    candidates = set(looks) | rare_token_pairs(tokens)
    text = tfidf_vectors(tokens)
    out = []
    for i, j in sorted(candidates):
        look = looks.get((i, j))
        if look is None:
            look = float(white[i] @ white[j]) if white is not None else 0.0
        words = cosine(text[i], text[j]) if len(text[i][0]) and len(text[j][0]) else 0.0
        out.append(ScoredPair(i, j, look, words, pair_score(look, words, weights)))
    return out


def connected_groups(n: int, pairs: Iterable[ScoredPair],
                     threshold: float) -> list[tuple[list[int], list[ScoredPair]]]:
    """Connected components (of 2 or more pages) of the pairs scored at least `threshold`, each
    with the pairs that link it."""
    parent = list(range(n))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    links = [p for p in pairs if p.score >= threshold]
    for p in links:
        parent[root(p.i)] = root(p.j)
    members: dict[int, list[int]] = {}
    for i in range(n):
        members.setdefault(root(i), []).append(i)
    by_root: dict[int, list[ScoredPair]] = {}
    for p in links:
        by_root.setdefault(root(p.i), []).append(p)
    return [(m, by_root[r]) for r, m in members.items() if len(m) > 1]


def duplicate_group(members: list[int], links: Sequence[ScoredPair],
                    pages: dict[int, DuplicatePage]) -> DuplicateGroup:
    """One group: its pages (text-layer pages first, then by path), the weakest of the pairs
    that link it, and its closest look and most shared words."""
    ordered = sorted((pages[i] for i in members), key=lambda p: (p.source != "text-layer", p.path, p.page))
    return DuplicateGroup(pages=tuple(ordered), score=min(p.score for p in links),
                          looks=max(p.looks for p in links), words=max(p.words for p in links))
