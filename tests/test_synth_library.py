"""The committed sample library is exactly what `engine.synth.sample_library` generates."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pymupdf
import pytest
from PIL import Image, ImageSequence

from engine.config import SAMPLE_LIBRARY
from engine.synth.degrade import HAVE_OPENCV
from engine.synth.documents import ASSEMBLIES, inspection_report, process_sheet, spec_sheet
from engine.synth.notes import change_notice, field_report, meeting_minutes
from engine.synth.parts import generate_part
from engine.synth.sample_library import DEFAULT_SEED, build

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff"}


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample_library")
    build(out, DEFAULT_SEED)
    return out


def test_committed_library_matches_generator(regenerated: Path) -> None:
    assert _files(SAMPLE_LIBRARY) == _files(regenerated)
    for rel in _files(regenerated):
        new, old = regenerated / rel, SAMPLE_LIBRARY / rel
        suffix = new.suffix.lower()
        if suffix in IMAGE_SUFFIXES:
            if not HAVE_OPENCV:
                continue  # the Pillow fallback degrades differently; pixels are only comparable with OpenCV
            for a, b in zip(ImageSequence.Iterator(Image.open(new)), ImageSequence.Iterator(Image.open(old))):
                x = np.asarray(a.convert("L"), dtype=np.int16)
                y = np.asarray(b.convert("L"), dtype=np.int16)
                assert x.shape == y.shape, rel
                assert np.abs(x - y).mean() < 2.0, rel  # JPEG codecs may differ slightly across builds
        elif suffix == ".pdf" and new.read_bytes() != old.read_bytes():
            # another pymupdf build may serialise differently: then the text must still be identical
            with pymupdf.open(new) as d1, pymupdf.open(old) as d2:
                assert [p.get_text() for p in d1] == [p.get_text() for p in d2], rel
        elif suffix != ".pdf":
            assert new.read_bytes() == old.read_bytes(), rel


def test_library_size_and_contents() -> None:
    files = _files(SAMPLE_LIBRARY)
    total = sum((SAMPLE_LIBRARY / f).stat().st_size for f in files)
    assert total < 6_000_000
    assert sum(f.startswith("drawings/") for f in files) == 24
    assert sum(f.startswith("documents/") for f in files) >= 16
    assert {"bom.csv", "qrels.json", "queries.json"} <= set(files)
    tif = next(f for f in files if f.endswith(".tif"))
    assert getattr(Image.open(SAMPLE_LIBRARY / tif), "n_frames", 1) == 2
    for f in files:
        if f.startswith("scans/"):
            assert not f.endswith(".pdf")  # copies have no text layer


def test_qrels_and_queries_reference_existing_files() -> None:
    qrels = json.loads((SAMPLE_LIBRARY / "qrels.json").read_text(encoding="utf-8"))
    queries = json.loads((SAMPLE_LIBRARY / "queries.json").read_text(encoding="utf-8"))
    library = {f for f in _files(SAMPLE_LIBRARY) if not f.startswith("queries/")}
    assert len(qrels["drawings"]) == 30
    for drawing, entry in qrels["drawings"].items():
        assert drawing in library
        assert set(entry["related"]) <= library and set(entry["similar"]) <= library
        assert drawing not in entry["similar"]
        assert entry["part_no"] in qrels["parts"]
    assert sum(1 for e in qrels["drawings"].values() if e["related"]) >= 20
    for q in queries["keyword"]:
        assert q["relevant"], q["query"]
        assert set(q["relevant"]) <= library
    for q in queries["image"]:
        assert (SAMPLE_LIBRARY / q["file"]).is_file() and q["file"] not in library
        assert set(q["related"]) <= library and set(q["similar"]) <= library


def test_documents_are_deterministic_and_multipage() -> None:
    part = generate_part(77, family="shaft")
    for make in (lambda lang: spec_sheet(part, lang), lambda lang: process_sheet(part, lang),
                 lambda lang: inspection_report(part, lang), lambda lang: change_notice(part, lang, "DCN-1")):
        for lang in ("ja", "en"):
            doc = make(lang)
            assert doc.data == make(lang).data
            with pymupdf.open(stream=doc.data, filetype="pdf") as pdf:
                assert pdf.page_count >= 2
                text = "".join(p.get_text() for p in pdf)
            assert part.part_no in text and part.material in text
    # prose-only reports never print the part number
    for doc in (field_report(part, ASSEMBLIES[0], "FR-1"), meeting_minutes([part], ASSEMBLIES[0], "MR-1")):
        with pymupdf.open(stream=doc.data, filetype="pdf") as pdf:
            text = "".join(p.get_text() for p in pdf)
        assert part.part_no not in text and part.material in text
