"""Engine facade end to end with fake encoders: indexing (incremental, failures, cancel),
Japanese keyword search, fusion, drawing queries with explanations and boxes."""

from __future__ import annotations

import os
import time
from dataclasses import astuple
from pathlib import Path

import numpy as np
import pymupdf
import pytest

from engine.api import Engine
from engine.config import EXTRACTOR_VERSION
from engine.errors import LibraryError, QueryError
from engine.progress import CancelToken
from tests.fakes import FakeImageEncoder, FakeTextEncoder

SPEC_JA = """仕様書 ZM-1258-B2P 主軸
材質: S45C
熱処理: 焼入れ焼戻し HRC 40-45
軸受の取付け部は研削仕上げとする。一般公差 JIS B 0405-m。
"""
PROCESS_EN = """Process sheet for flange A-20431-03
1. Cut SS400 bar stock
2. Turn outside diameter
3. Drill 4 holes
4. Inspect per ISO 2768-m
"""
NOTE = "Meeting memo: the bracket supplier changes next month. 軸 の 在庫 を 確認。"


def write_drawing(path: Path, part_no: str, material: str, name: str, lines: int = 6) -> None:
    doc = pymupdf.open()
    page = doc.new_page(width=842, height=595)
    page.draw_rect(pymupdf.Rect(20, 20, 822, 575))  # border
    for i in range(8):  # title block grid
        page.draw_line((550, 440 + 16 * i), (822, 440 + 16 * i))
    for i in range(lines * 6):  # part outline, hatching and dimension lines
        page.draw_line((60 + 7 * i, 80 + 5 * i), (500 - 3 * i, 80 + 9 * i))
    for i in range(lines):
        page.draw_circle((650, 200), 40 + 10 * i)
    page.insert_text((560, 480), f"PART NO. {part_no}", fontsize=12)
    page.insert_text((560, 500), f"MATERIAL {material}", fontsize=10)
    page.insert_text((560, 520), name, fontsize=10)
    doc.save(path)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    (root / "specs").mkdir(parents=True)
    (root / "drawings").mkdir()
    (root / "specs" / "spec_1258.txt").write_text(SPEC_JA, encoding="utf-8")
    (root / "specs" / "process_20431.md").write_text(PROCESS_EN, encoding="utf-8")
    (root / "specs" / "memo.txt").write_text(NOTE, encoding="utf-8")
    (root / "specs" / "bom.csv").write_text(
        "part_no,name,material,qty\nZM-1258-B2P,Main shaft,S45C,1\nA-20431-03,Flange,SS400,2\n",
        encoding="utf-8")
    write_drawing(root / "drawings" / "ZM-1258-B2P.pdf", "ZM-1258-B2P", "S45C", "MAIN SHAFT")
    write_drawing(root / "drawings" / "A-20431-03.pdf", "A-20431-03", "SS400", "FLANGE", lines=5)
    return root


def open_engine(tmp_path: Path, **kw) -> Engine:
    kw.setdefault("text_encoder", FakeTextEncoder())
    kw.setdefault("image_encoder", FakeImageEncoder())
    return Engine.open(tmp_path / "lib", ocr=None, **kw)


def test_index_then_keyword_search_japanese(tmp_path, corpus):
    with open_engine(tmp_path) as engine:
        report = engine.index([corpus])
        assert (report.added, report.failed) == (6, 0)
        assert report.pages >= 7  # csv rows are pages
        for query in ("焼入れ", "軸受", "S45C", "ＺＭ－１２５８"):
            top = engine.search(query, limit=5).hits[0]
            assert top.path.endswith(("spec_1258.txt", "ZM-1258-B2P.pdf", "bom.csv")), query
        hit = engine.search("焼入れ", limit=3).hits[0]
        assert hit.path.endswith("spec_1258.txt")
        marked = [hit.snippet.text[a:b] for a, b in hit.snippet.marks]
        assert "焼入れ" in marked
        assert hit.scores.lexical == pytest.approx(1.0)
        assert "焼入れ" in hit.explanation.shared_terms


