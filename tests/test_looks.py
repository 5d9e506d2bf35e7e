"""Looks compared without the template (engine/search/looks.py): whitening by the library's pages."""

from __future__ import annotations

import numpy as np
import pytest

from engine.search.looks import MIN_PAGES, LookSpace, fit_whitening
from engine.store.vectors import VectorIndex

DIM = 32


def _library(rng: np.random.Generator, n: int = 200):
    """Page vectors as a template sees them: one large component every page shares, one large
    direction in which whole groups of sheets differ (sheet size, border), and small page-own
    geometry; unit length like the tower's output."""
    template = rng.normal(size=DIM)
    template /= np.linalg.norm(template)
    sheet = rng.normal(size=DIM)
    sheet -= sheet @ template * template
    sheet /= np.linalg.norm(sheet)
    geometry = rng.normal(size=(n, DIM)) * 0.3  # (n, d)
    size = rng.normal(size=(n, 1)) * 6.0  # (n, 1)
    pages = 10.0 * template + size * sheet + geometry
    return template, sheet, geometry, pages / np.linalg.norm(pages, axis=1, keepdims=True)


def _index(tmp_path, vectors: np.ndarray) -> VectorIndex:
    index = VectorIndex(tmp_path / "image.usearch", DIM)
    index.add(np.arange(1, len(vectors) + 1, dtype=np.uint64), vectors.astype(np.float32))
    return index


def test_whitening_gives_the_library_unit_variance_in_the_directions_it_uses():
    rng = np.random.default_rng(0)
    *_, pages = _library(rng)
    white = fit_whitening(pages, shrink=1e-9)
    assert white is not None
    centred = (pages - white.mean) @ white.matrix  # before the rows are scaled to unit length
    cov = centred.T @ centred / len(pages)
    assert np.allclose(cov, np.eye(DIM), atol=1e-6)
    out = white.apply(np.vstack([pages[:3], np.zeros((1, DIM))]))
    assert np.allclose(np.linalg.norm(out[:3], axis=1), 1.0)
    assert not out[3].any(), "a page without a picture stays without one"


def test_a_small_library_keeps_raw_cosines():
    rng = np.random.default_rng(1)
    *_, pages = _library(rng, n=MIN_PAGES - 1)
    assert fit_whitening(pages) is None


def test_a_degraded_picture_finds_its_page_whitened_where_the_template_decides_raw(tmp_path):
    rng = np.random.default_rng(2)
    template, sheet, geometry, pages = _library(rng)
    index = _index(tmp_path, pages)
    space = LookSpace()
    found_raw = found_white = 0
    for k in range(40):
        # the same page scanned again: its own geometry (a little noisy), the template, but the
        # sheet component of another size class (a re-export on a larger sheet)
        query = 10.0 * template + rng.normal() * 6.0 * sheet + geometry[k] + rng.normal(size=DIM) * 0.05
        query /= np.linalg.norm(query)
        found_raw += index.search(query, 1)[0][0] == k + 1
        hits, raw = space.look_alike(index, query[None, :].astype(np.float32), 5)
        found_white += hits[0][0] == k + 1
        assert all(-1.0 <= s <= 1.0001 for _, s in hits)
        assert raw == dict(index.search(query, 5)), "twins are judged by the raw cosine's own top"
    assert found_raw <= 10, "the raw cosine should be decided by the shared components"
    assert found_white >= 36


def test_the_whitening_is_renewed_when_the_index_changes(tmp_path):
    rng = np.random.default_rng(3)
    *_, pages = _library(rng, n=MIN_PAGES + 10)
    index = _index(tmp_path, pages[:MIN_PAGES - 1])
    space = LookSpace()
    assert space.whitening(index) is None
    query = pages[-1][None, :].astype(np.float32)
    hits, raw = space.look_alike(index, query, 3)
    assert dict(hits) == pytest.approx(raw), "too small to whiten: the raw cosine"
    index.add(np.arange(MIN_PAGES, MIN_PAGES + 11, dtype=np.uint64), pages[MIN_PAGES - 1:].astype(np.float32))
    first = space.whitening(index)
    assert first is not None
    assert space.whitening(index) is first, "renewed only after a change"
    index.remove(np.array([1], dtype=np.uint64))
    assert space.whitening(index) is not first
    hits, _ = space.look_alike(index, query, 3)
    assert hits[0][0] == MIN_PAGES + 10 and hits[0][1] == pytest.approx(1.0, abs=1e-5)
    assert 1 not in dict(space.look_alike(index, query, len(index) + 5)[0])


def test_a_reloaded_index_is_whitened_anew(tmp_path):
    """Another process saved the index and the library loaded it again: a new index object,
    perhaps of the same size and version count, is not served the old transform."""
    rng = np.random.default_rng(4)
    *_, pages = _library(rng, n=2 * MIN_PAGES)
    first = _index(tmp_path, pages[:MIN_PAGES])
    space = LookSpace()
    old = space.whitening(first)
    first.save()
    other = VectorIndex(tmp_path / "other.usearch", DIM)
    other.add(np.arange(1, MIN_PAGES + 1, dtype=np.uint64), pages[MIN_PAGES:].astype(np.float32))
    assert (other.version, len(other)) == (first.version, len(first))
    assert space.whitening(other) is not old
