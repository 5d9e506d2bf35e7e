"""Text-like files -> pages: .txt/.md (one page), .csv/.xlsx (one page per data row), .docx.

A CSV or spreadsheet row becomes "Header: value | Header: value", so a BOM line or an
inspection record is found by any of its fields and shows up as its own hit ("row 12").
Files from Japanese Windows machines are often Shift_JIS (cp932); decoding tries UTF-8 (with
or without BOM) first, then cp932, and says so in a warning if it had to replace characters.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import zipfile
from pathlib import Path
from typing import Iterable, Sequence

from engine.errors import ExtractionError
from engine.types import ExtractedDocument, PageContent

from .layout import nfkc

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".mdwn", ".mkd"})  # .mdwn: ikiwiki, Gitit
TEXT_SUFFIXES = frozenset({".txt"}) | MARKDOWN_SUFFIXES
TABLE_SUFFIXES = frozenset({".csv", ".xlsx"})
DOCX_SUFFIXES = frozenset({".docx"})
ENCODINGS = ("utf-8-sig", "cp932")
MAX_TEXT_BYTES = 50_000_000


def decode_bytes(data: bytes) -> tuple[str, str | None]:
    """(text, warning): UTF-8 (BOM or not), then cp932 (Shift_JIS superset), then UTF-16 with BOM;
    as a last resort UTF-8 with replacement characters and a warning."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), None
    for enc in ENCODINGS:
        try:
            return data.decode(enc), None
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace"), "unknown text encoding; some characters were replaced"


def _read_text_file(path: Path) -> tuple[str, list[str]]:
    data = path.read_bytes()
    if len(data) > MAX_TEXT_BYTES:
        raise ExtractionError(path, f"the text file is too large ({len(data):,} bytes)")
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ExtractionError(path, "this is a binary file, not text")
    text, warning = decode_bytes(data)
    return nfkc(text.replace("\r\n", "\n").replace("\r", "\n")), [warning] if warning else []


def extract_plain(path: Path) -> ExtractedDocument:
    """.txt / .md: one page; a Markdown file's first "# heading" is its title."""
    text, warnings = _read_text_file(path)
    fmt = "markdown" if path.suffix.lower() in MARKDOWN_SUFFIXES else "text"
    title = path.stem
    if fmt == "markdown":
        for line in text.splitlines():
            if line.startswith("# "):
                title = line[2:].strip() or title
                break
    page = PageContent(page_no=1, text=text.strip(), source="plain")
    return ExtractedDocument(path=path, format=fmt, kind="document", title=title, pages=(page,),
                             warnings=tuple(warnings))


def row_text(header: Sequence[str], row: Sequence[object]) -> str:
    """"Header: value | Header: value"; empty cells are left out."""
    parts = []
    for i, value in enumerate(row):
        value = _cell(value)
        if not value:
            continue
        name = header[i] if i < len(header) and header[i] else f"Column {i + 1}"
        parts.append(f"{name}: {value}")
    return " | ".join(parts)


def _table_doc(path: Path, fmt: str, rows: Iterable[tuple[str, Sequence[object]]],
               warnings: list[str]) -> ExtractedDocument:
    """rows: (label prefix, cells) with the header as the first row of each table."""
    pages: list[PageContent] = []
    header: list[str] = []
    current: object = object()  # no table yet
    for table, cells in rows:
        if table != current:  # first non-empty row of a table (a CSV, or one XLSX sheet) is its header
            current, header = table, [_cell(c) for c in cells]
            continue
        text = row_text(header, cells)
        if text:
            prefix = f"{table} | " if table else ""
            pages.append(PageContent(page_no=len(pages) + 1, text=nfkc(prefix + text), source="plain"))
    if not pages:
        warnings.append("the table has a header but no data rows")
        pages.append(PageContent(page_no=1, text=nfkc(" | ".join(h for h in header if h)), source="plain"))
    return ExtractedDocument(path=path, format=fmt, kind="document", title=path.stem,
                             pages=tuple(pages), warnings=tuple(warnings))


def extract_csv(path: Path) -> ExtractedDocument:
    text, warnings = _read_text_file(path)
    sample = text[:20_000]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows = ((None, row) for row in reader if any(c.strip() for c in row))
    try:
        return _table_doc(path, "csv", rows, warnings)
    except csv.Error as exc:
        raise ExtractionError(path, f"the CSV file is malformed ({exc})") from None


MAX_UNPACKED_BYTES = 300_000_000  # a .docx/.xlsx that unpacks to more is refused (zip bomb)


def check_zip(path: Path, kind: str) -> None:
    """Refuse an Office file that is no zip, or would unpack to more than MAX_UNPACKED_BYTES
    (the sizes are read from the zip directory; nothing is unpacked)."""
    try:
        with zipfile.ZipFile(path) as zf:
            unpacked = sum(i.file_size for i in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ExtractionError(path, f"not a readable {kind}: the file is damaged or is not "
                                    f"{'.xlsx' if 'Excel' in kind else '.docx'} "
                                    f"({type(exc).__name__})") from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise ExtractionError(path, f"the {kind} would unpack to {unpacked / 1e6:,.0f} MB "
                                    f"(limit {MAX_UNPACKED_BYTES / 1e6:,.0f} MB): a decompression "
                                    "bomb, or too large to read safely")


def extract_xlsx(path: Path) -> ExtractedDocument:
    import openpyxl

    check_zip(path, "Excel workbook")
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise ExtractionError(path, f"not a readable Excel workbook: the file is damaged or is "
                                    f"not .xlsx ({type(exc).__name__})") from None
    except Exception as exc:  # openpyxl's InvalidFileException and parse errors
        raise ExtractionError(path, f"not a readable Excel workbook ({exc})") from None
    try:
        multi = len(wb.sheetnames) > 1

        def rows():
            for ws in wb.worksheets:
                label = ws.title if multi else None
                for row in ws.iter_rows(values_only=True):
                    if any(_cell(c) for c in row):
                        yield (label or "", row) if multi else (None, row)

        return _table_doc(path, "xlsx", rows(), [])
    finally:
        wb.close()


def extract_docx(path: Path) -> ExtractedDocument:
    """Paragraphs and tables in body order; a table row becomes "cell | cell | cell"."""
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    check_zip(path, "Word document")
    try:
        document = docx.Document(str(path))
    except (zipfile.BadZipFile, KeyError) as exc:
        raise ExtractionError(path, f"not a readable Word document: the file is damaged or is "
                                    f"not .docx ({type(exc).__name__})") from None
    except Exception as exc:
        raise ExtractionError(path, f"not a readable Word document ({exc})") from None
    lines: list[str] = []
    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            lines.append(item.text)
        elif isinstance(item, Table):
            for row in item.rows:
                cells = []
                for cell in row.cells:  # merged cells repeat; keep each text once per row
                    t = cell.text.strip()
                    if t and (not cells or cells[-1] != t):
                        cells.append(t)
                lines.append(" | ".join(cells))
    text = nfkc("\n".join(lines)).strip()
    title = nfkc(document.core_properties.title or "").strip() or path.stem
    page = PageContent(page_no=1, text=text, source="plain")
    return ExtractedDocument(path=path, format="docx", kind="document", title=title, pages=(page,))


def _cell(value: object) -> str:
    """A spreadsheet cell as text: 12.0 -> "12", dates ISO, None -> ""."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    return str(value).strip()
