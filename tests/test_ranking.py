"""Query-by-document ranking: BM25 and TF-IDF evidence weighted by rarity (docrank.py), links from
the drawing found in the library, calibrated confidence and honest "no match"."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pymupdf
import pytest

from engine.analyze import ANALYZER_VERSION, lexical_tokens
from engine.api import Engine
from engine.search.docrank import (Bm25Params, bm25, file_stem_token, idf, misread_codes, one_slip_away,
                                   query_weights)
from engine.search.explain import respelled
from engine.store.catalog import _MIGRATIONS, SCHEMA_VERSION, Catalog
from tests.fakes import FakeImageEncoder, FakeTextEncoder
from tests.test_engine import write_drawing


def test_bm25_is_the_share_of_the_query_weight_a_unit_holds():
    weights = {"a": 3.0, "b": 1.0}
    tf = {"all": {"a": 1, "b": 1}, "rare": {"a": 1}, "common": {"b": 1}}
    lengths = {"all": 10, "rare": 10, "common": 10}
    s = bm25(tf, weights, lengths, avg_length=10, k1=1.2, b=0.75)
    assert s["all"] == pytest.approx(1.0)  # every token once, average length
    assert s["rare"] == pytest.approx(0.75) and s["common"] == pytest.approx(0.25)
    longer = bm25({"x": {"a": 1}}, weights, {"x": 40}, avg_length=10, k1=1.2, b=0.75)
    assert longer["x"] < s["rare"]  # length normalisation
    flat = bm25({"x": {"a": 1}}, weights, {"x": 40}, avg_length=10, k1=1.2, b=0.0)
    assert flat["x"] == pytest.approx(s["rare"])  # b = 0: no length normalisation


def test_query_weights_follow_rarity_and_drop_unknown_and_common_tokens():
    df = {"1258b2p": 2, "1258": 2, "b2p": 2, "asme": 400, "spindle": 30}
    w = query_weights(lexical_tokens("ASME spindle 1258-B2P qqqzzz spindle"), df, n_chunks=1000,
                      params=Bm25Params())
    assert "qqqzzz" not in w  # occurs nowhere in the library (OCR noise)
    assert "asme" not in w  # on 40 % of the chunks: no evidence, a long posting list
    assert w["1258b2p"] > w["spindle"] / (1 + math.log(2)) > 0  # rare beats common
    assert w["spindle"] == pytest.approx(idf(30, 1000) * (1 + math.log(2)))  # said twice


def test_a_code_misread_by_one_character_is_the_one_library_code_that_near_it():
    library = {"jxs0103": 3, "jxs0104": 2, "b1002a2pa": 4, "b1003a2pa": 1, "xs": 9}
    lookup = lambda tokens: {t: library.get(t, 0) for t in tokens}  # noqa: E731
    assert {"jxs0103", "s0103", "xs0203", "xs01035"} <= one_slip_away("xs0103")
    assert "xs0103" not in one_slip_away("xs0103") and "xs01" not in one_slip_away("xs0103")
    fixed = misread_codes(["xs0103", "b100za2pa", "b1o02a2pa", "zz9999", "s0103", "xs0103"],
                          {"b1002a2pa": 4}, lookup)
    assert fixed == {"xs0103": ("jxs0103", 3),  # a letter dropped at the border
                     "b1o02a2pa": ("b1002a2pa", 4)}  # O read for 0
    # b100za2pa: B1002 and B1003 are both one slip away (ambiguous); zz9999: nothing near;
    # s0103: too short to tell a slip from another code
    assert misread_codes(["b1002a2pa", "coolant"], {"b1002a2pa": 4}, lookup) == {}  # known or no code
    # the reason shown: the word as read, with the one edit
    assert respelled("xs-01-03", "xs0103", "jxs0103") == "jxs-01-03"
    assert respelled("b1o02-a2p-a", "b1o02a2pa", "b1002a2pa") == "b1002-a2p-a"
    assert respelled("xs-01-035", "xs01035", "xs0103") == "xs-01-03"
    assert respelled("ab12", "ab12", "ab123") == "ab123" and respelled("other", "ab12", "ab123") == "ab123"


def test_a_drawing_number_misread_by_ocr_still_finds_its_parts_list_row(tmp_path):
    """OCR reads B1O02-A2P-A for B1002-A2P-A: the code the library holds one character away
    (and no other) counts, so the row of B1002 comes first, not the list's first row."""
    docs, elsewhere = tmp_path / "docs", tmp_path / "query"
    docs.mkdir()
    elsewhere.mkdir()
    (docs / "parts.csv").write_text("part,name,finish\n" + "".join(
        f"B{n}-A2P-A,machined part,anodised\n" for n in (1000, 1001, 1002, 1004)), encoding="utf-8")
    write_drawing(elsewhere / "read.pdf", "B1O02-A2P-A", "A6061", "MACHINED PART")
    with Engine.open(tmp_path / "lib", text_encoder=FakeTextEncoder(), image_encoder=None, ocr=None) as engine:
        engine.index([docs])
        res = engine.search_file(elsewhere / "read.pdf")
        hit = res.related.hits[0]
        assert hit.path.endswith("parts.csv") and "B1002-A2P-A" in engine.page_text(hit.path, hit.page)
        assert "b1002-a2p-a" in hit.explanation.shared_terms  # the reason: the code as the library spells it
        # what was read is what the sheet gave; leaving the misread word out leaves its correction out
        assert "b1o02-a2p-a" in res.read_terms and not any("1002" in t for t in res.read_terms)
        left_out = engine.search_file(elsewhere / "read.pdf", drop_terms=["B1O02-A2P-A"]).related.hits
        assert not any("b1002-a2p-a" in h.explanation.shared_terms for h in left_out)


