"""Benchmark scaffolding: corpus building, query renders, TF-IDF baseline (+ metrics on it), helpers."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import common  # noqa: E402
from engine.evaluate.metrics import evaluate_run, reciprocal_rank  # noqa: E402


# --------------------------------------------------------------------------- TF-IDF

def test_tokens_split_identifiers_and_cjk() -> None:
    assert common.tfidf_tokens("B1002-A2P 焼入れ Ｓ４５Ｃ") == [
        "b", "1002", "a", "2", "p", "焼", "入", "れ", "焼入", "入れ", "s", "45", "c"]


TFIDF_DOCS = {"d1": "steel shaft", "d2": "steel plate", "d3": "aluminium plate plate"}


def test_tfidf_hand_computed() -> None:
    # N = 3; df: steel 2, plate 2, shaft 1, aluminium 1
    # idf = ln((1+N)/(1+df)) + 1: df 2 -> ln(4/3)+1 = 1.287682; df 1 -> ln(2)+1 = 1.693147
    # d1 = (steel 1.287682, shaft 1.693147), |d1| = 2.127175
    # d2 = (steel 1.287682, plate 1.287682)                 -> unit: 0.707107 each
    # d3 = (plate (1+ln 2)*1.287682 = 2.180232, aluminium 1.693147), |d3| = 2.760464
    index = common.TfidfIndex(TFIDF_DOCS)
    # "shaft": only d1 has it: 1.693147 / 2.127175 = 0.795962; d2, d3 score 0 and are dropped
    assert index.search("shaft") == [("d1", pytest.approx(0.795962, abs=1e-5))]
    # "steel plate" (unit query 0.707107 each):
    #   d2 = 1.0; d3 = 0.707107 * 2.180232/2.760464 = 0.558480; d1 = 0.707107 * 1.287682/2.127175 = 0.428046
    hits = index.search("Steel PLATE", k=10)
    assert [d for d, _ in hits] == ["d2", "d3", "d1"]
    assert [s for _, s in hits] == pytest.approx([1.0, 0.558480, 0.428046], abs=1e-5)
    assert index.search("nothing matches") == []
    # the baseline's ranking through the metrics: d3 (grade 2) at rank 2 -> RR 1/2
    ranked = [d for d, _ in hits]
    assert reciprocal_rank(ranked, {"d3": 2}) == 0.5
    m = evaluate_run({"q1": ranked, "q2": [d for d, _ in index.search("shaft")]},
                     {"q1": {"d3": 2}, "q2": {"d1": 2}})
    assert m["recall@1"] == 0.5 and m["mrr"] == pytest.approx(0.75) and m["map"] == pytest.approx(0.75)


# --------------------------------------------------------------------------- corpus

def _fake_set(root: Path) -> Path:
    """A two-part miniature of the ultimaker-original layout."""
    import pymupdf

    data = root / "data"
    (data / "BOM").mkdir(parents=True)
    (data / "BOM" / "Ultimaker Original BOM__Blad1.csv").write_text(
        "BOM,Ultimaker  Original,,,,,\nTotal quantity parts,3,,,,,\n"
        "Partnummer,,,Naam,,partnummer,Quantity\n"
        "1002,A2P,A,Front Panel,S1002-A2P-A,B1002-A2P-A,1\n"
        '1023,Z1P,A,"Limit Switch, Black",S1023-Z1P-A,B1023-Z1P-A,2\n'
        "1209,Z1P,B,Nut M3,,,151\n", encoding="utf-8")
    (data / "BOM" / "BOM UltiController__Blad1.csv").write_text(
        ",Ulticontroller,,,,,,,\nTotal quantity parts,1,,,,,,,\n"
        "Partnummer,,,Naam,,partnummer,Materiaal,Description,Quantity\n"
        "1209,Z1P,A,Nut M3,,,,,10\n", encoding="utf-8")
    rows = [("1002_Front_Panel/B1002-A2P-A.pdf", "1002", "Front Panel", 1),
            ("1209_Nut_M3/B1209-Z1P-A (1).PDF", "1209", "Nut M3", 151),
            ("1209_Nut_M3/other.pdf", "1209", "Nut M3", 151)]
    with open(data / "pairs.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["drawing", "part_number", "part_name", "bom_line"])
        for rel, pn, name, q in rows:
            w.writerow([rel, pn, name, f"{common.BOM_TITLE}: part number {pn}, {name}, quantity {q}"])
            (data / rel).parent.mkdir(parents=True, exist_ok=True)
            doc = pymupdf.open()
            page = doc.new_page(width=595, height=842)
            page.insert_text((72, 100), f"{name} part nr. {pn}", fontsize=24)
            doc.save(data / rel)
            doc.close()
    return data


def test_bom_lines_and_pairs(tmp_path) -> None:
    data = _fake_set(tmp_path)
    bom = common.load_bom_lines(data)
    assert [b.doc_id for b in bom] == ["bom/main-001-1002.txt", "bom/main-002-1023.txt",
                                       "bom/main-003-1209.txt", "bom/controller-001-1209.txt"]
    assert bom[1].text == f"{common.BOM_TITLE}: part number 1023, Limit Switch, Black, quantity 2"
    pairs = common.load_pairs(data)
    assert {p.bom_line for p in pairs} <= {b.text for b in bom}  # same wording as pairs.csv
    assert pairs[1].query_id == "1209_Nut_M3/B1209-Z1P-A_(1).PDF"  # no whitespace (TREC)


def test_build_corpus_and_qrels(tmp_path) -> None:
    data = _fake_set(tmp_path)
    pairs = common.load_pairs(data)
    corpus = common.build_corpus(data, tmp_path / "corpus", pairs)
    assert (tmp_path / "corpus" / "bom" / "main-001-1002.txt").read_text(encoding="utf-8").startswith(
        common.BOM_TITLE)
    assert (tmp_path / "corpus" / "drawings" / "1209_Nut_M3" / "B1209-Z1P-A (1).PDF").is_file()
    assert len(corpus.drawings) == 3 and len(corpus.texts) == 4
    # hit paths -> doc ids, absolute or relative; outside the corpus -> None
    abs_hit = tmp_path / "corpus" / "drawings" / "1209_Nut_M3" / "B1209-Z1P-A (1).PDF"
    assert corpus.doc_id(abs_hit) == "drawings/1209_Nut_M3/B1209-Z1P-A_(1).PDF"
    assert corpus.doc_id("bom/main-001-1002.txt") == "bom/main-001-1002.txt"
    assert corpus.doc_id(tmp_path / "elsewhere.pdf") is None

    rel = common.related_qrels(pairs, corpus.bom)
    assert rel["1002_Front_Panel/B1002-A2P-A.pdf"] == {"bom/main-001-1002.txt": 2}
    # a part in both BOMs has two relevant BOM documents
    assert rel["1209_Nut_M3/other.pdf"] == {"bom/main-003-1209.txt": 2, "bom/controller-001-1209.txt": 2}
    sim = common.similar_qrels(pairs)
    assert sim["1209_Nut_M3/other.pdf"] == {"drawings/1209_Nut_M3/other.pdf": 2,
                                            "drawings/1209_Nut_M3/B1209-Z1P-A_(1).PDF": 1}
    # building again reuses the copies
    assert common.build_corpus(data, tmp_path / "corpus", pairs).drawings == corpus.drawings


def test_render_png_is_grayscale_without_text(tmp_path) -> None:
    from PIL import Image

    data = _fake_set(tmp_path)
    png = common.render_png(data / "1002_Front_Panel/B1002-A2P-A.pdf", tmp_path / "r" / "q.png", dpi=150)
    with Image.open(png) as im:
        assert im.mode == "L"
        assert im.size == (1240, 1754) or im.size == (1240, 1755)  # A4 at 150 dpi
    mtime = png.stat().st_mtime_ns
    assert common.render_png(data / "1002_Front_Panel/B1002-A2P-A.pdf", png) == png  # cached
    assert png.stat().st_mtime_ns == mtime
    assert "1002" in common.pdf_text(data / "1002_Front_Panel/B1002-A2P-A.pdf")


# --------------------------------------------------------------------------- helpers and arguments

def test_parse_ints_and_percentiles() -> None:
    assert common.parse_ints("10000,100000") == [10000, 100000]
    assert common.parse_ints("10k, 0.5k") == [10000, 500]
    with pytest.raises(ValueError):
        common.parse_ints(",")
    p = common.percentiles([0.001, 0.002, 0.003, 0.004, 0.100])
    assert p["n"] == 5 and p["p50_ms"] == pytest.approx(3.0) and p["max_ms"] == pytest.approx(100.0)
    assert common.percentiles([]) == {"n": 0}
    assert common.peak_rss_mb() > 1


def test_format_table() -> None:
    text = common.format_table([{"name": "lexical", "mrr": 0.5}, {"name": "hybrid", "mrr": 1.0}],
                               ["name", "mrr"], ["ranker", "MRR"])
    lines = text.splitlines()
    assert lines[0].split() == ["ranker", "MRR"] and lines[2].split() == ["lexical", "0.500"]


def test_quality_args() -> None:
    from bench import bench_quality

    args = bench_quality.parse_args(["--limit", "5", "--modes", "image", "--rankers", "lexical,hybrid"])
    assert args.limit == 5 and args.modes == ["image"] and args.rankers == ["lexical", "hybrid"]
    with pytest.raises(SystemExit):
        bench_quality.parse_args(["--modes", "photo"])


@pytest.mark.shared_data
def test_real_pairs_all_have_bom_lines(shared_data) -> None:
    data = shared_data / "ultimaker-original"
    pairs = common.load_pairs(data)
    bom = common.load_bom_lines(data)
    assert len(pairs) == 137
    assert {p.bom_line for p in pairs} <= {b.text for b in bom}
    assert all(common.related_qrels(pairs, bom).values())
    assert all((data / p.drawing).is_file() for p in pairs)


def test_generated_pdfs_text_and_scanned(tmp_path) -> None:
    import pymupdf

    pages = [["Spec 1258-B2P material S45C", "焼入れ 焼戻し HRC40"], ["page two bearing housing"]]
    text_pdf = common.write_text_pdf(tmp_path / "t.pdf", pages)
    scan_pdf = common.write_scanned_pdf(tmp_path / "s.pdf", pages, dpi=72)
    with pymupdf.open(text_pdf) as doc:
        assert len(doc) == 2
        assert "S45C" in doc[0].get_text() and "焼入れ" in doc[0].get_text()
    with pymupdf.open(scan_pdf) as doc:
        assert len(doc) == 2
        assert doc[0].get_text().strip() == ""  # picture only: needs OCR
        assert doc[0].get_images()
    assert not list(tmp_path.glob("*.tmp.pdf"))


def test_quality_summary_on_fake_runs(tmp_path) -> None:
    import argparse

    from bench import bench_quality

    data = _fake_set(tmp_path)
    pairs = common.load_pairs(data)
    corpus = common.build_corpus(data, tmp_path / "corpus", pairs)
    q0, q1, q2 = (p.query_id for p in pairs)
    d0, d1, d2 = (common.Corpus.drawing_id(p.drawing) for p in pairs)
    related = {q0: ["bom/main-001-1002.txt"], q1: ["bom/main-002-1023.txt", "bom/controller-001-1209.txt"],
               q2: []}
    similar = {q0: [d0], q1: [d2, d1], q2: [d0]}
    texts = {q0: {"text": "Front Panel part nr. 1002", "source": "ocr", "identifiers": []},
             q1: {"text": "Nut M3 part nr. 1209", "source": "ocr", "identifiers": []},
             q2: {"text": "", "source": "none", "identifiers": []}}
    measured = {"image": {"runs": {"hybrid": {"related": related, "similar": similar}},
                          "latency": {"hybrid": {}}, "extraction": {}, "query_text": texts, "errors": []}}
    results, rows, sim_rows, self_rows = bench_quality.summarise(
        argparse.Namespace(depth=20), corpus, pairs, measured)
    hybrid = results["image"]["hybrid"]["related"]
    assert hybrid["recall@1"] == pytest.approx(1 / 3)  # only q0 has its BOM line first
    assert hybrid["mrr"] == pytest.approx((1 + 1 / 2 + 0) / 3)
    # q1 has two relevant BOM documents and finds one at rank 2: AP = (1/2) / 2
    assert hybrid["map"] == pytest.approx((1 + 0.25 + 0) / 3)
    base = results["image"]["tfidf-baseline"]["related"]
    assert base["recall@1"] == pytest.approx(2 / 3)  # the empty query text finds nothing
    itself = results["image"]["hybrid"]["similar_itself"]
    assert itself["recall@1"] == pytest.approx(1 / 3) and itself["recall@5"] == pytest.approx(2 / 3)
    assert [r["ranker"] for r in rows] == ["hybrid", "tfidf-baseline"] and len(self_rows) == 1


# --------------------------------------------------------------------------- similar drawings

def toy_set(data: Path, drawings: list[str], documents: list[str], pairs: list[list]):
    """A development set "toy" under `data` in ../shared/data's format, loaded by bench/dev_sets."""
    from bench import dev_sets

    root = data / "toy"
    root.mkdir(parents=True)
    (root / "drawings.txt").write_text("".join(f"{d}\n" for d in drawings), encoding="utf-8")
    (root / "documents.txt").write_text("".join(f"{d}\n" for d in documents), encoding="utf-8")
    with open(root / "pairs.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["query", "relevant", "grade"])
        w.writerows(pairs)
    return dev_sets.load_set("toy", data)


def test_families_come_from_folders_and_shared_documents(tmp_path: Path) -> None:
    """bench/dev_sets.families: drawings of one folder, or related to a common document, are
    one family; a drawing alone in its folder with a document of its own has none."""
    from bench import dev_sets

    s = toy_set(tmp_path, ["a/1.pdf", "a/2.pdf", "b/3.pdf", "b/4.pdf", "c.pdf"], ["guide.md", "bom.csv", "other.md"],
                [["a/1.pdf", "bom.csv#page=1", 2], ["a/2.pdf", "bom.csv#page=2", 2],
                 ["b/3.pdf", "guide.md", 1], ["c.pdf", "guide.md", 1], ["b/4.pdf", "other.md", 1]])
    fams = dev_sets.families(s)
    assert fams["a/1.pdf"] == {"toy/a/2.pdf"}  # same folder (their BOM rows differ)
    assert fams["b/3.pdf"] == {"toy/b/4.pdf", "toy/c.pdf"}  # folder, and a common guide
    assert fams["c.pdf"] == {"toy/b/3.pdf"}
    assert fams["b/4.pdf"] == {"toy/b/3.pdf"}


def test_keyword_queries_are_typed_names_judged_by_the_sets_pairs(tmp_path: Path) -> None:
    """bench/bench_keywords: a drawing's query is its name as typed (identifier kept whole,
    underscores as spaces), relevant are the drawing (2) and its related documents (1); a
    document is a query only when no other file of the corpus shares its typed name."""
    from bench.bench_keywords import keyword_queries, typed_name

    assert typed_name("1002_Front_Panel/B1002-A2P-A.PDF") == "B1002-A2P-A"
    assert typed_name("Expansion_Card_Retrofit.pdf") == "Expansion Card Retrofit"
    assert typed_name("1002_Front_Panel/B1002-A2P-A.PDF", spaced=True) == "B1002 A2P A"
    s = toy_set(tmp_path, ["a/JXS-01-01.pdf", "a/JXS-01-02.pdf", "lone.pdf"], ["a/README.md", "README.md", "bom_rows.csv"],
                [["a/JXS-01-01.pdf", "bom_rows.csv#page=1", 2], ["a/JXS-01-01.pdf", "a/README.md", 1],
                 ["a/JXS-01-02.pdf", "bom_rows.csv#page=2", 2]])
    queries = keyword_queries([s])
    query, relevant = queries["drawing"]["toy"]["a/JXS-01-01.pdf"]
    assert query == "JXS-01-01"
    assert relevant == {"toy/a/JXS-01-01.pdf": 2, "toy/bom_rows.csv#page=1": 1, "toy/a/README.md": 1}
    assert set(queries["drawing"]["toy"]) == {"a/JXS-01-01.pdf", "a/JXS-01-02.pdf"}  # lone.pdf: no pairs
    assert queries["spaced"]["toy"]["a/JXS-01-01.pdf"] == ("JXS 01 01", relevant)
    # two README.md: neither is a known item; "bom rows" is
    assert queries["document"]["toy"] == {"bom_rows.csv": ("bom rows", {"toy/bom_rows.csv": 2})}


def test_looks_baselines_tell_a_drawing_from_another() -> None:
    """bench/similar_baselines: the same sheet drawn slightly shifted is nearer, by pixels and by
    edge-orientation histograms, than a sheet of other strokes."""
    from PIL import Image, ImageDraw

    from bench.similar_baselines import edge_histograms, pixels32

    def sheet(lines, shift=0):
        im = Image.new("L", (400, 280), 255)
        d = ImageDraw.Draw(im)
        d.rectangle((10, 10, 390, 270), outline=0, width=2)
        for x0, y0, x1, y1 in lines:
            d.line((x0 + shift, y0 + shift, x1 + shift, y1 + shift), fill=0, width=3)
        return im

    horizontal = [(40, 40 + 20 * i, 360, 40 + 20 * i) for i in range(10)]
    diagonal = [(40 + 30 * i, 40, 60 + 30 * i, 240) for i in range(10)]
    a, a2, b = sheet(horizontal), sheet(horizontal, shift=3), sheet(diagonal)
    for vectors in (pixels32([a, a2, b]), edge_histograms([a, a2, b])):
        assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
        assert abs(float(vectors[0] @ vectors[0]) - 1.0) < 1e-6