def test_single_character_query(tmp_path, corpus):
    with open_engine(tmp_path) as engine:
        engine.index([corpus])
        paths = [h.path for h in engine.search("軸", limit=10).hits]
        assert any(p.endswith("spec_1258.txt") for p in paths)
        assert any(p.endswith("memo.txt") for p in paths)


def test_evidence_lists_can_be_used_alone(tmp_path, corpus):
    with open_engine(tmp_path) as engine:
        engine.index([corpus])
        lexical = engine.search("flange drill", evidence={"lexical"}).hits
        semantic = engine.search("flange drill", evidence={"semantic"}).hits
        assert all(h.scores.semantic == 0 for h in lexical)
        assert all(h.scores.lexical == 0 for h in semantic)
        assert lexical[0].path.endswith("process_20431.md")
        hybrid = engine.search("flange drill").hits
        assert hybrid[0].path.endswith("process_20431.md")
        assert hybrid[0].scores.lexical > 0 and hybrid[0].scores.semantic > 0


def test_csv_rows_are_pages(tmp_path, corpus):
    with open_engine(tmp_path) as engine:
        engine.index([corpus])
        hits = engine.search("A-20431-03", kinds={"document"}).hits
        bom = [h for h in hits if h.path.endswith("bom.csv")][0]
        assert bom.page == 2


def test_incremental_add_change_delete(tmp_path, corpus):
    with open_engine(tmp_path) as engine:
        first = engine.index([corpus])
        again = engine.index()
        assert (again.added, again.updated, again.removed, again.unchanged) == (0, 0, 0, first.added)
        memo = corpus / "specs" / "memo.txt"
        memo.write_text("Updated memo about knurling tools", encoding="utf-8")
        os.utime(memo, ns=(time.time_ns(), time.time_ns() + 10**9))
        (corpus / "specs" / "process_20431.md").unlink()
        (corpus / "specs" / "new.txt").write_text("New gear blank spec SCM440", encoding="utf-8")
        third = engine.index()
        assert (third.added, third.updated, third.removed) == (1, 1, 1)
        assert engine.search("knurling").hits[0].path.endswith("memo.txt")
        assert not any(h.path.endswith("process_20431.md") for h in engine.search("flange drill").hits)
        assert engine.search("SCM440").hits[0].path.endswith("new.txt")
        # touching a file without changing it re-reads nothing
        os.utime(memo, ns=(time.time_ns(), time.time_ns() + 5 * 10**9))
        fourth = engine.index()
        assert (fourth.added, fourth.updated) == (0, 0)
        status = engine.status()
        assert status.documents == 6



def test_files_read_by_an_older_version_are_read_again_once(tmp_path, corpus):
    # a library from before this version: a drawing stored as a document (an older rule), and
    # nothing recorded about the reading code
    with open_engine(tmp_path) as engine:
        first = engine.index([corpus])
        cat = engine._lib.catalog
        drawing = str(corpus / "drawings" / "ZM-1258-B2P.pdf")
        with cat.transaction() as tx:
            tx.execute("UPDATE documents SET extractor = 0")
            tx.execute("UPDATE documents SET kind = 'document' WHERE path = ?", (drawing,))
        again = engine.index()
        assert (again.added, again.updated, again.removed) == (0, first.added, 0)
        assert cat.document_by_path(drawing).kind == "drawing"
        hits = engine.search("ZM-1258-B2P", kinds=["drawing"]).hits
        assert hits and hits[0].path == drawing
        third = engine.index()  # once: now the stored version is this one
        assert (third.updated, third.unchanged) == (0, first.added)


