"""A corpus of bad files, generated here (issue #10): each is indexed or recorded with a clear,
specific reason, none stops a run or harms the index, and a second run is stable. Plus a
time-bounded property-based fuzz of the extractors: any bytes under any supported name give a
document or an ExtractionError, never another exception."""

from __future__ import annotations

import io
import os
import sys
import threading
import zipfile
from pathlib import Path

import pymupdf
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from engine.api import Engine
from engine.errors import ExtractionError
from engine.extract import SUPPORTED_SUFFIXES, extract_document
from tests.fakes import FakeImageEncoder, FakeTextEncoder, png_header
from tests.invariants import vector_faults
from tests.test_engine import write_drawing

POSIX = os.name == "posix"


def pdf_bytes(text: str = "Spec ZM-1 S45C", pages: int = 1, **save) -> bytes:
    doc = pymupdf.open()
    for i in range(pages):
        doc.new_page().insert_text((72, 72), f"{text} page {i + 1}")
    return doc.tobytes(**save)


def docx_bomb() -> bytes:
    """A .docx whose document.xml unpacks to 320 MB (1.5 MB on disk)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("word/document.xml", "w", force_zip64=True) as fh:
            for _ in range(320):
                fh.write(b" " * (1 << 20))
    return buf.getvalue()


def tiff(mode: str, frames: int = 1) -> bytes:
    buf = io.BytesIO()
    ims = [Image.new(mode, (64, 48)) for _ in range(frames)]
    ims[0].save(buf, format="TIFF", save_all=frames > 1, append_images=ims[1:])
    return buf.getvalue()


def png(size=(64, 48), mode="L") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, 255).save(buf, format="PNG")
    return buf.getvalue()


# name -> (bytes, expected): "indexed", or a piece of the reason recorded for it
CORPUS: dict[str, tuple[bytes, str]] = {
    "truncated.pdf": (pdf_bytes(pages=3)[:700], "noted:repaired"),  # MuPDF rebuilds what it can
    "garbage.pdf": (b"%PDF-1.7\n" + os.urandom(4000), "the PDF is incomplete"),
    "encrypted.pdf": (pdf_bytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="u", owner_pw="o"),
                      "password-protected"),
    "empty.pdf": (b"", "empty"),
    "empty.txt": (b"", "empty"),
    "empty.png": (b"", "empty"),
    "bomb.png": (png_header(60_000, 60_000), "too large to read safely"),  # 3.6 G px, 1-bit
    "bomb.docx": (None, "decompression bomb"),
    "tiff-1bit.tif": (tiff("1"), "indexed"),
    "tiff-grey.tif": (tiff("L"), "indexed"),
    "tiff-16bit.tif": (tiff("I;16"), "indexed"),
    "tiff-cmyk.tif": (tiff("CMYK"), "indexed"),
    "tiff-float.tif": (tiff("F"), "indexed"),
    "tiff-3pages.tiff": (tiff("RGB", 3), "indexed"),
    "png-named.pdf": (png(), "indexed"),  # MuPDF recognises the picture: a page like a scan
    "pdf-named.png": (pdf_bytes(), "not a readable image"),
    "text-named.docx": (b"just text, not a zip", "not a readable Word document"),
    "text-named.xlsx": (b"just text, not a zip", "not a readable Excel workbook"),
    "truncated.png": (png((400, 300), "RGB")[:200], "damaged or truncated"),
    "nul-bytes.csv": (b"a,b\n1,\x00\x00\x002\n", "binary file, not text"),
    "latin1.txt": ("Maße Härte S45C".encode("latin-1"), "indexed"),
    "binary.txt": (os.urandom(3000), "binary file, not text"),
    "one-long-line.md": (b"S45C " * 50_000, "indexed"),
    " leading space.txt": (b"odd name one", "indexed"),
    "-dash.txt": (b"odd name two", "indexed"),
    "nfd-\u30cf\u309a\u30fc\u30c4.txt": ("部品 ﾊﾟｰﾂ".encode(), "indexed"),
    "x" * 200 + ".txt": (b"long name", "indexed"),
}


def build(root: Path) -> dict[str, str]:
    """Write the corpus under `root`; returns safe name -> expectation."""
    root.mkdir(parents=True)
    expected = {}
    for name, (data, want) in CORPUS.items():
        path = root / name
        if name == "bomb.docx":
            path.write_bytes(docx_bomb())
        else:
            path.write_bytes(data)
        expected[name] = want
    if POSIX:
        with open(os.fsencode(root) + b"/latin1-\xe9.txt", "wb") as fh:
            fh.write(b"non-UTF-8 name")
        expected["latin1-\\xe9.txt"] = "not valid UTF-8"  # as `zumen status` shows the name
        (root / "newline\nname.txt").write_bytes(b"a newline in the name")
        expected["newline\nname.txt"] = "indexed"
        os.mkfifo(root / "pipe.pdf")
        expected["pipe.pdf"] = "not a regular file"
        (root / "loop.txt").symlink_to(root / "loop.txt")
        expected["loop.txt"] = "loop"
        (root / "zero.txt").symlink_to("/dev/zero")
        expected["zero.txt"] = "not a regular file"
        locked = root / "locked.txt"
        locked.write_bytes(b"permission denied, unless root")
        locked.chmod(0)
        expected["locked.txt"] = "indexed" if os.geteuid() == 0 else "permission denied"
    write_drawing(root / "zz-good.pdf", "ZM-9999-A1", "S45C", "GOOD PART")  # after all of them
    (root / "zz-good.txt").write_text("good spec SUS304", encoding="utf-8")
    expected["zz-good.pdf"] = expected["zz-good.txt"] = "indexed"
    return expected


def open_engine(tmp_path: Path) -> Engine:
    return Engine.open(tmp_path / "lib", text_encoder=FakeTextEncoder(),
                       image_encoder=FakeImageEncoder(), ocr=None)


def test_bad_files_never_stop_a_run_and_each_gets_a_specific_reason(tmp_path):
    root = tmp_path / "bad"
    expected = build(root)
    with open_engine(tmp_path) as engine:
        report = engine.index([root])
        assert not report.cancelled
        failed = {Path(f.path).name: f.reason for f in engine.status().failed}
        indexed = {Path(p).name for p in engine._lib.catalog.document_stamps()}
        outcome = {}
        notes = {Path(n.path).name: n.note for n in engine.status().notes}
        for name, want in expected.items():
            if want == "indexed" or want.startswith("noted:"):
                assert name in indexed, (name, failed.get(name))
                outcome[name] = "indexed" + (f" (note: {notes[name]})" if name in notes else "")
                if want.startswith("noted:"):
                    assert want[6:] in notes.get(name, ""), (name, notes.get(name))
            else:
                assert name in failed, (name, "was indexed" if name in indexed else "no status entry")
                assert want in failed[name], (name, failed[name])
                assert "unexpected" not in failed[name], (name, failed[name])
                outcome[name] = failed[name]
        assert engine.search("SUS304").hits and engine.search("ZM-9999-A1").hits
        again = engine.index()  # stable: nothing re-read, the same failures listed
        assert (again.added, again.updated, again.removed) == (0, 0, 0)
        assert {Path(f.path).name: f.reason for f in engine.status().failed} == failed
    (root / "locked.txt").chmod(0o644) if POSIX else None
    assert vector_faults(tmp_path / "lib", images=True) == []
    print("\n" + "\n".join(f"{n!r:40.40} {o}" for n, o in sorted(outcome.items())))


def test_a_file_changing_while_it_is_read_converges_on_its_final_content(tmp_path, monkeypatch):
    """The file is rewritten between its hash and its reading (a save in progress): the run
    stores what it read, and the next run, seeing a new stamp, reads the final content."""
    from engine import extract

    root = tmp_path / "docs"
    root.mkdir()
    target = root / "spec.txt"
    target.write_text("draft version coolant", encoding="utf-8")
    real = extract.extract_document

    def rewrite_then_read(path, *a, **k):
        if path.name == "spec.txt" and "final" not in path.read_text(encoding="utf-8"):
            path.write_text("final version impeller", encoding="utf-8")
            os.utime(path, ns=(1, 3_000_000_000_000_000_000))
        return real(path, *a, **k)

    monkeypatch.setattr(extract, "extract_document", rewrite_then_read)
    with open_engine(tmp_path) as engine:
        engine.index([root])
        engine.index()
        assert [Path(h.path).name for h in engine.search("impeller").hits] == ["spec.txt"]
        assert not engine.search("coolant").hits
    assert vector_faults(tmp_path / "lib") == []


@pytest.mark.skipif(sys.platform != "linux", reason="a writer thread truncating a PDF in place")
def test_a_pdf_truncated_while_it_is_read_is_recorded_or_indexed_never_fatal(tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    big = root / "big.pdf"
    big.write_bytes(pdf_bytes(pages=200))
    (root / "z.txt").write_text("after it SUS304", encoding="utf-8")
    stop = threading.Event()

    def truncate_soon():
        stop.wait(0.02)
        with open(big, "r+b") as fh:
            fh.truncate(big.stat().st_size // 3)

    writer = threading.Thread(target=truncate_soon)
    with open_engine(tmp_path) as engine:
        writer.start()
        report = engine.index([root])
        writer.join()
        assert engine.search("SUS304").hits and not report.cancelled
        again = engine.index()  # the truncated file, as it is now: indexed or failed with a reason
        failed = {Path(f.path).name: f.reason for f in engine.status().failed}
        assert "big.pdf" in failed or again.updated + report.added >= 1
    assert vector_faults(tmp_path / "lib") == []


# -- property-based fuzz --------------------------------------------------------------------
FUZZ = int(os.environ.get("ZUMEN_FUZZ_EXAMPLES", "150"))  # more in a long run
SEEDS = {".pdf": pdf_bytes(pages=2), ".png": png(), ".tif": tiff("L", 2), ".txt": "部品 S45C".encode()}
_SUFFIXES = sorted(SUPPORTED_SUFFIXES)


def _check(tmp_path: Path, suffix: str, data: bytes) -> None:
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    try:
        doc = extract_document(path)
    except ExtractionError as exc:
        assert exc.reason and "unexpected" not in exc.reason, exc.reason
    else:
        assert all(p.page_no >= 1 for p in doc.pages)


@settings(max_examples=FUZZ, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(suffix=st.sampled_from(_SUFFIXES), data=st.binary(max_size=2000))
def test_fuzz_any_bytes_under_any_name(tmp_path, suffix, data):
    _check(tmp_path, suffix, data)


@settings(max_examples=FUZZ, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(sorted(SEEDS)), flips=st.lists(
    st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=12),
    cut=st.floats(0.05, 1.0))
def test_fuzz_damaged_valid_files(tmp_path, seed, flips, cut):
    data = bytearray(SEEDS[seed])
    for where, value in flips:
        data[int(where * len(data))] = value
    _check(tmp_path, seed, bytes(data[:max(1, int(len(data) * cut))]))
