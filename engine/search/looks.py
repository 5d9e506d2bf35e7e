"""Looks compared without the template: image-tower vectors whitened by the library's own pages.

Every sheet of a site shares its border, title block and lettering, so the image tower's raw
cosine between two of them is mostly the template's (0.9 and more for any two sheets of one
site). Whitening with the library's own page vectors removes what they all share: the vectors are
centred on the library's mean and each principal direction is scaled to unit variance, so the
directions in which the library's pages differ (the geometry) weigh as much as those in which
they are all alike (the template) used to. Measured on the development sets (docs/similar.md):
a degraded scan finds its own drawing by looks at R@1 .42 raw, .70 whitened; drawing -> drawings
of the same family nDCG@10 .25 -> .32.

The transform is estimated from the library itself (no training, nothing shipped), renewed when
the image index changes, from a fixed sample of at most `SAMPLE` stored vectors. Small variances
are floored at `SHRINK` times the mean variance, so directions the library barely uses (or a
small library cannot estimate) are not blown up into noise. A library with fewer than
`MIN_PAGES` page pictures keeps the raw cosine: there the shared template cannot be told from
the pages' own content.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

SHRINK = 0.1  # variances floored at this share of the mean variance (set once, not tuned)
MIN_PAGES = 64  # fewer page pictures: raw cosines
SAMPLE = 20_000  # page vectors the transform is estimated from (a fixed sample of the keys)
POOL = 1_000  # pages taken by raw cosine (ANN) and re-scored whitened: all of them in a library this size


@dataclass(frozen=True)
class Whitening:
    """Centre on `mean` (d,), multiply by `matrix` (d, d), scale to unit length (float32: a
    query re-scores a thousand pages in a few milliseconds)."""

    mean: NDArray[np.float32]
    matrix: NDArray[np.float32]

    def apply(self, vectors: NDArray[np.float32]) -> NDArray[np.float32]:
        """Rows whitened and L2-normalised; an all-zero row (no picture) stays zero."""
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))  # (n, d)
        out = (vectors - self.mean) @ self.matrix  # (n, d)
        norms = np.linalg.norm(out, axis=1, keepdims=True)  # (n, 1)
        out /= np.maximum(norms, 1e-12)
        out[~np.any(vectors, axis=1)] = 0.0
        return out


def fit_whitening(vectors: NDArray[np.float32], shrink: float = SHRINK) -> Whitening | None:
    """The whitening of `vectors` (n, d), or None when there are fewer than MIN_PAGES rows."""
    vectors = np.asarray(vectors, dtype=np.float64)
    vectors = vectors[np.any(vectors, axis=1)]
    if len(vectors) < MIN_PAGES:
        return None
    mean = vectors.mean(axis=0)  # (d,)
    x = vectors - mean  # (n, d)
    values, axes = np.linalg.eigh(x.T @ x / len(x))  # ascending eigenvalues, (d, d) eigenvectors
    floor = shrink * max(float(values.mean()), 1e-12)
    matrix = axes / np.sqrt(np.maximum(values, floor))
    return Whitening(mean.astype(np.float32), matrix.astype(np.float32))


class LookSpace:
    """The whitening of one image index, renewed lazily after the index changes (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # the index it was estimated from (weakly: a reloaded index is another object, and the
        # old one is not kept in memory for this), and that index's version and size then
        self._index: weakref.ref | None = None
        self._stamp: tuple[int, int] | None = None
        self._white: Whitening | None = None

    def whitening(self, index) -> Whitening | None:
        stamp = (index.version, len(index))
        with self._lock:
            if self._index is None or self._index() is not index or stamp != self._stamp:
                self._white = fit_whitening(_sample(index)) if len(index) >= MIN_PAGES else None
                self._index, self._stamp = weakref.ref(index), stamp
            return self._white

    def look_alike(self, index, vectors: NDArray[np.float32], n: int
                   ) -> tuple[list[tuple[int, float]], dict[int, float]]:
        """The `n` pages closest in looks to any of `vectors` (the query picture, and the same
        picture in other orientations), each by its best whitened cosine over them, best first;
        and the `n` pages of highest raw cosine with it (what a twin is judged by: a render or
        photo of a drawing looks like it, template and all). In a library too small to whiten
        both are the raw cosines."""
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))  # (k, d)
        white = self.whitening(index)
        raw: dict[int, float] = {}
        for vector in vectors:
            for page_id, score in index.search(vector, n if white is None else max(n, POOL)):
                if score > raw.get(page_id, -2.0):
                    raw[page_id] = score
        raw_top = dict(sorted(raw.items(), key=lambda kv: -kv[1])[:n])
        if white is None or not raw:
            return list(raw_top.items()), raw_top
        ids = np.fromiter(raw, dtype=np.uint64, count=len(raw))
        stored = index.get(ids)  # (m, d); a zero row when a page lost its vector meanwhile
        scores = (white.apply(vectors) @ white.apply(stored).T).max(axis=0)  # (m,)
        scores[~np.any(stored, axis=1)] = -1.0
        order = np.argsort(-scores, kind="stable")[:n]
        return [(int(ids[i]), float(scores[i])) for i in order], raw_top


def _sample(index) -> NDArray[np.float32]:
    """At most SAMPLE stored vectors, the same ones for the same keys (sorted, evenly spaced)."""
    ids = np.unique(index.keys())
    if len(ids) > SAMPLE:
        ids = ids[np.linspace(0, len(ids) - 1, SAMPLE).astype(np.int64)]
    return index.get(ids)
