"""engine.extract without a real OCR model: PDF text layer (golden), images, tables, documents,
broken files. Inputs are generated in tmp_path with PyMuPDF / Pillow / openpyxl / python-docx."""

from __future__ import annotations

import io

import numpy as np
import pymupdf
import pytest
from PIL import Image, ImageDraw

from engine.config import EngineSettings
from engine.errors import ExtractionError, UnsupportedFileError
from engine.extract.kind import MAX_DRAWING_CHARS
from engine.extract import (SUPPORTED_SUFFIXES, PageStats, classify_kind, extract_document, page_stats,
                            render_page)
from engine.extract.layout import split_word, words_to_text
from engine.extract.ocr import normalize_chars, respace_letter_spaced
from engine.types import Box, Word


class FakeOcr:
    """Deterministic stand-in: one word naming the image size it was given."""

    name = "fake"

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def read(self, image: Image.Image) -> list[Word]:
        self.calls.append(image.size)
        return [Word(f"size{image.width}x{image.height}", Box(0.1, 0.1, 0.5, 0.2), 0.99)]

    def read_upright(self, image: Image.Image) -> tuple[list[Word], int]:
        return self.read(image), 0


def _page_data(doc) -> list[dict]:
    """Extraction output in a stable JSON shape, boxes rounded to 3 decimals."""
    return [{"page": p.page_no, "text": p.text, "source": p.source, "rotation": p.rotation,
             "visual": p.visual, "size": [round(p.width, 1), round(p.height, 1)],
             "words": [[w.text, [round(v, 3) for v in (w.box.x0, w.box.y0, w.box.x1, w.box.y1)]]
                       for w in p.words]} for p in doc.pages]


def _spec_pdf(path):
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_text((60, 80), "加工仕様書　品番 １２５８－Ｂ２Ｐ", fontname="japan", fontsize=14)
    page.insert_text((60, 110), "材質 S45C 焼入れ焼戻し HRC40-45", fontname="japan", fontsize=11)
    page.insert_text((60, 140), "Heat treatment: quench and temper, then grind.", fontname="helv", fontsize=11)
    side = doc.new_page(width=595, height=842)
    side.insert_text((60, 80), "Inspection report 1258-B2P", fontname="helv", fontsize=12)
    side.set_rotation(90)
    doc.set_metadata({"title": "シャフト加工仕様書"})
    doc.save(path)


def test_pdf_text_layer_golden(tmp_path, golden):
    path = tmp_path / "spec.pdf"
    _spec_pdf(path)
    doc = extract_document(path)
    assert doc.format == "pdf" and doc.kind == "document" and doc.title == "シャフト加工仕様書"
    assert "品番 1258-B2P" in doc.pages[0].text  # full-width letters/digits -> ASCII (NFKC)
    golden("extract/pdf_text_layer", {"kind": doc.kind, "title": doc.title, "pages": _page_data(doc)})


def test_pdf_rotated_page_boxes_match_the_render(tmp_path):
    path = tmp_path / "spec.pdf"
    _spec_pdf(path)
    page = extract_document(path).pages[1]
    assert (page.width, page.height) == (842, 595)  # displayed, landscape
    img = np.asarray(render_page(path, 2, dpi=72, grayscale=True))  # (595, 842)
    h, w = img.shape
    for word in page.words:
        b = word.box
        assert b.y1 - b.y0 > b.x1 - b.x0  # the text runs top to bottom on the turned page
        inside = img[int(b.y0 * h):int(b.y1 * h) + 1, int(b.x0 * w):int(b.x1 * w) + 1]
        assert inside.min() < 100, word.text  # there is ink where the box says


