"""bench_similar's judging of image towers alone: queries are turned back upright exactly."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import bench_similar  # noqa: E402


def _sheet() -> Image.Image:
    img = Image.new("L", (120, 80), 255)
    d = ImageDraw.Draw(img)
    d.rectangle((5, 5, 60, 40), outline=0, width=2)
    d.text((70, 50), "A-1", fill=0)
    return img


@pytest.mark.parametrize("condition", ["scan turned 90", "scan turned 180", "scan turned 270", "scan mirrored"])
def test_a_turned_or_mirrored_query_is_turned_back_to_the_upright_scan(condition):
    """The towers part judges the tower, not the orientation check: a query turned or mirrored by
    its condition is exactly the upright scan (same seed) once turned back."""
    clean = _sheet()
    upright = bench_similar.upright(bench_similar.make_query(clean, condition, 5), condition)
    scan = bench_similar.make_query(clean, "scan", 5)
    assert upright.size == clean.size and np.array_equal(np.asarray(upright), np.asarray(scan))
    assert not np.array_equal(np.asarray(bench_similar.make_query(clean, condition, 5)), np.asarray(scan))


def test_the_geometry_check_is_replayed_and_its_thresholds_chosen_on_the_other_sets():
    from engine.config import EngineSettings

    # hybrid list a, b, own (own third by words); looks list own, c; own lines up best
    ids, pool, points, stage = bench_similar.check_pool((["a", "b", "own"], [5, 9, 80]), (["own", "c"], [80, 7]),
                                                        top=2)
    assert pool == ["a", "b", "own", "c"] and points == [5, 9, 80, 7] and stage == 4  # the hybrid's first 2, then the looks'
    assert bench_similar._rank_verified(ids, pool, points, stage, "own", 20, 1.5) == 0
    assert bench_similar._rank_verified(ids, pool, points, stage, "own", 100, 1.5) == 2  # too few points: as listed
    assert bench_similar._rank_verified(ids, pool, [5, 60, 80, 7], stage, "own", 20, 1.5) == 2  # b nearly as good
    # a sheet indexed as a document (not in the hybrid's list) is checked after the looks' hits
    ids, pool, points, stage = bench_similar.check_pool((["a", "b"], [5, 9]), (["a", "c"], [5, 7]), 2,
                                                        (["own", "a", "d"], [120, 5, 3]))
    assert pool == ["a", "b", "c", "own"] and points == [5, 9, 7, 120]
    assert bench_similar._rank_verified(ids, pool, points, stage, "own", 60, 1.1) == 0
    # the first by looks in the other orientations are checked only when nothing else stands out
    ids, pool, points, stage = bench_similar.check_pool((["a", "b"], [5, 9]), (["c"], [7]), 2, ([], []),
                                                        (["own", "e"], [150, 12]))
    assert pool == ["a", "b", "c", "own", "e"] and stage == 3
    assert bench_similar._rank_verified(ids, pool, points, stage, "own", 60, 1.1) == 0
    # b stood out in the first stage: the other orientations were never looked at, own is not listed
    assert bench_similar._rank_verified(ids, pool, [5, 90, 7, 150, 12], stage, "own", 60, 1.1) is None
    assert bench_similar._pick(pool, points, stage, 60, 1.1, leave_out="own") is None
    # each left-out set gets the strictest thresholds that are best on the others: y's second
    # query (b lines up 90 to own's 40) asks a ratio above 2.25, its first (own 30 points) a bar <= 30
    checked = {"x": [("scan", ["a", "own"], ["a", "own"], [5, 40], 2, "own", [])],
               "y": [("scan", ["a", "own"], ["a", "own"], [4, 30], 2, "own", []),
                     ("photo", ["own", "b"], ["own", "b"], [40, 90], 2, "own", [])]}
    ranks: dict = {"scan": {}, "photo": {}}
    fits = bench_similar.verify_left_out(checked, ranks, EngineSettings())
    assert (fits["x"]["min_points"], fits["x"]["ratio"]) == (30, 4.0)
    assert (fits["y"]["min_points"], fits["y"]["ratio"]) == (40, 4.0)
    assert (fits["_all_sets"]["min_points"], fits["_all_sets"]["ratio"]) == (30, 4.0)  # what to ship
    assert ranks["scan"]["hybrid, not verified"] == {"x": [1], "y": [1]}
    assert ranks["scan"]["hybrid, verified (thresholds left out)"] == {"x": [0], "y": [1]}
    assert ranks["photo"]["hybrid, verified (thresholds left out)"] == {"y": [0]}
