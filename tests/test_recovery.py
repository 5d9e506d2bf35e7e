"""Crash recovery keeps every vector true to its chunk: vectors are keyed by a never-reused id
plus a fingerprint of what was embedded, and recovery verifies both (issue #10, defect 3)."""

from __future__ import annotations

from pathlib import Path

from engine.api import Engine
from tests.fakes import FakeTextEncoder
from tests.invariants import vector_faults

COOLANT = "Coolant pump impeller seal replacement procedure for the lathe coolant circuit."
PICNIC = "Annual company picnic: the buses leave the main gate at nine, bring a hat."


def open_engine(lib: Path) -> Engine:
    return Engine.open(lib, text_encoder=FakeTextEncoder(), image_encoder=None, ocr=None)


def crash_after_reading(lib: Path, folder: Path) -> None:
    """An index run that dies after the catalog commits and before any vector is saved."""
    engine = open_engine(lib)
    engine._lib.save_vectors = lambda: None  # the process is killed before it saves
    pipeline = engine._pipeline()
    pipeline.reconcile = lambda *a, **k: 0
    engine._pipeline = lambda: pipeline
    engine.index([folder])
    engine._lib.catalog.close()
    engine._lib.writer_lock.release()


def test_crash_between_commit_and_vector_save_never_confuses_vectors(tmp_path):
    folder, lib = tmp_path / "docs", tmp_path / "lib"
    folder.mkdir()
    (folder / "a.txt").write_text("Bracket drawing notes, steel S45C.", encoding="utf-8")
    (folder / "z.txt").write_text(COOLANT, encoding="utf-8")
    with open_engine(lib) as engine:
        engine.index([folder])
    assert vector_faults(lib) == []

    (folder / "z.txt").write_text(PICNIC, encoding="utf-8")  # a changed file, then a crash
    crash_after_reading(lib, folder)
    with open_engine(lib) as engine:  # the next run recovers
        engine.index([folder])
        assert vector_faults(lib) == []
        (folder / "z.txt").write_text(COOLANT, encoding="utf-8")
        report = engine.index([folder])
        assert report.updated == 1
        hits = engine.search("coolant pump impeller seal", evidence=["semantic"]).hits
        assert hits and hits[0].path.endswith("z.txt")
    assert vector_faults(lib) == []


def test_recovery_rejects_vectors_saved_for_another_text(tmp_path):
    """A vector file from before a lost catalog transaction (power cut) holds a key whose chunk
    now has other text: recovery notices the fingerprint and embeds the chunk again."""
    folder, lib = tmp_path / "docs", tmp_path / "lib"
    folder.mkdir()
    (folder / "z.txt").write_text(COOLANT, encoding="utf-8")
    with open_engine(lib) as engine:
        engine.index([folder])
    saved = {p.relative_to(lib): p.read_bytes() for p in (lib / "vectors").rglob("*.usearch")}
    (folder / "z.txt").write_text(PICNIC, encoding="utf-8")
    with open_engine(lib) as engine:
        engine.index([folder])
    for rel, data in saved.items():  # the old vector file comes back
        (lib / rel).write_bytes(data)
    assert vector_faults(lib)  # the stale vector is there ...
    with open_engine(lib) as engine:
        engine.index([folder])
    assert vector_faults(lib) == []  # ... and recovery replaced it