def _drawing_pdf(path, *, scanned: bool = False):
    doc = pymupdf.open()
    page = doc.new_page(width=1191, height=842)
    if scanned:
        im = Image.new("RGB", (1191, 842), "white")
        ImageDraw.Draw(im).rectangle((100, 100, 900, 600), outline="black", width=4)
        buf = io.BytesIO()
        im.save(buf, "PNG")
        page.insert_image(page.rect, stream=buf.getvalue())
    else:
        page.draw_rect(pymupdf.Rect(20, 20, 1171, 822))
        for i in range(50):  # section hatching at 45 degrees
            page.draw_line((100 + 10 * i, 200), (160 + 10 * i, 260), width=0.5)
        page.draw_circle((400, 400), 80)  # a bore
        for y in range(672, 822, 30):  # title block grid
            page.draw_line((771, y), (1171, y))
        page.insert_text((780, 692), "図番 1258-B2P", fontname="japan", fontsize=10)
        page.insert_text((780, 722), "材質 S45C", fontname="japan", fontsize=10)
    doc.save(path)


def test_kind_vector_drawing_vs_document(tmp_path):
    _drawing_pdf(tmp_path / "d.pdf")
    _spec_pdf(tmp_path / "s.pdf")
    drawing = extract_document(tmp_path / "d.pdf")
    assert drawing.kind == "drawing"
    assert drawing.pages[0].visual and drawing.pages[0].source == "text-layer"
    assert extract_document(tmp_path / "s.pdf").kind == "document"


def test_classify_kind_rule():
    prose = PageStats(chars=3000, long_lines=40, line_art=10)
    vector = PageStats(chars=200, long_lines=1, line_art=400)
    scan = PageStats(chars=0, picture_cover=1.0)
    assert classify_kind([vector]) == "drawing" and classify_kind([scan]) == "drawing"
    assert classify_kind([prose]) == "document" and classify_kind([]) == "document"
    assert classify_kind([prose, prose, vector]) == "document"


def test_classify_kind_schematics_and_large_sheets_are_drawings():
    # a schematic: thousands of characters, but as scattered one-word labels among wires
    schematic = page_stats("\n".join(["VCC", "GND", "R12 10k", "U3"] * 250), line_art=1480)
    assert schematic.chars > MAX_DRAWING_CHARS and classify_kind([schematic]) == "drawing"
    # an A0 sheet (8 A4 pages of area) with 24 lines of notes and a title block
    notes = "\n".join(["NOTE: ALL DIMENSIONS IN MILLIMETRES UNLESS OTHERWISE STATED"] * 24)
    a0 = page_stats(notes, line_art=3500, area_pt2=2384 * 1684)
    assert classify_kind([a0]) == "drawing"
    assert classify_kind([page_stats(notes, line_art=3500)]) == "document"  # the same on A4
    # a CAD export with outlined text, read by OCR into long lines: the strokes decide
    ocr_lines = "\n".join(["PIN1 2.00 0.25 1.2 CONTACT: COPPER ALLOY(BRASS) TERMINAL"] * 12)
    assert classify_kind([page_stats(ocr_lines, line_art=1856, text_layer=False)]) == "drawing"
    assert classify_kind([page_stats(ocr_lines, line_art=1856)]) == "document"  # a real text layer
    # a parts list: short cells in a grid of axis-aligned lines, no shaped strokes
    table = page_stats("\n".join(["1 | R1 | 10k | 0603"] * 300), line_art=0)
    assert classify_kind([table]) == "document"


def test_scanned_pdf_page_goes_to_ocr(tmp_path):
    path = tmp_path / "scan.pdf"
    _drawing_pdf(path, scanned=True)
    assert extract_document(path).pages[0].source == "none"  # no OCR engine given
    ocr = FakeOcr()
    doc = extract_document(path, EngineSettings(render_dpi=100), ocr=ocr)
    page = doc.pages[0]
    assert page.source == "ocr" and page.visual and doc.kind == "drawing"
    assert ocr.calls == [(1655, 1170)]  # A3 rendered at render_dpi
    assert page.text == "size1655x1170"


def test_multipage_tiff(tmp_path):
    path = tmp_path / "scan.tif"
    frames = [Image.new("RGB", (300 + 10 * i, 200), "white") for i in range(3)]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    ocr = FakeOcr()
    doc = extract_document(path, ocr=ocr)
    assert doc.format == "image" and doc.kind == "drawing" and len(doc.pages) == 3
    assert [p.text for p in doc.pages] == ["size300x200", "size310x200", "size320x200"]
    assert all(p.visual and p.source == "ocr" for p in doc.pages)
    assert render_page(path, 3).size == (320, 200)
    with pytest.raises(ExtractionError, match="page 4 does not exist"):
        render_page(path, 4)


