"""bench/duplicates_bench.py's word scores and its account of missed pairs, on a toy corpus."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import duplicates_bench  # noqa: E402
from engine.config import EngineSettings  # noqa: E402

# two sets, each with two drawings; file -> (set, group, drawing number)
LABELS = {"a/0/original.pdf": ("a", 0, 0), "a/0/photo.jpg": ("a", 0, 0), "a/0/rescan.png": ("a", 0, 0),
          "a/1/original.pdf": ("a", 1, 1), "a/1/photo.jpg": ("a", 1, 1),
          "b/2/original.pdf": ("b", 2, 2), "b/2/photo.jpg": ("b", 2, 2),
          "b/3/original.pdf": ("b", 3, 3), "b/3/photo.jpg": ("b", 3, 3)}
FILES = sorted(LABELS)


def words_of(f: str) -> frozenset[str]:
    """Each drawing's own words on all its files, one family word on every file of set a."""
    number = LABELS[f][2]
    own = {f"part{number}", f"dim{number}x", f"note{number}"}
    return frozenset(own | ({"family"} if LABELS[f][0] == "a" else set()))


def test_word_variants_score_the_same_pages_and_pick_thresholds_left_out():
    pages = np.arange(len(FILES))
    out = duplicates_bench.word_variants(pages, [words_of(f) for f in FILES], FILES, LABELS, EngineSettings())
    assert "telling words on 2 to 10 pages" in out and "copies counted once (groups of the shipped threshold)" in out
    wide = out["telling words on 2 to 10 pages"]
    # the family word joins set a's two drawings at a low score; their own words at 1.0
    assert wide["pooled"]["recall"] == 1.0 and wide["pooled"]["precision"] == 1.0
    assert set(wide) == {"a", "b", "pooled"}


def test_missed_pairs_are_told_apart_by_why():
    index = {f: i for i, f in enumerate(FILES)}

    def pair(x: str, y: str, score: float):
        return SimpleNamespace(a=SimpleNamespace(path=x, source="text-layer"),
                               b=SimpleNamespace(path=y, source="ocr"), score=score, looks=0.0,
                               points=0, chance=0.0)

    result = SimpleNamespace(pairs=[pair("a/0/original.pdf", "a/0/photo.jpg", 0.9),
                                    pair("a/1/original.pdf", "a/1/photo.jpg", 0.2),
                                    pair("b/2/original.pdf", "b/2/photo.jpg", 0.8)])
    compared = {index[f] for f in FILES if f != "b/3/original.pdf"}  # taken for a document
    thresholds = {"a": {"threshold": 0.5}, "b": {"threshold": 0.5}}
    got = duplicates_bench.why_missed(result, FILES, LABELS, compared, thresholds)
    assert got["a, one drawing"] == {"found": 1, "no shared telling word": 2, "below the threshold": 1}
    assert got["b, one drawing"] == {"found": 1, "not a drawing page": 1}


def test_the_geometry_rule_is_chosen_for_most_true_pairs_at_the_precision_wanted():
    # words alone: 0.9 and 0.8 are duplicates, 0.6 a family-mate; below them two poorly read
    # photos (0.3, 0.25 of the words) whose geometry lines up with their drawing's text layer
    # (150, 90 points), a family-mate of the same layout (0.15 of the words, 400 points), a
    # stranger (0.05, 120 points) and two pictures of different drawings (0.3, 200 points)
    score = np.array([0.9, 0.8, 0.6, 0.3, 0.25, 0.15, 0.05, 0.3])
    points = np.array([300, 200, 40, 150, 90, 400, 120, 200])
    checkable = np.array([False, False, False, True, True, True, True, False])  # a picture and a text layer
    truth = np.array([True, True, False, True, True, False, False, False])
    confirmed = duplicates_bench.confirmed_scores(score, points, checkable, 0.2, 80)
    assert confirmed.tolist() == [0.9, 0.8, 0.6, 2.0, 2.0, 0.15, 0.05, 0.3]
    rule = duplicates_bench.choose_geometry(score, points, checkable, truth)
    # both photos, and not the mate: the highest share that takes the 0.25 photo (0.15 lets the
    # mate in), the most points that take the 90-point one (80 of the grid); the words' own threshold
    assert rule == {"share": 0.25, "points": 80, "threshold": 0.8, "tp": 4, "fp": 0}
    words_alone = duplicates_bench.choose_geometry(score, np.zeros(8, int), checkable, truth)
    assert words_alone["tp"] == 2 and words_alone["threshold"] == 0.8
    everything = duplicates_bench.choose_geometry(score, points, np.ones(8, bool), truth)
    assert everything["tp"] == 2  # checking two pictures too: no rule keeps both photos without them


