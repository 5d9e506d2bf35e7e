"""Duplicate drawings: the signals and grouping of engine.search.duplicates on hand-made vectors
and tokens, and `Engine.duplicates` / `zumen duplicates` end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.cli import main
from engine.config import DuplicateWeights
from engine.search.duplicates import (ScoredPair, connected_groups, cosine, nearest_pairs,
                                      pair_score, rare_token_pairs, tfidf_vectors, whiten)


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_whitening_takes_out_what_every_page_shares():
    rng = np.random.default_rng(0)
    shared = rng.normal(size=32)  # the border and title block every page has
    pages = unit(shared * 5 + rng.normal(size=(200, 32)))
    raw = pages @ pages.T
    white = whiten(pages)
    assert np.median(raw[np.triu_indices(200, 1)]) > 0.9  # all pages look alike as they come…
    assert abs(np.median((white @ white.T)[np.triu_indices(200, 1)])) < 0.1  # …not once whitened
    assert np.allclose(np.linalg.norm(white, axis=1), 1.0, atol=1e-5)


def test_nearest_pairs_are_the_exact_nearest_neighbours():
    rng = np.random.default_rng(1)
    vectors = unit(rng.normal(size=(50, 8)))
    found = nearest_pairs(vectors, k=3)
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    for i in range(50):
        for j in np.argsort(-sims[i])[:3]:
            assert (min(i, j), max(i, j)) in found
            assert found[min(i, j), max(i, j)] == pytest.approx(sims[i, j], abs=1e-6)


def test_word_signals():
    tokens = [["1258", "b2p", "s45c", "bracket", "scale"], ["1258", "b2p", "s45c", "bracket", "scale"],
              ["2210", "plate", "a5052", "scale"], ["bracket", "scale", "s45c"]]
    vecs = tfidf_vectors(tokens)
    assert cosine(vecs[0], vecs[1]) == pytest.approx(1.0)
    assert cosine(vecs[0], vecs[2]) < 0.1 < cosine(vecs[0], vecs[3]) < 0.9
    assert rare_token_pairs(tokens, max_pages=2, min_chars=4) == {(0, 1)}  # "1258" and "b2p" are on two pages


def test_scores_rise_with_each_signal_and_groups_are_connected_pairs():
    w = DuplicateWeights()
    assert pair_score(0.9, 0.9, w) > pair_score(0.9, 0.1, w) > pair_score(0.1, 0.1, w)
    assert pair_score(0.9, 0.9, w) > pair_score(0.1, 0.9, w) > pair_score(0.1, 0.1, w)
    pairs = [ScoredPair(0, 1, 0, 0, 0.9), ScoredPair(1, 2, 0, 0, 0.8), ScoredPair(3, 4, 0, 0, 0.3),
             ScoredPair(4, 5, 0, 0, 0.95)]
    groups = connected_groups(6, pairs, 0.5)
    assert sorted(sorted(g) for g, _ in groups) == [[0, 1, 2], [4, 5]]
    links = dict((tuple(sorted(g)), [(p.i, p.j) for p in lk]) for g, lk in groups)
    assert links[(0, 1, 2)] == [(0, 1), (1, 2)]
