"""Duplicate drawings: telling words, pair scores and grouping (engine.search.duplicates) on
hand-made tokens; `Engine.duplicates` and `zumen duplicates` on generated drawings, a copy and a
scan of one of them."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.api import Engine
from engine.cli import main
from engine.config import DEFAULT_PACK_DIR, EngineSettings
from engine.extract.ocr import get_ocr_engine
from engine.search.duplicates import (ScoredPair, candidate_pairs, chance_of, check_geometry, duplicate_group,
                                      group_pages, readable_words, score_pairs, telling_words)
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


def test_a_groups_shared_japanese_words_are_shown_as_written():
    bigrams = ("焼入", "入れ", "れ焼", "焼戻", "戻し", "株式", "式会", "会社")
    text = "熱処理：焼入れ焼戻し　材質 S45C　株式会社ゼット"  # 熱処 is not shared: the run splits there
    words = readable_words([*bigrams, "s45c", "処理"], [text])
    assert words["焼入れ焼戻し"] == ["焼入", "入れ", "れ焼", "焼戻", "戻し"] and words["株式会社"] == ["株式", "式会", "会社"]
    assert "処理" in words and "s45c" in words and "入れ" not in words
    assert readable_words(bigrams) == {b: [b] for b in sorted(bigrams)}  # no text: the tokens as they are
    pairs = [ScoredPair(0, 1, 0.9, 0.9, tuple(sorted((*bigrams, "b1064"))))]
    page = DuplicatePage(0, "/d/0.pdf", "0", 1, "pdf", "text-layer")
    group = duplicate_group([0, 1], pairs, {0: page, 1: page}, 0.5, texts=[text])
    assert set(group.words) == {"焼入れ焼戻し", "株式会社", "b1064"}  # not eight bigrams


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


def chance_library(n: int = 300) -> list[list[str]]:
    """`n` drawings on one template: each its own part number and five dimensions drawn from a
    pool of 150 numbers (so each number is on about ten drawings), and a name word; page 0 and 1
    are a drawing and its copy, page 2 and 3 two other drawings named "washer", page 4 a third."""
    rng = np.random.default_rng(7)
    pool = [f"{v}.{d}" for v, d in zip(rng.integers(100, 999, 150), rng.integers(0, 9, 150))]
    pages = [page(f"b{1000 + i}", *rng.choice(pool, 5, replace=False), f"name{i % 100}") for i in range(n)]
    pages[1] = list(pages[0])  # a copy
    for i in (2, 3, 4):
        pages[i] = pages[i][:-1] + ["washer"]  # one name word on three drawings
    return pages


def test_the_chance_of_shared_words_weighs_how_many_and_how_rare():
    df = Counter({"washer": 3, "b1058": 2, **{f"{d}.5": 2 for d in range(10)}})
    # one word on three of 400 drawings: ~160 pairs share such a word by chance; ten words on two
    # drawings each: none
    assert chance_of(["washer"], 1, df, 400) == pytest.approx(np.log10(400 * 399 / 2 * 2 / 399))
    assert chance_of(["washer"], 1, df, 400) > 2
    assert chance_of([f"{d}.5" for d in range(10)], 12, df, 400) < -15
    # sharing a word is likelier for a page with more words to choose from
    assert chance_of(["b1058"], 20, df, 400) > chance_of(["b1058"], 1, df, 400)


def test_words_shared_by_chance_group_nothing_and_a_copy_stays_a_duplicate():
    tokens = chance_library()
    pairs = {(p.i, p.j): p for p in score_pairs(tokens, None, rare_pages=6)}
    washer = pairs[(2, 3)]
    assert washer.words == ("washer",) and washer.score == 1.0  # every telling word shared
    assert washer.chance > 2 and pairs[(0, 1)].chance < -5  # ...but as likely by chance; a copy is not
    grouped = [g for g, _ in group_pages(len(tokens), pairs.values(), 0.51, max_chance=0.0)]
    assert grouped == [[0, 1]]
    unbarred = [g for g, _ in group_pages(len(tokens), pairs.values(), 0.51)]
    assert [2, 3, 4] in unbarred  # no bar: the washers are "duplicates"
    # geometry may still confirm a pair of a scan and its drawing whose words are as likely by chance
    confirmed = check_geometry(list(pairs.values()), lambda i, j: 200, [i == 3 for i in range(len(tokens))],
                               threshold=0.51, min_share=0.1, min_points=100, max_chance=0.0)
    assert {(p.i, p.j) for p in confirmed if p.confirmed} == {(2, 3), (3, 4)}


def test_in_a_small_library_a_sheet_styles_words_are_no_evidence():
    # 30 drawings, five of them on one sheet style (its title-block words on those five alone),
    # and a scan of the first read by OCR (its part number, dimensions and notes)
    style = ["株式会社", "アルマイト", "キリ", "佐藤", "2026"]
    tokens = [[f"b{1000 + i}", f"{10 + i}.5", f"note{i}"] + (style if i < 5 else []) for i in range(30)]
    tokens.append(["b1000", "10.5", "note0", "2026"])
    pairs = {(p.i, p.j): p for p in score_pairs(tokens, None, rare_pages=6)}
    mates, scan = pairs[(1, 2)], pairs[(0, 30)]
    assert mates.score == 1.0 and scan.score == 1.0  # the style's words are telling in 31 pages...
    assert mates.chance > 0 > scan.chance  # ...but shared by every two of its drawings: no evidence
    assert [g for g, _ in group_pages(len(tokens), pairs.values(), 0.51, max_chance=0.0)] == [[0, 30]]


def test_pages_of_one_file_are_never_duplicates_of_each_other():
    sheet = ["b1058", "fillet", "8272019", "bracket"]  # the title block every sheet of the set carries
    tokens = [sheet + ["12.5"], sheet + ["40.0"], sheet + ["12.5"], ["b2210", "12.5"], ["b2210", "40.0"]]
    tokens += [[f"b{3000 + i}"] for i in range(10)]  # ten other drawings
    files = [7, 7, 8, 9, 9, *range(10, 20)]  # sheets 1 and 2 of one set, a copy of sheet 1, a two-sheet set
    pairs = score_pairs(tokens, None, rare_pages=6, files=files)
    assert {(p.i, p.j) for p in pairs} == {(0, 2), (1, 2), (0, 3), (2, 3), (1, 4)}  # not (0, 1), (3, 4)
    assert len(score_pairs(tokens, None, rare_pages=6)) == 7
    # a copy of sheet 1 that shares the title block with sheet 2 as well joins one of them
    groups = [g for g, _ in group_pages(len(tokens), pairs, 0.51, files=files)]
    assert groups == [[0, 2]]
    linked = [ScoredPair(0, 2, 1.0, 0.0, ("b1058",)), ScoredPair(1, 2, 0.9, 0.0, ("b1058",)),
              ScoredPair(0, 1, 0.9, 0.0, ("b1058",))]
    assert [g for g, _ in group_pages(3, linked, 0.51, files=[7, 7, 8])] == [[0, 2]]
    assert [g for g, _ in group_pages(3, linked, 0.51)] == [[0, 1, 2]]


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


def pairs_by_names(engine: Engine) -> dict:
    """Every pair the engine scores, by the names of its two files."""
    return {frozenset(Path(p.path).name for p in (pair.a, pair.b)): pair
            for pair in engine.duplicates(with_pairs=True).pairs}


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
        pairs = pairs_by_names(engine)
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


@needs_models
def test_the_sheets_of_one_drawing_set_are_not_duplicates_of_each_other(tmp_path):
    import pymupdf

    from tests.test_engine import write_drawing

    docs = tmp_path / "docs"
    docs.mkdir()
    sheets = pymupdf.open()
    for sheet, dims in ((1, "R12.5 40.25 M6x10"), (2, "88.40 R3.75 0.125")):
        page = sheets.new_page(width=842, height=595)
        page.draw_rect(pymupdf.Rect(20, 20, 822, 575))
        for i in range(30 + 6 * sheet):  # each sheet its own views
            page.draw_line((60 + 7 * i, 80 + 5 * i * sheet), (500 - 3 * i, 80 + 9 * i))
        for i in range(3 * sheet):
            page.draw_circle((650, 200), 30 + 12 * i)
        page.insert_text((560, 480), "PART NO. LV3-BULKHEAD-017", fontsize=12)
        page.insert_text((560, 500), "MATERIAL AL6061-T6   DRAWN 2019-08-26", fontsize=10)
        page.insert_text((560, 520), f"SHEET {sheet} OF 2   THRUST BULKHEAD", fontsize=10)
        page.insert_text((80, 120), dims, fontsize=10)
    sheets.save(docs / "bulkhead-set.pdf")
    for part_no, material, name in PARTS[:3]:
        write_drawing(docs / f"{part_no}.pdf", part_no, material, name)
    with Engine.open(tmp_path / "lib") as engine:
        engine.index([docs])
        report = engine.duplicates(with_pairs=True)
    assert report.pages == 5
    assert report.groups == () and report.pairs == ()  # the two sheets share their title block, and that is all


@needs_models
def test_the_engine_counts_words_only_beyond_the_chance_bar(library):
    docs, lib, part_nos = library
    with Engine.open(lib) as engine:
        pairs = pairs_by_names(engine)
    copy = pairs[frozenset({f"{part_nos[0]}.pdf", "copy-of-first.pdf"})]
    assert copy.chance < EngineSettings().duplicate_max_chance  # a copy: every word shared, far beyond chance
    # a bar below even the copy's: two text layers cannot be confirmed by geometry, so the copy
    # is no longer grouped with its original (the scan, confirmed by geometry, still is)
    with Engine.open(lib, settings=EngineSettings(duplicate_max_chance=copy.chance - 1)) as engine:
        groups = [{Path(p.path).name for p in g.pages} for g in engine.duplicates().groups]
    assert not any({f"{part_nos[0]}.pdf", "copy-of-first.pdf"} <= g for g in groups)
    assert any({f"{part_nos[0]}.pdf", "scan-of-first.png"} <= g or {"copy-of-first.pdf", "scan-of-first.png"} <= g
               for g in groups)