def test_the_chance_bar_is_the_lowest_that_keeps_the_rules_true_pairs():
    # twenty copies sharing rare words (chance -8), a revision sharing fewer (-0.5), a family mate
    # sharing one common word (1.5) and a photo whose geometry lines up with its drawing
    score = np.array([1.0] * 20 + [0.8, 1.0, 0.3])
    chance = np.array([-8.0] * 20 + [-0.5, 1.5, -6.0])
    truth = np.array([True] * 20 + [True, False, True])
    points = np.array([0] * 22 + [90])
    checkable = np.array([False] * 22 + [True])
    barred = duplicates_bench.confirmed_scores(score, points, checkable, 0.2, 80, chance, 0.0)
    assert barred.tolist() == [1.0] * 20 + [0.8, 0.0, 2.0]
    no_bar = duplicates_bench.choose_geometry(score, points, checkable, truth)
    assert no_bar["tp"] == 22 and no_bar["fp"] == 1 and "max_chance" not in no_bar  # 22 of 23: 0.957
    rule = duplicates_bench.choose_geometry(score, points, checkable, truth, chance=chance)
    # the same rule; then the lowest bar keeping its 22 true pairs: 0 keeps the revision, drops the mate
    assert {k: rule[k] for k in ("share", "points", "threshold", "tp")} == {k: no_bar[k] for k in
                                                                           ("share", "points", "threshold", "tp")}
    assert rule["max_chance"] == 0.0 and rule["fp"] == 0


def test_a_real_librarys_pairs_are_judged_by_set_and_name():
    def pair(x: str, px: int, y: str, py: int):
        return SimpleNamespace(a=SimpleNamespace(path=x, page=px, source="text-layer"),
                               b=SimpleNamespace(path=y, page=py, source="text-layer"),
                               score=1.0, points=0, chance=0.0)

    result = SimpleNamespace(pairs=[
        pair("s/build/fin.PDF", 1, "s/fins/fin.PDF", 1),  # one export in two folders: true
        pair("s/build/fin.PDF", 1, "s/fins/fin.PDF", 2),  # another sheet of it: not judged
        pair("u/B1058-A2P-A.PDF", 1, "u/B1058-A2P-B (1).PDF", 1),  # revision A and B: true
        pair("u/B1136-Z1P-A.PDF", 1, "u/B1201-Z1P-A.PDF", 1),  # two washers of one set: not judged
        pair("u/B1136-Z1P-A.PDF", 1, "s/washer.PDF", 1)])  # two sets: false
    pages = [("s/build/fin.PDF", 1), ("s/build/fin.PDF", 2), ("s/fins/fin.PDF", 1), ("s/fins/fin.PDF", 2),
             ("u/B1058-A2P-A.PDF", 1), ("u/B1058-A2P-B (1).PDF", 1), ("u/B1136-Z1P-A.PDF", 1),
             ("u/B1201-Z1P-A.PDF", 1), ("s/washer.PDF", 1)]
    real = duplicates_bench.RealPairs(result, lambda path: path.split("/")[0], pages)
    assert real.truth.tolist() == [True, True, False]
    assert dict(real.positives_of) == {"s": 2, "u": 1}  # fin sheets 1 and 2, and B1058
    assert real.touches("s").tolist() == [True, False, True]
    assert real.measure(real.touches("u"), "u") == {"true": 1, "of": 1, "other_sources": 1}


def test_the_sample_library_is_judged_by_its_own_qrels(tmp_path):
    import pytest

    from engine.config import DEFAULT_PACK_DIR, SAMPLE_LIBRARY
    from engine.extract.ocr import get_ocr_engine

    if not (DEFAULT_PACK_DIR / "manifest.json").exists() or get_ocr_engine() is None or not SAMPLE_LIBRARY.exists():
        pytest.skip("needs the default pack, OCR and the sample library")
    rule = {"share": 0.1, "points": 20, "threshold": 0.51, "max_chance": 0.0}
    got = duplicates_bench.sample_library(tmp_path, None, rule)
    assert got["true_pairs"] == 6  # six scans, a fax and photos, each of one drawing
    assert got["rule"]["true"] == 6  # each found with its drawing, by words or geometry
    assert got["as shipped"]["true"] == 6 and got["as shipped"]["groups"] >= 6
    assert set(got) == {"pages", "true_pairs", "rule", "as shipped", "no chance bar"}