def test_a_change_to_how_images_are_read_reads_only_the_images_again(tmp_path, corpus):
    """Version 2 of the reading code flattens photographed sheets: a library read by version 1
    reads its image files again, not its PDFs and texts."""
    with pymupdf.open(corpus / "drawings" / "ZM-1258-B2P.pdf") as pdf:
        pdf[0].get_pixmap(dpi=60).save(str(corpus / "drawings" / "IMG_2041.png"))
    with open_engine(tmp_path) as engine:
        first = engine.index([corpus])
        cat = engine._lib.catalog
        with cat.transaction() as tx:
            tx.execute("UPDATE documents SET extractor = 1")
        again = engine.index()
        assert (again.updated, again.unchanged) == (1, first.added - 1)
        photo = str(corpus / "drawings" / "IMG_2041.png")
        assert cat.document_progress(photo)[3:] == (EXTRACTOR_VERSION, "image")
        assert engine.index().updated == 0


def test_corrupt_file_is_recorded_and_does_not_stop_the_run(tmp_path, corpus):
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.7\n this is not really a pdf")
    (corpus / "empty.png").write_bytes(b"")
    with open_engine(tmp_path) as engine:
        report = engine.index([corpus])
        assert report.added == 6 and report.failed == 2
        failed = {Path(f.path).name: f.reason for f in engine.status().failed}
        assert set(failed) == {"broken.pdf", "empty.png"}
        assert all(reason for reason in failed.values())
        assert engine.index().failed == 0  # unchanged failures are not retried every run
        assert engine.search("S45C").hits  # the index is intact


def test_cancel_keeps_work_and_next_run_resumes(tmp_path, corpus):
    token = CancelToken()
    seen = []

    def progress(p):
        if p.stage == "index":
            seen.append(p.done)
            if p.done >= 2:
                token.cancel()

    with open_engine(tmp_path) as engine:
        first = engine.index([corpus], progress=progress, cancel=token)
        assert first.cancelled and 0 < first.added < 6
        assert engine.status().documents == first.added  # the files read before the cancel are kept
        second = engine.index()
        assert not second.cancelled and second.unchanged == first.added  # and not read again
        assert first.added + second.added == 6
        assert engine.status().documents == 6
        assert engine.search("焼入れ").hits


def test_vectors_survive_reopen_and_reconcile_after_crash(tmp_path, corpus):
    with open_engine(tmp_path) as engine:
        engine.index([corpus])
        chunks = engine.status().chunks
    vec = tmp_path / "lib" / "vectors" / "text-fake" / "index.usearch"
    vec.unlink()  # as if the process died before saving vectors
    enc = FakeTextEncoder()
    with open_engine(tmp_path, text_encoder=enc) as engine:
        report = engine.index()
        assert report.unchanged == 6
        assert len(engine._lib.text_index) == chunks
        assert engine.search("flange drill", evidence={"semantic"}).hits