def test_file_stem_tokens():
    # a document linking `cad/fw_13_5_inch_display.pdf` holds the token of the drawing's stem
    stem = file_stem_token("/lib/Display/fw_13_5_inch_display.pdf")
    assert stem == "fw135inchdisplay"
    assert stem in lexical_tokens("see [the drawing](cad/fw_13_5_inch_display.pdf)")
    assert file_stem_token(r"C:\\lib\\bulkheadBracket.PDF") in lexical_tokens("structure/bulkheadBracket.PDF")


def test_catalog_migrates_version_1_and_retokenises(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(_MIGRATIONS[1])
    db.execute("INSERT INTO meta VALUES('schema_version', '1')")
    db.execute("INSERT INTO documents VALUES(1, '/lib/README.md', 1, 1, 'x', 'markdown', 'document',"
               " 'Display', 1, 'now')")
    db.execute("INSERT INTO pages VALUES(1, 1, 1, 0, 0, 'plain', 0, 0, 'see fw_13_5_inch_display.pdf', '[]')")
    db.execute("INSERT INTO chunks VALUES(1, 1, 1, 0, 'see fw_13_5_inch_display.pdf', 0, 2)")
    db.execute("INSERT INTO chunk_fts(rowid, tokens) VALUES(1, 'see fw135inchdisplaypdf')")  # old analyser
    db.commit()
    db.close()
    cat = Catalog(path)
    assert cat.get_meta("schema_version") == str(SCHEMA_VERSION)
    assert cat.get_meta("analyzer_version") == str(ANALYZER_VERSION)
    assert cat.pages_holding_token("fw135inchdisplay") == {1: {1}}  # the new token is there
    table = cat.page_table()
    assert table.doc.tolist() == [1] and table.length.tolist() == [len(lexical_tokens("Display see fw_13_5_inch_display.pdf"))]
    assert [d.path for d in cat.documents_in_folder("/lib/", "/")] == ["/lib/README.md"]
    assert cat.documents_in_folder("/", "/") == []  # not directly in the parent folder


SPINDLE_SPEC = """# Spindle housing SH-4410 feature and specification index
Bore 42H7 for the front bearing, coolant gallery drilled 6 mm, bracket boss with M8 tapped holes.
Datum A is the bore axis; datum B the mounting face. Flatness 0.02 on the mounting face.
Keyway 12P9 on the drive end, retaining ring groove, labyrinth seal lip, grease nipple port.
""" + "\n".join(f"Feature {i}: inspection of surface {i} per drawing note." for i in range(40))


def _generic(i: int) -> str:
    return f"Procedure {i}: dimensions and tolerances per ASME Y14.5M-1994. Deburr all edges."


@pytest.fixture
def library(tmp_path: Path):
    docs = tmp_path / "docs"
    (docs / "SH-4410").mkdir(parents=True)
    (docs / "common").mkdir()
    (docs / "SH-4410" / "index.md").write_text(SPINDLE_SPEC, encoding="utf-8")
    (docs / "SH-4410" / "README.md").write_text("Parts of this folder.", encoding="utf-8")
    for i in range(6):
        (docs / "common" / f"procedure_{i}.md").write_text(_generic(i), encoding="utf-8")
    (docs / "common" / "profiles.csv").write_text(
        "part,name,size\nAX-100-profile1,Extrusion profile 40x40,40x40\n"
        "AX-100-profile2,Extrusion profile 40x80,40x80\n", encoding="utf-8")
    write_drawing(docs / "SH-4410" / "SH-4410.pdf", "SH-4410", "ASME Y14.5M-1994",
                  "SPINDLE HOUSING BORE 42H7 COOLANT GALLERY BRACKET BOSS KEYWAY 12P9")
    write_drawing(docs / "common" / "profile2.pdf", "AX-100-profile2", "6063-T5", "PROFILE 40x80")
    (docs / "others").mkdir()
    for i, name in enumerate(("COVER PLATE", "HINGE PIN", "WASHER")):
        write_drawing(docs / "others" / f"O-{i}.pdf", f"OT-{700 + i}", "SS400", name)
    engine = Engine.open(tmp_path / "lib", text_encoder=FakeTextEncoder(), image_encoder=None, ocr=None)
    engine.index([docs])
    yield engine, docs
    engine.close()


def test_rare_shared_words_beat_a_standard_every_document_cites(library):
    engine, docs = library
    res = engine.search_file(docs / "SH-4410" / "SH-4410.pdf").related
    assert res.hits[0].path.endswith("index.md")
    # the six procedures share only the standard every document cites: far weaker evidence
    top = res.hits[0].scores
    procedures = [h.scores for h in res.hits if "procedure" in h.path]
    assert len(procedures) == 6
    assert all(top.cosine_page > 1.5 * p.cosine_page for p in procedures)
    assert all(p.confidence < top.confidence / 2 for p in procedures)


def test_near_duplicate_records_are_told_apart_by_their_distinguishing_tokens(library):
    engine, docs = library
    res = engine.search_file(docs / "common" / "profile2.pdf").related
    assert res.hits[0].path.endswith("profiles.csv") and res.hits[0].page == 2  # the profile2 row


def test_documents_beside_the_drawing_carry_link_evidence(library):
    engine, docs = library
    res = engine.search_file(docs / "SH-4410" / "SH-4410.pdf", limit=50).related
    readme = next(h for h in res.hits if h.path.endswith("README.md"))
    # in the drawing's folder, one of its two documents
    assert readme.scores.link_folder == pytest.approx(1 / math.sqrt(2))
    assert all(h.scores.link_folder == 0 for h in res.hits if "common" in h.path)
    # the reason shown: beside the library's drawing (here the query's own file)
    why = readme.explanation
    assert (why.beside_drawing, why.folders_up, why.names_drawing) == (str(docs / "SH-4410" / "SH-4410.pdf"), 0, "")
    assert why.summary.startswith("beside SH-4410.pdf")
    assert all(not h.explanation.beside_drawing for h in res.hits if "common" in h.path)


def test_a_parts_list_is_linked_at_the_row_that_names_the_drawing(tmp_path):
    """A parts list names every drawing of an assembly, one row each: a drawing found in the
    library links the list at its own row, not at whichever row its words happen to favour."""
    docs = tmp_path / "docs"
    docs.mkdir()
    names = ("bracket_A100", "bracket_A200", "bracket_A300")
    for i, name in enumerate(names):
        write_drawing(docs / f"{name}.pdf", f"BK-{500 + i}", "SPCC", "SHEET METAL BRACKET")
    (docs / "assembly.csv").write_text(
        "drawing,qty,finish\n" + "".join(f"{n}.pdf,{q},zinc plated\n" for n, q in zip(names, (2, 4, 1))),
        encoding="utf-8")
    with Engine.open(tmp_path / "lib", text_encoder=FakeTextEncoder(), image_encoder=None, ocr=None) as engine:
        engine.index([docs])
        for name in names:
            hit = engine.search_file(docs / f"{name}.pdf").related.hits[0]
            assert hit.path.endswith("assembly.csv") and hit.scores.link_name == 1.0
            assert name in engine.page_text(hit.path, hit.page)
            assert hit.explanation.names_drawing == str(docs / f"{name}.pdf")
            assert f"names {name}.pdf" in hit.explanation.summary


def test_a_row_naming_a_second_copy_of_the_drawing_says_so(tmp_path):
    """The reason shown names the drawing the listed row names, not the strongest drawing that
    any row of the document names: rows of one parts list name different drawings."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("BK-500", "BK-500-copy"):  # the query's own file and a copy of it
        write_drawing(docs / f"{name}.pdf", "BK-500", "SPCC", "SHEET METAL BRACKET HOLE 4X M6 FLANGE 25")
    (docs / "assembly.csv").write_text("drawing,qty,note\nBK-500.pdf,2,\n"
                                       "BK-500-copy.pdf,4,sheet metal bracket hole flange SPCC\n", encoding="utf-8")
    with Engine.open(tmp_path / "lib", text_encoder=FakeTextEncoder(), image_encoder=None, ocr=None) as engine:
        engine.index([docs])
        hit = engine.search_file(docs / "BK-500.pdf").related.hits[0]
        assert hit.path.endswith("assembly.csv") and hit.page == 2 and hit.scores.link_name > 0
        assert hit.explanation.names_drawing == str(docs / "BK-500-copy.pdf")
        assert hit.explanation.summary.startswith("names BK-500-copy.pdf")


def test_keywords_found_nowhere_say_so(library):
    engine, _ = library
    res = engine.search("qqqzzzxxx ZX-0000-QQ")
    assert res.no_match and not res.hits and res.note
    found = engine.search("coolant gallery")
    assert not found.no_match and found.hits[0].scores.confidence == pytest.approx(1.0)


def test_a_typed_code_also_finds_the_documents_that_cite_its_number(tmp_path):
    """A parts list cites drawing B1002-A2P-A as "part number 1002": typed, the code finds its
    drawing first (all of it) and the list's line next (part of it, half the confidence, the number
    highlighted); a two-digit number ("01" of JX-01-03) is on every page and finds nothing."""
    docs = tmp_path / "docs"
    (docs / "bom").mkdir(parents=True)
    write_drawing(docs / "B1002-A2P-A.pdf", "B1002-A2P-A", "A5052", "FRONT PANEL")
    (docs / "bom" / "line_1.txt").write_text("Front cover, part number 1002, qty 1, anodised.", encoding="utf-8")
    (docs / "bom" / "line_2.txt").write_text("Side cover, part number 1003, qty 2, anodised.", encoding="utf-8")
    (docs / "sheets.txt").write_text("Sheet 01 of 03, revision list of the covers.", encoding="utf-8")
    with Engine.open(tmp_path / "lib", text_encoder=FakeTextEncoder(), image_encoder=None, ocr=None) as engine:
        engine.index([docs])
        words = engine.search("B1002-A2P-A", evidence=["lexical"]).hits
        assert [Path(h.path).name for h in words] == ["B1002-A2P-A.pdf", "line_1.txt"]
        assert words[0].scores.confidence == 1.0 and words[1].scores.confidence == 0.5
        snippet = words[1].snippet
        assert words[1].explanation.shared_terms == ("1002",)
        assert [snippet.text[a:b] for a, b in snippet.marks] == ["1002"]
        both = engine.search("B1002-A2P-A")  # a query of codes: meaning counts on its absolute scale
        assert not both.no_match and [Path(h.path).name for h in both.hits][:2] == ["B1002-A2P-A.pdf", "line_1.txt"]
        # a code the library holds nowhere keeps its "no match", though its number is cited
        other = engine.search("ZX-1002-QQ")
        assert other.no_match and all(h.scores.lexical == 0 for h in other.hits)
        assert all(h.scores.lexical == 0 for h in engine.search("JX-01-03").hits)
        # typed with spaces, a code's pieces held apart are part of it, said so
        apart = engine.search("PART 1002 QTY")
        assert not apart.no_match  # three words, each held whole
        spaced = engine.search("B1002 A2P A", evidence=["lexical"])
        assert [Path(h.path).name for h in spaced.hits][:2] == ["B1002-A2P-A.pdf", "line_1.txt"]


def test_a_drawing_unrelated_to_the_library_has_no_match(library, tmp_path):
    engine, _ = library
    alien = tmp_path / "alien.pdf"
    write_drawing(alien, "QW-7781-ZZ", "TITANIUM", "GEARBOX COVER VENTILATION SLOT")
    res = engine.search_file(alien)
    assert res.related.no_match and not res.related.hits and res.related.note
    matched = engine.search_file(Path(engine.folders()[0]) / "SH-4410" / "SH-4410.pdf").related
    assert not matched.no_match and 0.5 <= matched.hits[0].scores.confidence <= 1.0


def test_adapt_fits_the_ranking_to_a_sites_pairs(tmp_path):
    """A site whose process sheets match their drawings only by their sizes (evidence the shipped
    weights hardly count), while one catalog lists every part number: the fitted ranking uses the
    sizes, is cross-validated, kept for the active pack, and the final ranking improves."""
    docs = tmp_path / "docs"
    (docs / "drawings").mkdir(parents=True)
    (docs / "sheets").mkdir()
    rows = ["query,relevant"]
    catalog = ["Parts catalog, bracket family:"]
    for i in range(9):
        sizes = f"{12 + i}.5 R{3 + i} {40 + 7 * i}.25 {101 + 13 * i}"
        write_drawing(docs / "drawings" / f"P{i}.pdf", f"QX-{500 + i}", "STEEL", f"BRACKET {sizes}")
        (docs / "sheets" / f"sheet_{i}.txt").write_text(f"Process sheet. Check {sizes}.", encoding="utf-8")
        catalog.append(f"QX-{500 + i} bracket steel")
        rows.append(f"drawings/P{i}.pdf,sheets/sheet_{i}.txt")
    (docs / "sheets" / "catalog.txt").write_text("\n".join(catalog), encoding="utf-8")
    (docs / "pairs.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    with Engine.open(tmp_path / "lib", text_encoder=FakeTextEncoder(), image_encoder=None, ocr=None) as engine:
        engine.index([docs])
        shipped = engine.ranking_weights().dimensions
        assert shipped < 0.01  # sizes hardly count on the development sets
        first = engine.search_file(docs / "drawings" / "P4.pdf").related.hits[0]
        assert not first.path.endswith("sheet_4.txt")
        report = engine.fit_ranking(docs / "pairs.csv")
        assert report["queries"] == 9 and report["kept"], report
        assert report["after"]["map"] >= report["before"]["map"] + 0.01
        fitted = engine.ranking_weights().dimensions
        assert fitted > 10 * shipped + 0.01, fitted
        assert engine.search_file(docs / "drawings" / "P4.pdf").related.hits[0].path.endswith("sheet_4.txt")
    with Engine.open(tmp_path / "lib", text_encoder=FakeTextEncoder(), image_encoder=None, ocr=None) as engine:
        assert engine.ranking_weights().dimensions == fitted  # kept in the library, for this pack


def test_fit_ranking_says_why_when_there_is_too_little_to_learn_from(library):
    engine, docs = library
    pairs = docs / "pairs.csv"
    pairs.write_text("query,relevant\nSH-4410/SH-4410.pdf,SH-4410/index.md\n", encoding="utf-8")
    report = engine.fit_ranking(pairs)
    assert report == {"queries": 1, "kept": False,
                      "why": "needs at least 6 drawing queries with a document in the library"}


def test_a_picture_with_nothing_the_library_knows_has_no_match(library, tmp_path):
    from PIL import Image

    engine, _ = library
    photo = tmp_path / "street.png"
    Image.new("RGB", (640, 480), (120, 160, 200)).save(photo)  # no words, no drawing
    res = engine.search_file(photo)
    assert res.related.no_match and not res.related.hits
    weak = engine.search_file(photo, show_weak=True).related
    assert weak.no_match and all(h.scores.confidence == 0 for h in weak.hits)


def test_the_ranking_gate_needs_a_gain_on_every_fold():
    from engine.evaluate.ranking_fit import gate

    assert gate(0.60, 0.70, [(0.5, 0.6), (0.7, 0.8)]) == ""
    assert "less than 0.01 better" in gate(0.60, 0.605, [(0.5, 0.6), (0.7, 0.61)])
    assert "worse on 1 of 2 folds" in gate(0.60, 0.70, [(0.3, 0.6), (0.9, 0.8)])  # pooled gain, one loss


def test_fitted_weights_keep_every_feature_the_training_data_cannot_tell_apart():
    """Where a page's cosine and its document's rank the training queries equally well (one-page
    documents), the fit keeps both (the average of the grid points within one standard error of
    the best), not whichever won by a hair: an unseen source with long documents needs the page's.
    A feature that misleads (the name link here) gets no weight."""
    from engine.search.fitting import JudgedQueries, fit_weights

    hits, relevant = [], []
    for i in range(12):
        misleading = 0.9 if i % 2 else 0.0
        hits.append([{"cosine_page": 0.5, "cosine_doc": 0.5, "link_name": 0.0},
                     {"cosine_page": 0.2, "cosine_doc": 0.2, "link_name": misleading}])
        relevant.append([True, False])
    groups = [JudgedQueries.from_hits(hits[:6], relevant[:6]), JudgedQueries.from_hits(hits[6:], relevant[6:])]
    grid = {"cosine_page": (0.0, 1.0), "cosine_doc": (0.0, 1.0), "link_name": (0.0, 1.0)}
    w = fit_weights(groups, grid)
    assert w.cosine_page == pytest.approx(w.cosine_doc) and w.cosine_page > 0.3 and w.link_name == 0.0
    single = fit_weights(groups, grid, rule="best")
    assert (single.cosine_page > 0) != (single.cosine_doc > 0)  # the single best point: one of them


def test_the_library_links_are_fitted_as_one_weight_for_the_defaults_and_apart_for_a_site():
    """Sources file their documents in different ways: here every training query is linked to its
    document by folder only, and the file-name link never fires. A fit of the two links apart
    learns nothing about the file name (whatever it gives it is the grid's chance); tied
    (fitting.TIES), a site that names its drawings' files in a parts list gets the same weight
    for that link. A site's own fit (ranking_fit.SITE_GRID) keeps them apart: its pairs show
    which way it files, and a link that misleads there gets no weight."""
    from engine.evaluate.ranking_fit import SITE_GRID, SITE_RULE
    from engine.search.fitting import GRID, JudgedQueries, fit_weights, grid_points

    hits = [[{"lexical": 0.10, "link_folder": 1.0}, {"lexical": 0.12}]] * 6
    groups = [JudgedQueries.from_hits(hits, [[True, False]] * 6)] * 2
    w = fit_weights(groups)
    assert w.link_name == pytest.approx(w.link_folder) and w.link_folder > 0.1
    assert all(p[-1] == p[-2] for p in grid_points(GRID))  # link_name, link_folder (FEATURES' order)
    with pytest.raises(ValueError, match="not a feature or a tie"):
        grid_points({"links": (0.0, 1.0)})
    # a site whose folder link points at the wrong document and whose parts list names the right one
    site = [[{"lexical": 0.10, "link_name": 1.0}, {"lexical": 0.12, "link_folder": 1.0}]] * 6
    fitted = fit_weights([JudgedQueries.from_hits(site, [[True, False]] * 6)], SITE_GRID, rule=SITE_RULE)
    assert fitted.link_name > 0 and fitted.link_folder == 0.0


def test_fitting_lists_documents_found_by_looks_alone_as_the_engine_does_not_at_all():
    """The fit's hits come from `show_weak` searches, which list every candidate; the documents
    list of the app drops a page that only looks like the drawing (or is only close in meaning).
    A fit that ranked such pages would learn from, and report, a list nobody sees; similar
    drawings, however, may be found by looks alone."""
    from engine.search.fitting import JudgedQueries, as_vector, fit_weights
    from engine.config import FileWeights

    hits = [[{"visual": 0.9}, {"lexical": 0.05, "visual": 0.1}]] * 4
    relevant = [[False, True]] * 4
    weights = as_vector(FileWeights(lexical_page=0.1, visual=1.0, **{
        f: 0.0 for f in ("lexical_doc", "cosine_page", "cosine_doc", "dimensions", "semantic",
                         "link_name", "link_folder")}))
    documents = JudgedQueries.from_hits(hits, relevant)
    drawings = JudgedQueries.from_hits(hits, relevant, by_likeness=True)
    assert documents.mrr(weights) == 1.0, "the looks-only page is not listed above the one with words"
    assert drawings.mrr(weights) == 0.5
    assert documents.listed(weights).tolist() == [[False, True]] * 4
    # and the fit keeps looks for similar drawings where they decide, which a documents list cannot
    grid = {"lexical_page": (0.0, 1.0), "visual": (0.0, 1.0)}
    flipped = JudgedQueries.from_hits(hits, [[True, False]] * 4, by_likeness=True)
    assert fit_weights([flipped], grid).visual > 0


def _labelled_drawing(path: Path, labels: list[str]) -> None:
    """A drawing sheet (outlines and arcs) whose text is short labels in columns."""
    doc = pymupdf.open()
    page = doc.new_page(width=842, height=595)
    page.draw_rect(pymupdf.Rect(20, 20, 822, 575))
    for i in range(36):
        page.draw_line((60 + 7 * i, 80 + 5 * i), (500 - 3 * i, 80 + 9 * i))
    for i in range(6):
        page.draw_circle((650, 200), 40 + 10 * i)
    for i, label in enumerate(labels):
        page.insert_text((30 + 130 * (i // 45), 40 + 11 * (i % 45)), label, fontsize=7)
    doc.save(path)


def test_a_drawing_holding_a_few_rare_words_of_a_poor_reading_is_not_its_twin(tmp_path):
    """A photo read poorly keeps mostly the words of its sheet template and a few others. A long
    vendor datasheet sharing those few rare words is not the sheet the photo shows: the query
    reproduces a far larger part of each template drawing's words than of the datasheet's, so no
    documents are linked through the datasheet's folder."""
    docs = tmp_path / "docs"
    (docs / "arm").mkdir(parents=True)
    (docs / "vendor").mkdir()
    template = [f"tmpl{w} note{w}" for w in range(24)]  # the site's title block and notes
    for i in range(12):  # the template is on every drawing like the query's
        _labelled_drawing(docs / "arm" / f"arm_{i:02}.pdf", template + [f"ARM-{i:02}-PART", f"bracket{i} plate{i}"])
    (docs / "arm" / "bom.csv").write_text(
        "drawing,qty\n" + "".join(f"arm_{i:02}.pdf,{i + 1}\n" for i in range(12)), encoding="utf-8")
    rare = ["springforce", "contactpin", "plating"]
    _labelled_drawing(docs / "vendor" / "datasheet.pdf",
                      [f"spec{w} value{w}" for w in range(150)] + [" ".join(rare)])
    (docs / "vendor" / "README.md").write_text("Vendor datasheets for the contact springs.",
                                               encoding="utf-8")
    photo = tmp_path / "photo_of_arm_02.pdf"  # a poor reading: template words and a few rare ones
    _labelled_drawing(photo, template[:20] + [" ".join(rare)])
    with Engine.open(tmp_path / "lib", text_encoder=FakeTextEncoder(), image_encoder=None, ocr=None) as engine:
        engine.index([docs])
        assert engine.kind_of(docs / "vendor" / "datasheet.pdf") == "drawing"
        hits = engine.search_file(photo, limit=50).related.hits
        assert not any(h.scores.link_folder > 0 for h in hits if "vendor" in h.path)
        # …while the sheet itself, read well, is still found and linked
        own = engine.search_file(docs / "arm" / "arm_02.pdf").related.hits[0]
        assert own.path.endswith("bom.csv") and own.scores.link_name > 0


def _sheet(path: Path, labels: list[str], block: int) -> None:
    """A drawing whose geometry is a heavy block at a place of its own (`block`), with labels."""
    doc = pymupdf.open()
    page = doc.new_page(width=842, height=595)
    page.draw_rect(pymupdf.Rect(20, 20, 822, 575))
    x, y = 80 + 120 * (block % 6), 120 + 200 * (block // 6)
    page.draw_rect(pymupdf.Rect(x, y, x + 110, y + 160), fill=(0, 0, 0))
    for i in range(36):
        page.draw_line((60 + 7 * i, 500), (70 + 7 * i, 560))
    for i, label in enumerate(labels):
        page.insert_text((600 + 60 * (i // 40), 40 + 12 * (i % 40)), label, fontsize=7)
    doc.save(path)


def test_a_photo_whose_picture_looks_like_another_sheet_still_finds_its_own_by_words(tmp_path):
    """A dim, skewed phone photo can look more like a template-mate than like its own sheet to the
    image tower. The drawing its words reproduce best is its twin all the same, so the documents
    beside that drawing are linked; looks only confirm further claims (a second twin)."""
    docs = tmp_path / "docs"
    template = [f"tmpl{w}" for w in range(20)]
    for i in range(8):
        folder = docs / f"part{i}"
        folder.mkdir(parents=True)
        _sheet(folder / f"part{i}.pdf", template + [f"PN-{i:03}-A", f"flange{i}", f"bore{i}", f"slot{i}"], i)
        (folder / "README.md").write_text(f"Assembly notes for this module, revision {i}.", encoding="utf-8")
    photo = tmp_path / "photo.pdf"  # part 2's words, part 6's picture
    _sheet(photo, template + ["PN-002-A", "flange2", "bore2", "slot2"], 6)
    encoder = FakeImageEncoder()
    with Engine.open(tmp_path / "lib", text_encoder=FakeTextEncoder(), image_encoder=encoder, ocr=None) as engine:
        engine.index([docs])
        result = engine.search_file(photo, limit=20)
        readme = next(h for h in result.related.hits if h.path.endswith("part2/README.md"))
        assert readme.scores.link_folder > 0
        assert result.related.hits[0].path.endswith("part2/README.md")
        assert not any(h.scores.link_folder > 0 for h in result.related.hits if "part6" in h.path)


def _numbered_steps(docs: Path, template: list[str], words: tuple[str, ...]) -> None:
    """Eight steps of a series, each a folder with its sheet and a README; a sheet holds the
    template and its own `words` (suffixed with its step), and its number (JXS-01-0i) is in its
    file name only."""
    for i in range(8):
        folder = docs / f"step{i}"
        folder.mkdir(parents=True)
        _sheet(folder / f"JXS-01-{i:02}.pdf", template + [f"{w}{i}" for w in words], i)
        (folder / "README.md").write_text(f"Assembly notes for this module, revision {i}.", encoding="utf-8")


def test_a_drawing_named_by_the_sheet_is_its_twin_where_its_words_do_not_stand_out(tmp_path):
    """A title block prints the drawing's number and the site names the file by it: the query
    that reads the number is that drawing when template-mates hold as many of its words (the
    template, notes they share with it), so the documents beside it are linked. Words that do
    single out a sheet win over a number it prints (a sibling's, a part's). File names that are
    words, not identifiers ("bracket"), name nothing."""
    docs = tmp_path / "docs"
    template = [f"tmpl{w}" for w in range(20)]
    _numbered_steps(docs, template, ("flange", "bore"))
    _sheet(docs / "step7" / "bracket.pdf", template + ["flange7"], 7)
    query = tmp_path / "scan.pdf"
    _sheet(query, template + ["JXS-01-02", "bracket", "flange4", "bore4", "flange6", "bore6"], 3)  # mates' notes
    with Engine.open(tmp_path / "lib", text_encoder=FakeTextEncoder(), image_encoder=FakeImageEncoder(),
                     ocr=None) as engine:
        engine.index([docs])
        hits = engine.search_file(query, limit=20).related.hits
        assert hits[0].path.endswith("step2/README.md") and hits[0].scores.link_folder == 1.0
        assert not any(h.scores.link_folder > 0 for h in hits if "step7" in h.path)  # not "bracket"
        sheet5 = tmp_path / "sheet5.pdf"  # step 5's sheet, all its words, printing step 2's number
        _sheet(sheet5, template + ["flange5", "bore5", "JXS-01-02"], 5)
        hits = engine.search_file(sheet5, limit=20).related.hits
        order = [Path(h.path).parent.name for h in hits if h.path.endswith("README.md")]
        assert order[0] == "step5" and ("step2" not in order or order.index("step2") > 0)


def test_a_sheet_whose_words_and_number_agree_is_its_twin_at_full_strength(tmp_path):
    """A sheet read at a resolution where its tolerance table and notes, which every sibling
    holds, come out in full: its words single out its own drawing by a thin margin only. When
    the number it prints names that same drawing's file, two readings agree, and its documents
    are linked as surely as when the name alone decides (openeai-arm's JXS-02-04 at 150 dpi:
    its BOM row was second, linked at 0.04)."""
    docs = tmp_path / "docs"
    template = [f"tmpl{w}" for w in range(30)]
    _numbered_steps(docs, template, ("flange", "bore", "slot"))
    with Engine.open(tmp_path / "lib", text_encoder=FakeTextEncoder(), image_encoder=FakeImageEncoder(),
                     ocr=None) as engine:
        engine.index([docs])
        for printed, expected in (("JXS-01-02", 1.0), ("", None), ("JXS-01-05", None)):
            query = tmp_path / f"scan{printed}.pdf"  # step 2's own words, a few of two mates'
            _sheet(query, template + ["flange2", "bore2", "flange4", "flange6", printed], 3)
            hits = engine.search_file(query, limit=20).related.hits
            readme = next(h for h in hits if h.path.endswith("step2/README.md"))
            assert hits[0] is readme  # its words single it out, whatever number it prints…
            if expected is not None:  # …and the number that agrees makes that sure
                assert readme.scores.link_folder == expected
            else:
                assert 0 < readme.scores.link_folder < 0.9


def test_of_several_drawings_a_sheet_names_the_one_holding_most_of_its_words_is_its_twin(tmp_path):
    """A sheet may print two drawing numbers (its own and a sibling's in a note or a parts list).
    Where its words single out no sheet (here three drawings hold equal shares of them), the
    named drawing whose page holds the larger share of its words is taken for the query itself,
    and only the documents beside that one are linked."""
    docs = tmp_path / "docs"
    template = [f"tmpl{w}" for w in range(20)]
    _numbered_steps(docs, template, ("flange", "bore", "slot"))
    query = tmp_path / "scan.pdf"  # names steps 2 and 5; holds a word of step 5's sheet, none of step 2's
    _sheet(query, template + ["JXS-01-02", "JXS-01-05", "flange5", "flange4", "bore4", "slot4",
                              "flange6", "bore6", "slot6"], 3)
    with Engine.open(tmp_path / "lib", text_encoder=FakeTextEncoder(), image_encoder=FakeImageEncoder(),
                     ocr=None) as engine:
        engine.index([docs])
        hits = engine.search_file(query, limit=20).related.hits
        linked = {Path(h.path).parent.name for h in hits if h.scores.link_folder > 0}
        assert linked == {"step5"}, linked
        assert hits[0].path.endswith("step5/README.md")


def test_a_code_typed_with_spaces_is_found_as_the_code(tmp_path):
    """"JXS 01 03" typed for JXS-01-03: its pieces are on every sheet of the series (JXS, 01, 03
    in other numbers, revisions, dates), so as three words they rank the series by meaning and
    chance. Joined into the code the library holds, the sheet holding it comes first; a note
    writing the code with spaces is still found, after it; words that join into no code the
    library holds ("JIS G 4051" where it is only ever written with spaces) stay words."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for number in ("JXS-01-01", "JXS-01-02", "JXS-03-01", "JXS-02-03"):
        (docs / f"{number}.txt").write_text(
            f"Drawing {number} bracket, rev 03, sheet 01 of 01, series JXS 01 03 04", encoding="utf-8")
    (docs / "JXS-01-03.txt").write_text("Drawing JXS-01-03 base plate, rev 01, 2023-01-03", encoding="utf-8")
    (docs / "inspection.txt").write_text("Inspection of the base plate drawn on JXS 01 03 done", encoding="utf-8")
    (docs / "material.txt").write_text("Material: carbon steel to JIS G 4051, S45C", encoding="utf-8")
    with Engine.open(tmp_path / "lib", text_encoder=FakeTextEncoder(), image_encoder=None, ocr=None) as engine:
        engine.index([docs])
        hits = engine.search("JXS 01 03", limit=20).hits
        names = [Path(h.path).name for h in hits]
        assert names[0] == "JXS-01-03.txt" and hits[0].scores.confidence == pytest.approx(1.0)
        assert "inspection.txt" in names  # the pieces apart still fill the list up
        assert engine.search("JXS-01-03", limit=1).hits[0].path == hits[0].path
        standard = engine.search("JIS G 4051", limit=5)
        assert [Path(h.path).name for h in standard.hits][:1] == ["material.txt"] and not standard.no_match


def test_code_runs_and_joined_codes():
    from engine.analyze import code_runs, joined_code

    assert code_runs("JXS 01 03 base plate") == [["jxs", "01", "03"]]
    assert code_runs("SUS304 shaft") == []  # a word of 4+ letters ends a run; one piece is no run
    assert code_runs("JIS G 4051 焼入れ ISO 2768") == [["jis", "g", "4051"], ["iso", "2768"]]
    assert code_runs("the M8 and ZZ") == [["the", "m8", "and", "zz"]]
    vocab = {"jxs0103", "b1002a2pa", "s45c"}

    def known(prefix: str) -> bool:
        return any(v.startswith(prefix) for v in vocab)

    assert joined_code(["jxs", "01", "03"], known) == [(0, 3)]
    assert joined_code(["s45c", "jxs", "01", "03"], known) == [(1, 4)]  # the longest from each start
    assert joined_code(["b1002", "a2p"], known) == [(0, 2)]  # the beginning of B1002-A2P-A
    assert joined_code(["the", "m8", "and", "zz"], known) == []  # no code the library holds


def test_cosines_from_counted_page_terms_equal_those_from_the_words(library, monkeypatch):
    """A drawing query's TF-IDF cosines come from each page's counted tokens (page_terms, term
    keys, the vocabulary table); while an indexer writes and the table is not due, from the
    chunks' words and SQL frequencies. Both give the same cosines, pages and documents."""
    from engine.search import docrank
    from engine.store.catalog import Catalog as CatalogClass

    engine, docs = library
    cat = engine._lib.catalog
    q = engine._searcher.make_query(engine.page_text(docs / "SH-4410" / "SH-4410.pdf"), keyword=False)
    cat.vocab_table()  # read for this generation (as the desktop's warm-up does)
    used = []
    monkeypatch.setattr(docrank, "_counted_by_key", lambda *a, f=docrank._counted_by_key: used.append(1) or f(*a))
    by_key = docrank.lexical_evidence(cat, q.text, q.doc_freq, q.chunk_total, Bm25Params())
    monkeypatch.setattr(CatalogClass, "vocab_table_for", lambda self, n: None)
    by_word = docrank.lexical_evidence(cat, q.text, q.doc_freq, q.chunk_total, Bm25Params())
    assert used == [1]  # the first asked page_terms, the second did not
    assert len(by_key.cosine_doc) >= 8 and max(by_key.cosine_doc.values()) > 0.3
    assert by_key.cosine_page.keys() == by_word.cosine_page.keys()
    assert by_key.cosine_doc.keys() == by_word.cosine_doc.keys()
    for mine, theirs in ((by_key.cosine_page, by_word.cosine_page), (by_key.cosine_doc, by_word.cosine_doc)):
        assert all(mine[k] == pytest.approx(theirs[k], abs=1e-12) for k in mine)
