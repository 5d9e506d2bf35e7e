"""bench/fit_keywords.py: leave-one-source-out choice of the keyword fusion, and the scale it fits."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import fit_keywords as fk  # noqa: E402
from engine.config import EngineSettings  # noqa: E402
from engine.search.query import Searcher, _Evidence  # noqa: E402


def cell(mrr: float, map_: float, n: int = 10) -> dict:
    return {"mrr": mrr, "map": map_, "queries": n, "recall@1": mrr, "ndcg@10": map_}


def test_each_left_out_source_is_judged_by_values_fitted_without_it():
    # A is best on a and b, B on c: c left out is judged by A; a left out, B wins on b and c together
    measured = {
        (1.0, None, None): {"drawing": {"a": cell(.9, .9), "b": cell(.9, .9), "c": cell(.1, .1)}},
        (0.2, 0.45, None): {"drawing": {"a": cell(.5, .5), "b": cell(.5, .5), "c": cell(.9, .9), "d": cell(0, 0, n=1)}},
    }
    folds = fk.loso(measured, ["a", "b", "c"], shipped=(1.0, None, None))
    assert folds["c"]["point"] == (1.0, None, None) and folds["c"]["left_out"]["drawing"]["mrr"] == .1
    assert folds["a"]["point"] == (0.2, 0.45, None) and folds["a"]["shipped"]["drawing"]["mrr"] == .9
    # a cell of fewer than MIN_QUERIES queries is reported but never fitted on
    assert fk.objective(measured[(0.2, 0.45, None)], {"d"}) == 0.0
    # ties go to the lighter meaning weight
    tie = {(1.0, None, None): measured[(1.0, None, None)], (0.2, None, None): measured[(1.0, None, None)]}
    assert fk.best(tie, {"a"}) == (0.2, None, None)


@pytest.mark.parametrize("floor, expected", [(None, 1.0), (0.45, (0.537 - 0.45) / 0.55)])
def test_a_meaning_floor_puts_meaning_on_an_absolute_scale(floor, expected):
    """Min-max over the query's own meaning list makes its best page 1.0 however weak (a typed
    part number's neighbours by meaning are at cosine ~0.5); a floor scales the cosine instead."""
    searcher = object.__new__(Searcher)
    searcher.settings = replace(EngineSettings(), keyword_meaning_floor=floor)
    ev = _Evidence()
    ev.scores["semantic"] = {(1, 1): 0.537, (2, 1): 0.49}
    ev.bounds["semantic"] = (0.49, 0.537)
    fused = searcher._fuse_keyword(ev, {"semantic"})
    assert fused[(1, 1)] == pytest.approx(expected) and fused[(2, 1)] < fused[(1, 1)]


def test_a_query_of_codes_only_may_have_a_meaning_floor_of_its_own():
    searcher = object.__new__(Searcher)
    searcher.settings = replace(EngineSettings(), code_meaning_floor=0.45)
    ev = _Evidence()
    ev.scores["semantic"] = {(1, 1): 0.537, (2, 1): 0.49}
    ev.bounds["semantic"] = (0.49, 0.537)
    assert searcher._fuse_keyword(ev, {"semantic"}, codes_only=True)[(1, 1)] == pytest.approx(0.087 / 0.55)
    assert searcher._fuse_keyword(ev, {"semantic"}, codes_only=False)[(1, 1)] == pytest.approx(1.0)


def test_the_codes_design_varies_the_codes_floor_only_and_ties_keep_it_off():
    same = {"drawing": {"a": cell(.5, .5)}}
    measured = {(1.0, None, None): same, (1.0, None, 0.45): same, (1.0, None, 0.6): same, (0.2, None, None): same}
    points = fk.codes_design(measured, shipped=(1.0, None, None))
    assert sorted(points, key=str) == sorted([(1.0, None, None), (1.0, None, 0.45), (1.0, None, 0.6)], key=str)
    assert fk.best(measured, {"a"}, points) == (1.0, None, None)


def test_a_query_of_codes_only_is_one_whose_every_term_holds_a_digit():
    from engine.search.query import Query, build_terms

    def query(text: str) -> Query:
        return Query(text=text, terms=build_terms(text, [], keyword=True))

    assert query("B1002-A2P-A").codes_only and query("S45C φ12 H7").codes_only
    assert not query("B1002-A2P-A front panel").codes_only and not query("bearing housing").codes_only
    assert not Query(text="").codes_only