def test_exif_rotated_jpeg_is_read_upright(tmp_path):
    path = tmp_path / "photo.jpg"
    im = Image.new("RGB", (200, 100), "white")
    ImageDraw.Draw(im).rectangle((0, 0, 20, 20), fill="black")  # mark the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    im.save(path, exif=exif, quality=95)
    ocr = FakeOcr()
    page = extract_document(path, ocr=ocr).pages[0]
    assert ocr.calls == [(100, 200)] and (page.width, page.height) == (100, 200)
    shown = np.asarray(render_page(path, 1, grayscale=True))
    assert shown.shape == (200, 100)
    assert shown[:20, -20:].mean() < 60 and shown[:20, :20].mean() > 200  # mark now top-right


def test_image_over_pixel_limit(tmp_path):
    path = tmp_path / "huge.png"
    Image.new("L", (400, 300), 255).save(path)
    with pytest.raises(ExtractionError, match="too large"):
        extract_document(path, EngineSettings(max_image_bytes=100_000))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_csv_rows_become_pages(tmp_path, encoding):
    path = tmp_path / "部品表.csv"
    text = "品番,品名,材質,数量\n1258-B2P,シャフト,S45C,2\n\n1259-A1P,カバー,ＳＵＳ３０４,\n"
    path.write_bytes(text.encode(encoding))
    doc = extract_document(path)
    assert doc.format == "csv" and doc.kind == "document" and doc.title == "部品表"
    assert [p.text for p in doc.pages] == [
        "品番: 1258-B2P | 品名: シャフト | 材質: S45C | 数量: 2",
        "品番: 1259-A1P | 品名: カバー | 材質: SUS304",
    ]


def test_csv_semicolon_delimiter(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_text("part;name\n1002-A2P;Front Panel\n", encoding="utf-8")
    assert extract_document(path).pages[0].text == "part: 1002-A2P | name: Front Panel"


def test_xlsx_rows_become_pages(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["品番", "材質", "数量"])
    ws.append(["1258-B2P", "S45C", 2.0])
    ws.append([None, None, None])
    ws.append(["1259-A1P", "A5052", 10])
    path = tmp_path / "bom.xlsx"
    wb.save(path)
    doc = extract_document(path)
    assert doc.format == "xlsx"
    assert [p.text for p in doc.pages] == ["品番: 1258-B2P | 材質: S45C | 数量: 2",
                                           "品番: 1259-A1P | 材質: A5052 | 数量: 10"]


def test_docx_paragraphs_and_tables_in_order(tmp_path):
    import docx

    d = docx.Document()
    d.core_properties.title = "工程表"
    d.add_heading("加工工程 1258-B2P", level=1)
    table = d.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "工程", "内容"
    table.cell(1, 0).text, table.cell(1, 1).text = "10", "焼入れ"
    d.add_paragraph("検査は全数とする。")
    path = tmp_path / "process.docx"
    d.save(path)
    doc = extract_document(path)
    assert doc.title == "工程表" and len(doc.pages) == 1
    assert doc.pages[0].text == "加工工程 1258-B2P\n工程 | 内容\n10 | 焼入れ\n検査は全数とする。"


def test_text_and_markdown(tmp_path):
    (tmp_path / "memo.txt").write_bytes("焼入れ　ＨＲＣ４０\r\n".encode("cp932"))
    doc = extract_document(tmp_path / "memo.txt")
    assert doc.pages[0].text == "焼入れ HRC40" and doc.format == "text"
    (tmp_path / "note.md").write_text("# Shaft notes\n\nS45C", encoding="utf-8")
    md = extract_document(tmp_path / "note.md")
    assert md.title == "Shaft notes" and md.format == "markdown"
    card = render_page(tmp_path / "note.md", 1, dpi=50)  # short text: a card cut to its length
    assert card.size[0] == 292 and 150 <= card.size[1] < 585


def _encrypted_pdf(path):
    doc = pymupdf.open()
    doc.new_page().insert_text((50, 50), "secret")
    doc.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="pw", owner_pw="owner")


