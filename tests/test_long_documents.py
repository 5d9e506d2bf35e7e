"""Long documents (issue #10, defect 5): a PDF is committed in page batches, so its pages are
searchable as they come and an interrupted run (Ctrl-C, SIGTERM or kill -9) resumes after the
last batch instead of page 1; a page/time budget per file leaves a recorded "partially indexed"
document; the reader's warnings (a repaired PDF) reach `zumen status`."""

from __future__ import annotations

import multiprocessing
import sys
import time
from pathlib import Path

import pymupdf
import pytest

from engine.api import Engine
from engine.config import EngineSettings
from engine.extract import pdf as pdf_module
from engine.progress import CancelToken
from tests.fakes import FakeTextEncoder
from tests.invariants import vector_faults

PAGES = 40


def write_long_pdf(path: Path, pages: int = PAGES) -> None:
    doc = pymupdf.open()
    for i in range(1, pages + 1):
        page = doc.new_page()
        page.insert_text((72, 72), f"Inspection record page {i} lot L{i:04d} hardness HRC {30 + i % 20}")
    doc.save(path)


def open_engine(lib: Path, **settings) -> Engine:
    settings.setdefault("page_batch", 8)
    return Engine.open(lib, text_encoder=FakeTextEncoder(), image_encoder=None, ocr=None,
                       settings=EngineSettings(**settings))


def count_pages_read(monkeypatch) -> list[int]:
    read: list[int] = []
    real = pdf_module._extract_page

    def counting(page, page_no, *args):
        read.append(page_no)
        return real(page, page_no, *args)

    monkeypatch.setattr(pdf_module, "_extract_page", counting)
    return read


def state_of(engine: Engine, name: str):
    return engine._lib.catalog.document_progress(str(name))[:3]


def test_a_cancelled_long_pdf_is_searchable_so_far_and_resumes_after_the_last_batch(tmp_path, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    write_long_pdf(docs / "records.pdf")
    read = count_pages_read(monkeypatch)
    cancel = CancelToken()
    with open_engine(tmp_path / "lib") as engine:
        real_append = engine._lib.catalog.append_pages

        def append_then_cancel(*a, **k):  # Ctrl-C while the second batch is committed
            out = real_append(*a, **k)
            cancel.cancel()
            return out

        engine._lib.catalog.append_pages = append_then_cancel
        report = engine.index([docs], cancel=cancel)
        assert report.cancelled
        assert state_of(engine, docs / "records.pdf") == ("reading", 16, PAGES)
        assert engine.search("L0012").hits[0].page == 12  # read pages are searchable already
        engine._lib.catalog.append_pages = real_append
        read.clear()
        report = engine.index()
        assert read == list(range(17, PAGES + 1))  # not from page 1 again
        assert state_of(engine, docs / "records.pdf") == ("complete", PAGES, PAGES)
        assert engine.search("L0040").hits[0].page == 40
    assert vector_faults(tmp_path / "lib") == []


def _index_child(lib: str, docs: str) -> None:
    from engine import faults

    faults.arm("committed:3")  # killed after the third batch is committed
    with open_engine(Path(lib)) as engine:
        engine.index([docs])


@pytest.mark.skipif(sys.platform != "linux", reason="forkserver + SIGKILL: Linux test")
def test_a_long_pdf_killed_mid_file_resumes_after_the_last_batch(tmp_path, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    write_long_pdf(docs / "records.pdf")
    ctx = multiprocessing.get_context("forkserver")
    child = ctx.Process(target=_index_child, args=(str(tmp_path / "lib"), str(docs)))
    child.start()
    child.join(120)
    assert child.exitcode == -9
    read = count_pages_read(monkeypatch)
    with open_engine(tmp_path / "lib") as engine:
        assert state_of(engine, docs / "records.pdf") == ("reading", 24, PAGES)
        engine.index()
        assert read == list(range(25, PAGES + 1))
        assert state_of(engine, docs / "records.pdf") == ("complete", PAGES, PAGES)
    assert vector_faults(tmp_path / "lib") == []


def test_page_budget_leaves_a_recorded_partial_document(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    write_long_pdf(docs / "records.pdf")
    with open_engine(tmp_path / "lib", max_pages_per_file=10) as engine:
        report = engine.index([docs])
        assert report.pages == 10
        assert state_of(engine, docs / "records.pdf") == ("partial", 10, PAGES)
        note, = engine.status().notes
        assert "partially indexed: pages 1-10 of 40" in note.note and note.state == "partial"
        assert report.notes == (note,)
        assert engine.index().unchanged == 1  # not read again until it changes
    read = []
    with open_engine(tmp_path / "lib", max_pages_per_file=30) as engine:  # a bigger budget
        real = pdf_module._extract_page
        pdf_module._extract_page = lambda page, no, *a: read.append(no) or real(page, no, *a)
        try:
            engine.index(retry_failed=True)  # continues the partial file where it stopped
        finally:
            pdf_module._extract_page = real
        assert read == list(range(11, 31))
        assert state_of(engine, docs / "records.pdf") == ("partial", 30, PAGES)
        note, = engine.status().notes
        assert note.note.count("partially indexed") == 1 and "pages 1-30 of 40" in note.note


def test_time_budget_leaves_a_recorded_partial_document(tmp_path, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    write_long_pdf(docs / "records.pdf")
    real = pdf_module._extract_page
    monkeypatch.setattr(pdf_module, "_extract_page",
                        lambda *a: time.sleep(0.02) or real(*a))  # a slow OCR page
    with open_engine(tmp_path / "lib", page_batch=4, max_seconds_per_file=0.1) as engine:
        engine.index([docs])
        state, stored, total = state_of(engine, docs / "records.pdf")
        assert state == "partial" and 4 <= stored < PAGES and total == PAGES
        assert "partially indexed" in engine.status().notes[0].note


def test_a_repaired_pdf_is_indexed_with_a_note(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    write_long_pdf(docs / "ok.pdf", pages=2)
    data = (docs / "ok.pdf").read_bytes()
    at = data.rindex(b"startxref")
    (docs / "broken.pdf").write_bytes(data[:at] + b"startxref\n999999\n%%EOF\n")  # xref lost
    (docs / "ok.pdf").unlink()
    with open_engine(tmp_path / "lib") as engine:
        report = engine.index([docs])
        assert (report.added, report.failed) == (1, 0)
        assert engine.search("L0002").hits
        note, = engine.status().notes
        assert "repaired" in note.note and note.state == "complete"