class RecordingTextEncoder(FakeTextEncoder):
    """Remembers the texts of every encode call."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[str]] = []

    def encode(self, texts, batch_size: int = 32) -> np.ndarray:
        self.batches.append(list(texts))
        return super().encode(texts, batch_size)


def test_each_distinct_chunk_text_is_embedded_once_longest_first(tmp_path):
    from engine.config import EngineSettings

    root = tmp_path / "docs"
    for folder in ("a", "b"):  # the same file twice: same title, same chunk texts
        (root / folder).mkdir(parents=True)
        (root / folder / "spec.txt").write_text(SPEC_JA, encoding="utf-8")
    (root / "a" / "memo.txt").write_text("S45C", encoding="utf-8")
    (root / "a" / "process.md").write_text(PROCESS_EN, encoding="utf-8")
    enc = RecordingTextEncoder()
    with open_engine(tmp_path, text_encoder=enc, settings=EngineSettings(embed_batch=2)) as engine:
        engine.index([root])
        chunks = engine.status().chunks
        assert len(engine._lib.text_index) == chunks  # every chunk has its vector, duplicates too
        texts = [t for b in enc.batches for t in b]
        assert len(texts) == len(set(texts)) == chunks - 1
        assert all(len(b) <= 2 for b in enc.batches)
        lengths = [len(t) for t in texts]  # the fake has no tokenizer: characters stand for tokens
        assert lengths == sorted(lengths, reverse=True)
        cat = engine._lib.catalog
        rows = cat.chunks_by_ids(cat.all_chunk_ids())
        spec = next(r.text for r in rows.values() if "ZM-1258-B2P" in r.text)
        twins = [c for c, r in rows.items() if r.text == spec]
        assert len(twins) == 2  # spec.txt's chunk, in a/ and in b/: one vector for both
        vecs = engine._lib.text_index.get(np.array(twins, dtype=np.uint64))  # (2, dim)
        assert np.array_equal(vecs[0], vecs[1])


def test_drawing_query_returns_related_documents_and_similar_drawings(tmp_path, corpus):
    query = tmp_path / "query.pdf"
    write_drawing(query, "ZM-1258-B2P", "S45C", "MAIN SHAFT REV B", lines=6)
    with open_engine(tmp_path) as engine:
        engine.index([corpus])
        result = engine.search_file(query)
        assert "ZM-1258-B2P" in result.identifiers and "S45C" in result.identifiers
        assert result.text_source == "text-layer"
        related = [Path(h.path).name for h in result.related.hits]
        assert related[0] in {"spec_1258.txt", "bom.csv"}
        assert all(h.kind == "document" for h in result.related.hits)
        similar = result.similar.hits
        assert similar[0].path.endswith("ZM-1258-B2P.pdf")
        assert similar[0].scores.visual > similar[-1].scores.visual
        why = similar[0].explanation
        assert "ZM-1258-B2P" in why.shared_identifiers
        assert why.boxes and all(0 <= b.x0 < b.x1 <= 1 and 0 <= b.y0 < b.y1 <= 1 for b in why.boxes)
        assert why.query_boxes
        assert "ZM-1258-B2P" in why.summary


def test_querying_with_an_indexed_file_excludes_itself(tmp_path, corpus):
    with open_engine(tmp_path) as engine:
        engine.index([corpus])
        result = engine.search_file(corpus / "drawings" / "ZM-1258-B2P.pdf")
        assert not any(h.path.endswith("ZM-1258-B2P.pdf") for h in result.similar.hits)
        more = engine.similar(corpus / "drawings" / "A-20431-03.pdf")
        assert more.related.hits[0].path.endswith(("process_20431.md", "bom.csv"))


def test_a_file_from_the_library_is_not_read_again(tmp_path, corpus, monkeypatch):
    """A drawing dragged in from the archive: its reading and picture vector are the library's
    (no extraction, no OCR), and it ranks as the same drawing read afresh does."""
    import engine.extract as extract

    calls = []
    real = extract.extract_document
    monkeypatch.setattr(extract, "extract_document", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    drawing = corpus / "drawings" / "ZM-1258-B2P.pdf"
    copy = tmp_path / "copy.pdf"  # the same drawing, other bytes: not in the library
    copy.write_bytes(drawing.read_bytes() + b"\n% exported again\n")
    with open_engine(tmp_path) as engine:
        engine.index([corpus])
        calls.clear()
        known = engine.search_file(drawing)
        assert calls == []
        fresh = engine.search_file(copy)
        assert calls == [copy]
        assert (known.query_text, known.text_source) == (fresh.query_text, fresh.text_source)

        def boxes(words):  # the catalog keeps word boxes to 4 decimals
            return [(w.text, *(round(v, 4) for v in astuple(w.box))) for w in words]

        assert boxes(known.query_words) == boxes(fresh.query_words)
        assert [h.path for h in known.related.hits] == [h.path for h in fresh.related.hits]
        assert [h.path for h in known.similar.hits] == [h.path for h in fresh.similar.hits
                                                        if h.path != str(drawing)]


def test_errors_are_specific(tmp_path, corpus):
    with open_engine(tmp_path) as engine:
        with pytest.raises(QueryError):
            engine.search("   ")
        with pytest.raises(QueryError, match="not found"):
            engine.search_file(tmp_path / "nope.pdf")
        with pytest.raises(LibraryError, match="not found"):
            engine.add_folder(tmp_path / "missing")


def test_one_writer_at_a_time(tmp_path, corpus):
    with open_engine(tmp_path) as a, open_engine(tmp_path) as b:
        a._lib.writer_lock.acquire()
        try:
            with pytest.raises(LibraryError, match="another Zumen process"):
                b.index([corpus])
        finally:
            a._lib.writer_lock.release()


def test_remove_folder_forgets_its_documents(tmp_path, corpus):
    with open_engine(tmp_path) as engine:
        engine.index([corpus / "specs", corpus / "drawings"])
        assert engine.remove_folder(corpus / "drawings") == 2
        assert engine.status().documents == 4
        assert engine.folders() == (str((corpus / "specs").resolve()),)


def test_feedback_is_stored(tmp_path, corpus):
    with open_engine(tmp_path) as engine:
        engine.index([corpus])
        hit = engine.search("S45C").hits[0]
        engine.record_feedback("S45C", hit, +1)
        assert engine.feedback()[0]["doc_path"] == hit.path


def test_thumbnail_is_cached(tmp_path, corpus):
    with open_engine(tmp_path) as engine:
        engine.index([corpus])
        pdf = corpus / "drawings" / "A-20431-03.pdf"
        first = engine.thumbnail(pdf)
        mtime = first.stat().st_mtime_ns
        assert engine.thumbnail(pdf) == first and first.stat().st_mtime_ns == mtime
        assert np.asarray(__import__("PIL.Image").Image.open(first)).shape[1] <= 256


def test_zumenignore_excludes_patterns_and_folders(tmp_path):
    from engine.indexing.scanner import walk_files

    root = tmp_path / "lib"
    for rel in ("a.txt", "queries/q.png", "sub/b.txt", "sub/tmp.txt", "skip/c.txt"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x")
    (root / ".zumenignore").write_text("# demo queries\nqueries/\ntmp.txt\n")
    (root / "skip" / ".zumenignore").write_text("")
    found = sorted(Path(f.path).relative_to(root.resolve()).as_posix()
                   for f in walk_files([root], frozenset({".txt", ".png"})))
    assert found == ["a.txt", "sub/b.txt"]


def test_query_file_is_read_once_for_repeated_searches(tmp_path, corpus, monkeypatch):
    import engine.extract as extract

    calls = []
    real = extract.extract_document
    monkeypatch.setattr(extract, "extract_document", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    query = tmp_path / "query.pdf"
    write_drawing(query, "ZM-1258-B2P", "S45C", "MAIN SHAFT")
    with open_engine(tmp_path) as engine:
        engine.index([corpus])
        calls.clear()
        first = engine.search_file(query, evidence={"lexical"})
        again = engine.search_file(query)  # another evidence mix: no second read
        assert len(calls) == 1
        assert first.query_text == again.query_text
        os.utime(query, ns=(time.time_ns(), time.time_ns() + 10**9))  # changed file: read again
        engine.search_file(query)
        assert len(calls) == 2


@pytest.mark.skipif(os.name != "posix", reason="byte file names and FIFOs are POSIX")
def test_odd_names_and_special_files_never_stop_an_index_run(tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.txt").write_text("first spec S45C", encoding="utf-8")
    os.mkfifo(root / "b_pipe.txt")  # reading it would wait forever
    with open(os.fsencode(root) + b"/c\xe9.txt", "w") as fh:  # a Latin-1 name, not UTF-8
        fh.write("latin one")
    (root / "z.txt").write_text("last spec SUS304", encoding="utf-8")
    with open_engine(tmp_path) as engine:
        report = engine.index([root])
        assert (report.added, report.failed) == (2, 2)
        assert engine.search("SUS304").hits[0].path.endswith("z.txt")  # files after them indexed
        reasons = {Path(f.path).name: f.reason for f in engine.status().failed}
        assert "not a regular file" in reasons["b_pipe.txt"]
        assert "not valid UTF-8" in reasons["c\\xe9.txt"]  # shown with a safe rendering
        again = engine.index()
        assert (again.added, again.unchanged, again.failed) == (0, 2, 2)


def test_failed_files_can_be_retried_ignored_and_taken_back(tmp_path, corpus):
    (corpus / "specs" / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    with open_engine(tmp_path) as engine:
        first = engine.index([corpus])
        assert first.failed == 1
        broken = engine.status().failed[0].path
        assert Path(broken).name == "broken.pdf"
        # retry: the file is fixed, read again at once, and it becomes no library folder
        write_drawing(corpus / "specs" / "broken.pdf", "ZX-77", "S45C", "FIXED")
        folders = engine.folders()
        retried = engine.retry_files([broken])
        assert (retried.updated + retried.added, retried.failed) == (1, 0)
        assert engine.status().failed == () and engine.folders() == folders
        assert engine.search("ZX-77").hits
        # ignore: it leaves the failed list and later runs neither read nor count it
        (corpus / "specs" / "bad.pdf").write_bytes(b"%PDF-1.4 garbage")
        assert engine.index().failed == 1
        bad = next(f.path for f in engine.status().failed if f.path.endswith("bad.pdf"))
        engine.ignore_file(bad)
        status = engine.status()
        assert bad not in {f.path for f in status.failed} and status.ignored == (bad,)
        (corpus / "specs" / "bad.pdf").write_bytes(b"%PDF-1.4 garbage, changed")
        assert engine.index().failed == 0
        assert engine.status().failed == ()
        # taken back: the next run reads it (and it fails again, visibly)
        engine.ignore_file(bad, ignored=False)
        assert engine.status().ignored == ()
        assert engine.index().failed == 1
        # a failed file that was deleted leaves the list on retry
        (corpus / "specs" / "bad.pdf").unlink()
        engine.retry_files([bad])
        assert engine.status().failed == ()


def test_an_ignored_indexed_file_leaves_the_index(tmp_path, corpus):
    with open_engine(tmp_path) as engine:
        engine.index([corpus])
        memo = str((corpus / "specs" / "memo.txt").resolve())
        assert engine.search("supplier").hits
        engine.ignore_file(memo)
        assert engine.index().removed == 1
        assert not engine.search("supplier").hits


def test_status_lists_skipped_file_types_per_extension(tmp_path, corpus):
    for name in ("a.dwg", "b.dwg", "c.DWG", "d.step", "README"):
        (corpus / name).write_bytes(b"x")
    (corpus / ".hidden.dwg").write_bytes(b"x")  # hidden files are not "skipped types"
    other = tmp_path / "other"
    other.mkdir()
    (other / "e.dwg").write_bytes(b"x")
    with open_engine(tmp_path) as engine:
        engine.index([corpus, other])
        skipped = {s.extension: s for s in engine.status().skipped_types}
        assert {k: s.count for k, s in skipped.items()} == {".dwg": 4, ".step": 1, "": 1}
        assert engine.status().skipped_types[0].extension == ".dwg"  # most first
        assert all(Path(p).suffix.lower() == ".dwg" for p in skipped[".dwg"].examples)
        engine.retry_files([corpus / "specs" / "memo.txt"])  # a file root keeps the counts
        assert engine.status().skipped_types[0].count == 4
        engine.remove_folder(other)  # counts follow the library's folders
        assert {s.extension: s.count for s in engine.status().skipped_types}[".dwg"] == 3