def _truncated_pdf(path):
    doc = pymupdf.open()
    doc.new_page().insert_text((50, 50), "hello")
    data = doc.tobytes()
    path.write_bytes(data[:60])


@pytest.mark.parametrize("name, make, reason", [
    ("empty.pdf", lambda p: p.write_bytes(b""), "empty"),
    ("empty.png", lambda p: p.write_bytes(b""), "empty"),
    ("junk.pdf", lambda p: p.write_bytes(b"this is not a pdf at all" * 10), "not a PDF file"),
    ("secret.pdf", _encrypted_pdf, "password-protected"),
    ("cut.pdf", _truncated_pdf, "incomplete \\(truncated"),
    ("junk.png", lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 50), "not a readable image"),
    ("junk.xlsx", lambda p: p.write_bytes(b"PK\x03\x04 broken"), "Excel"),
    ("junk.docx", lambda p: p.write_bytes(b"not a zip"), "Word"),
])
def test_broken_files_raise_extraction_error(tmp_path, name, make, reason):
    path = tmp_path / name
    make(path)
    with pytest.raises(ExtractionError, match=reason) as err:
        extract_document(path)
    assert err.value.path == str(path) and "Traceback" not in str(err.value)


def test_truncated_jpeg_raises(tmp_path):
    path = tmp_path / "cut.jpg"
    buf = io.BytesIO()
    Image.effect_noise((400, 300), 60).convert("RGB").save(buf, "JPEG")
    path.write_bytes(buf.getvalue()[:2000])
    with pytest.raises(ExtractionError, match="damaged or truncated"):
        extract_document(path)


def test_unsupported_and_missing(tmp_path):
    (tmp_path / "a.dwg").write_bytes(b"AC1027")
    with pytest.raises(UnsupportedFileError):
        extract_document(tmp_path / "a.dwg")
    with pytest.raises(ExtractionError, match="does not exist"):
        extract_document(tmp_path / "gone.pdf")
    assert {".pdf", ".png", ".tiff", ".csv", ".xlsx", ".docx", ".md"} <= SUPPORTED_SUFFIXES


def test_each_file_type_has_exactly_its_reader(tmp_path):
    """Readers come from one suffix -> reader table; a type outside it is refused before anything
    reads it (an if-chain used to send every type it did not name to the DOCX reader)."""
    from engine.extract import EXTRACTORS, render_page, reader_for

    assert set(EXTRACTORS) == SUPPORTED_SUFFIXES
    names = {suffix: EXTRACTORS[suffix].__name__ for suffix in SUPPORTED_SUFFIXES}
    assert [s for s, n in names.items() if n == "extract_docx"] == [".docx"]
    assert (names[".pdf"], names[".png"], names[".md"], names[".csv"], names[".xlsx"]) == (
        "extract_pdf", "extract_image", "extract_plain", "extract_csv", "extract_xlsx")
    assert reader_for(tmp_path / "A.PDF") is EXTRACTORS[".pdf"]
    legacy = tmp_path / "spec.doc"
    legacy.write_bytes(b"\xd0\xcf\x11\xe0 an OLE2 Word 97 file")
    for call in (lambda: extract_document(legacy), lambda: render_page(legacy, 1)):
        with pytest.raises(UnsupportedFileError, match="files of type '.doc' are not supported"):
            call()


def test_layout_helpers():
    words = split_word("仕様\u3000ＳＵＳ３０４", Box(0.0, 0.0, 0.9, 0.1))
    assert [w.text for w in words] == ["仕様", "SUS304"]
    assert words[1].box.x0 == pytest.approx(0.3)
    a, b, c = (Word(t, Box(x, y, x + 0.1, y + 0.02)) for t, x, y in
               (("材質", 0.1, 0.1), ("S45C", 0.3, 0.101), ("注記", 0.1, 0.2)))
    assert words_to_text([a, b, c]) == "材質 S45C\n注記"


