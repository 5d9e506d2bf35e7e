"""Duplicate drawings: telling words, pair scores and grouping (engine.search.duplicates) on
hand-made tokens; `Engine.duplicates` and `zumen duplicates` on generated drawings, a copy and a
scan of one of them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.api import Engine
from engine.cli import main
from engine.config import DEFAULT_PACK_DIR, EngineSettings
from engine.extract.ocr import get_ocr_engine
from engine.search.duplicates import (ScoredPair, candidate_pairs, check_geometry, duplicate_group,
                                      group_pages, score_pairs, telling_words)
from engine.types import DuplicatePage

TEMPLATE = ["drawn", "checked", "scale", "material", "株式会社"]


def page(*words: str) -> list[str]:
    return TEMPLATE + list(words)


def test_telling_words_are_on_few_pages_and_long_enough():
    tokens = [page("b1064", "a2p", "12.5", "m3"), page("b1064", "a2p", "12.5", "m3"),
              page("b2210", "plate", "a5052", "m3"), page("b3300", "shaft", "s45c", "m3"),
              page("b4400", "uitimaker", "図面", "m3")]
    words = telling_words(tokens, rare_pages=8)
    # template words are on every page, "m3" is too short, "uitimaker" (a misreading) is on one
    assert words[0] == {"b1064", "a2p", "12.5"}
    assert words[2] == words[3] == words[4] == frozenset()
    assert candidate_pairs(words) == {(0, 1)}
    small = telling_words([["scale", "b12"], ["scale", "b13"], ["scale", "b14"], ["scale"]], rare_pages=8)
    assert small == [frozenset()] * 4  # a tiny library: a word on every page is no telling word


def test_scores_are_the_shared_share_of_the_page_with_fewer_telling_words():
    base = ["b1064", "a2p", "12.5", "r3.2", "bracket", "0.05"]
    photo = ["b1064", "12.5", "bracket", "b1o64"]  # OCR read a few words, one of them wrong
    tokens = [base, base + ["rev-b"], photo, ["b2210", "plate", "bracket"], ["b2210", "plate"],
              ["rev-b", "b1o64"], ["a5052"], ["s45c"]]
    vectors = np.eye(8, 4, dtype=np.float32)
    scored = {(p.i, p.j): p for p in score_pairs(tokens, vectors, rare_pages=3)}
    assert scored[0, 1].score == 1.0 and scored[0, 1].words == ("0.05", "12.5", "a2p", "b1064", "r3.2")
    assert scored[0, 2].score == pytest.approx(2 / 3)  # the photo's misreading is on 2 pages: it counts
    assert (0, 3) not in scored  # "bracket" is on 4 pages: not telling, so never compared
    assert scored[3, 4].score == 1.0 and scored[0, 1].looks == 0.0  # (orthogonal test vectors)
    assert score_pairs(tokens, None, rare_pages=3)[0].looks == 0.0  # no pictures: looks 0


def test_groups_join_by_average_linkage_and_show_their_shared_words():
    pairs = [ScoredPair(0, 1, 0.9, 0.95, ("b1064", "a2p")), ScoredPair(1, 2, 0.8, 0.91, ("b1064",)),
             ScoredPair(0, 2, 0.7, 0.9, ("b1064",)), ScoredPair(3, 4, 0.1, 0.99, ("scale",)),
             ScoredPair(4, 5, 0.95, 0.97, ("b2210",)), ScoredPair(2, 5, 0.6, 0.8, ("bracket",))]
    groups = group_pages(6, pairs, 0.5)
    # 2-5 clears the bar alone, but {0, 1, 2} and {4, 5} share it only: their mean stays low
    assert sorted(g for g, _ in groups) == [[0, 1, 2], [4, 5]]
    pages = {i: DuplicatePage(i, f"/d/{i}.{'png' if i == 0 else 'pdf'}", str(i), 1,
                              "image" if i == 0 else "pdf", "ocr" if i == 0 else "text-layer") for i in range(6)}
    members, links = next(gl for gl in groups if 0 in gl[0])
    group = duplicate_group(members, links, pages, 0.5)
    assert [p.path for p in group.pages] == ["/d/1.pdf", "/d/2.pdf", "/d/0.png"]  # text layer first
    assert group.score == pytest.approx(0.8) and group.looks == 0.95 and group.words == ("b1064", "a2p")
    assert group.points == 0  # words alone


def test_geometry_confirms_pairs_whose_words_agree_in_part():
    # 0-1 (a drawing and its copy) clear the bar by words; a photo of it (2) OCR read poorly and a
    # family-mate (3-4) share a third of their words, 0-5 a tenth; the photo and the stranger
    # line up, the mate not enough
    pairs = [ScoredPair(0, 1, 0.9, 0.9, ("b1064",)), ScoredPair(0, 2, 0.34, 0.8, ("b1064",)),
             ScoredPair(1, 2, 0.3, 0.8, ("b1064",)), ScoredPair(3, 4, 0.34, 0.9, ("m6",)),
             ScoredPair(0, 5, 0.1, 0.7, ("12.5",))]
    lined_up = {(0, 1): 300, (0, 2): 140, (1, 2): 130, (3, 4): 60, (0, 5): 400}
    asked: list[tuple[int, int]] = []

    def points_of(i: int, j: int) -> int:
        asked.append((i, j))
        return lined_up[i, j]

    read_by_ocr = [False, False, True, True, False, True]  # 2 is a photo, 3 and 5 scans
    checked = check_geometry(pairs, points_of, read_by_ocr, threshold=0.5, min_share=0.2, min_points=100)
    # only a picture and a text layer below the bar whose words agree in part
    assert asked == [(0, 2), (1, 2), (3, 4)]
    assert [(p.points, p.confirmed) for p in checked] == [(0, False), (140, True), (130, True), (60, False),
                                                          (0, False)]
    assert checked[1].strength(0.5) == 0.5 and checked[3].strength(0.5) == 0.34
    groups = group_pages(6, checked, 0.5)
    assert [g for g, _ in groups] == [[0, 1, 2]]
    group = duplicate_group(*groups[0], {i: DuplicatePage(i, f"/d/{i}.pdf", str(i), 1, "pdf", "text-layer")
                                         for i in range(3)}, 0.5)
    assert group.points == 140 and group.score == pytest.approx((0.9 + 0.5 + 0.5) / 3)
    every = check_geometry(pairs, lambda i, j: lined_up[i, j], read_by_ocr, threshold=0.5, min_share=0.2,
                           min_points=100, every=True)  # benchmarks: every pair's points, the same decisions
    assert [p.points for p in every] == [300, 140, 130, 60, 400]
    assert [p.confirmed for p in every] == [False, True, True, False, False]
    assert check_geometry(pairs, points_of, read_by_ocr, threshold=0.5, min_share=0.2, min_points=0) == pairs
    two_scans = check_geometry(pairs, points_of, [False, False, True, True, True, True], threshold=0.5,
                               min_share=0.2, min_points=100)
    assert not two_scans[3].confirmed and two_scans[3].points == 0  # two pictures: not checked


# -- end to end: generated drawings, a copy and a scan ------------------------------------------
needs_models = pytest.mark.skipif(not (DEFAULT_PACK_DIR / "manifest.json").exists() or get_ocr_engine() is None,
                                  reason="needs the default pack and OCR")


PARTS = [("ZM-1258-B2P", "S45C", "MAIN SHAFT"), ("A-20431-03", "SS400", "FLANGE"),
         ("KT-5520-11", "A5052", "COVER PLATE"), ("B-7741-02", "SUS304", "HINGE PIN"),
         ("C-3090-77", "SCM435", "GEAR BLANK"), ("D-1188-40", "C3604", "BUSHING"),
         ("E-6612-09", "FC250", "BEARING BLOCK"), ("F-2024-31", "SPCC", "L BRACKET"),
         ("G-4417-58", "POM", "ROLLER"), ("H-9301-26", "SK105", "CUTTER ARM")]


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> tuple[Path, Path, list[str]]:
    """Ten drawings on one sheet template (its words are on every drawing, so they tell
    nothing), a copy of the first and a scan of it (read by OCR)."""
    import pymupdf

    from engine.synth.degrade import degrade
    from tests.test_engine import write_drawing

    tmp = tmp_path_factory.mktemp("dups")
    docs = tmp / "docs"
    docs.mkdir()
    for i, (part_no, material, name) in enumerate(PARTS):
        write_drawing(docs / f"{part_no}.pdf", part_no, material, name, lines=3 + i)
    shutil.copy(docs / f"{PARTS[0][0]}.pdf", docs / "copy-of-first.pdf")
    pix = pymupdf.open(docs / f"{PARTS[0][0]}.pdf")[0].get_pixmap(dpi=150, colorspace=pymupdf.csGRAY)
    picture = Image.frombytes("L", (pix.width, pix.height), pix.samples)
    degrade(picture, np.random.default_rng(0), "scan").save(docs / "scan-of-first.png")
    lib = tmp / "lib"
    with Engine.open(lib) as engine:
        engine.index([docs])
    return docs, lib, [p for p, _, _ in PARTS]


@needs_models
def test_two_copies_and_a_scan_are_one_group_and_other_drawings_none(library):
    docs, lib, part_nos = library
    with Engine.open(lib) as engine:
        report = engine.duplicates()
    assert report.pages == 12 and len(report.groups) == 1
    group = report.groups[0]
    assert {Path(p.path).name for p in group.pages} == {f"{part_nos[0]}.pdf", "copy-of-first.pdf",
                                                        "scan-of-first.png"}
    assert group.pages[-1].source == "ocr" and group.pages[-1].format == "image"  # the scan last
    assert group.score >= report.threshold and "zm1258b2p" in group.words  # the part number


@needs_models
def test_zumen_duplicates_prints_groups_and_json(library, capsys):
    docs, lib, part_nos = library
    assert main(["duplicates", "--library", str(lib)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1 group of near-identical drawings among 12 drawing pages")
    assert "copy-of-first.pdf   [pdf, text layer]" in out and "scan-of-first.png   [image, ocr]" in out
    assert main(["duplicates", "--library", str(lib), "--json", "--threshold", "1.01"]) == 2  # not a share
    capsys.readouterr()
    assert main(["duplicates", "--library", str(lib), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["pages"] == 12 and len(data["groups"]) == 1 and data["pairs"] == []
    assert set(data["groups"][0]) == {"pages", "score", "looks", "words", "points"}


@needs_models
def test_a_scan_below_the_bar_by_words_is_confirmed_by_its_geometry(library):
    docs, lib, part_nos = library
    with Engine.open(lib) as engine:
        pairs = {frozenset(Path(p.path).name for p in (pair.a, pair.b)): pair
                 for pair in engine.duplicates(with_pairs=True).pairs}
        scan = pairs[frozenset({f"{part_nos[0]}.pdf", "scan-of-first.png"})]
        assert scan.points >= 100  # the scan lines up with its drawing
        strangers = [p for names, p in pairs.items() if "scan-of-first.png" not in names
                     and "copy-of-first.pdf" not in names and f"{part_nos[0]}.pdf" not in names]
        assert all(p.points < 100 for p in strangers)
        # a bar its words do not clear: geometry keeps the scan in its drawing's group
        bar = min(1.0, scan.score + 0.05)
        assert engine.settings.duplicate_check_share <= scan.score
        report = engine.duplicates(threshold=bar)
        names = {Path(p.path).name for p in report.groups[0].pages}
        assert "scan-of-first.png" in names and report.groups[0].points >= 100
    with Engine.open(lib, settings=EngineSettings(duplicate_check_points=0)) as engine:
        report = engine.duplicates(threshold=bar)  # no check: the scan drops out
        assert all("scan-of-first.png" not in {Path(p.path).name for p in g.pages} for g in report.groups)