def test_letter_spaced_latin_is_rejoined():
    text = "Sur f a ce f i ni s h"  # full-width Latin: the recogniser puts spaces at random
    pitch, pos, k = 0.04, [], 0
    for ch in text:  # letters at a steady pitch, one extra pitch at the real word break
        x = pitch * (k + (k >= 7))  # letter k; "finish" starts at k = 7
        pos.append(x - pitch / 2 if ch == " " else x)
        k += ch != " "
    chars, p = normalize_chars(text, tuple(pos))
    out, _ = respace_letter_spaced(chars, p, aspect=16.0)  # pitch = 0.64 line heights
    assert "".join(out) == "Surface finish"
    chars, p = normalize_chars("Bolt M8", tuple(i * 0.1 for i in range(7)))
    assert "".join(respace_letter_spaced(chars, p, aspect=4.0)[0]) == "Bolt M8"  # proportional: kept


class BrokenOcr(FakeOcr):
    def read_upright(self, image):
        raise RuntimeError("onnxruntime: out of memory")


def test_ocr_failure_keeps_the_page_and_warns(tmp_path):
    path = tmp_path / "scan.pdf"
    _drawing_pdf(path, scanned=True)
    doc = extract_document(path, ocr=BrokenOcr())
    assert doc.pages[0].source == "none" and doc.pages[0].visual
    assert doc.warnings == ("page 1: OCR failed (onnxruntime: out of memory)",)
    Image.new("RGB", (50, 40), "white").save(tmp_path / "a.png")
    img = extract_document(tmp_path / "a.png", ocr=BrokenOcr())
    assert img.pages[0].source == "none" and "OCR failed" in img.warnings[0]


@pytest.mark.parametrize("meta, expected", [("Microsoft Word - spec.docx", "file"), ("untitled", "file"),
                                            ("Ｓ４５Ｃ 仕様", "S45C 仕様")])
def test_pdf_title_ignores_placeholders(tmp_path, meta, expected):
    doc = pymupdf.open()
    doc.new_page().insert_text((50, 50), "text")
    doc.set_metadata({"title": meta})
    doc.save(tmp_path / "file.pdf")
    assert extract_document(tmp_path / "file.pdf").title == expected


def test_table_grid_documents_are_not_drawings(tmp_path):
    """A spec sheet with a ruled table has many straight lines but is a document; a drawing has
    curves and slanted strokes."""
    import pymupdf

    from engine.extract import extract_document

    doc = pymupdf.open()
    page = doc.new_page()
    for r in range(30):  # a ruled inspection table
        page.draw_line((40, 100 + 20 * r), (560, 100 + 20 * r))
    for c in range(7):
        page.draw_line((40 + 86 * c, 100), (40 + 86 * c, 680))
    page.insert_text((50, 80), "Inspection report ZM-1258-B2P", fontsize=12)
    doc.save(tmp_path / "table.pdf")
    assert extract_document(tmp_path / "table.pdf").kind == "document"

    doc = pymupdf.open()
    page = doc.new_page(width=842, height=595)
    for i in range(12):
        page.draw_circle((300, 300), 20 + 8 * i)
        page.draw_line((100 + 10 * i, 100), (160 + 10 * i, 160))  # hatching
    page.insert_text((600, 550), "PART NO. ZM-1258-B2P", fontsize=10)
    doc.save(tmp_path / "drawing.pdf")
    assert extract_document(tmp_path / "drawing.pdf").kind == "drawing"


def test_a_huge_cad_sheet_renders_downscaled_instead_of_failing(tmp_path):
    from engine.extract.pdf import MAX_RENDER_SIDE_PX

    path = tmp_path / "huge.pdf"
    doc = pymupdf.open()
    page = doc.new_page(width=307 * 72, height=220 * 72)  # a 307 x 220 inch sheet
    page.draw_circle((11000, 8000), 3000)
    doc.save(path)
    image = render_page(path, 1, dpi=150, grayscale=True)  # 817 megapixels at 150 dpi
    assert max(image.size) <= MAX_RENDER_SIDE_PX and min(image.size) > 1000
